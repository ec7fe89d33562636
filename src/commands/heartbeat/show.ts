import { SkypgCommand, clusterFlags, type CommandResult } from '../../lib/cli/base-command.js';
import type { HeartbeatView } from '../../lib/heartbeat/table.js';

export default class HeartbeatShow extends SkypgCommand<HeartbeatView> {
  static override summary = 'Show the heartbeat row on this node and how old it is.';
  static override description =
    "On a standby the age is measured on each host's own clock, so clock skew between the hosts " +
    'does not distort it (docs/monitoring.md, "Heartbeat age").';
  static override examples = ['<%= config.bin %> heartbeat show --node host2 --json'];
  static override flags = clusterFlags;

  protected async execute(): Promise<CommandResult<HeartbeatView>> {
    const { flags } = await this.parse(HeartbeatShow);
    const cluster = await this.loadCluster(flags);
    const { showHeartbeat } = await import('../../lib/heartbeat/beat.js');
    const { formatHeartbeatView } = await import('../../lib/status/heartbeat-render.js');
    const view = await showHeartbeat(cluster.config, cluster.localNode());
    return { data: view, text: formatHeartbeatView(view) };
  }
}
