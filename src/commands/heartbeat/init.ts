import { SkypgCommand, clusterFlags, type CommandResult } from '../../lib/cli/base-command.js';
import type { HeartbeatInitResult } from '../../lib/heartbeat/init.js';

export default class HeartbeatInit extends SkypgCommand<HeartbeatInitResult> {
  static override summary =
    'Create the heartbeat role, database and one-row table (on the primary).';
  static override description =
    'Idempotent: safe to run again, and it migrates an older install. The superuser owns schema ' +
    'skypg; the role may only update the beat columns (heartbeat.monitor_user, if set, only read). ' +
    'Its password is not set here: set it, then add it to the password file (docs/monitoring.md).';
  static override examples = ['<%= config.bin %> heartbeat init --node host1'];
  static override flags = clusterFlags;

  protected async execute(): Promise<CommandResult<HeartbeatInitResult>> {
    const { flags } = await this.parse(HeartbeatInit);
    const cluster = await this.loadCluster(flags);
    const { initHeartbeat } = await import('../../lib/heartbeat/init.js');
    const result = await initHeartbeat(cluster.config, cluster.localNode());
    return {
      data: result,
      text: [`heartbeat ready on ${result.node}:`, ...result.steps.map((step) => `  - ${step}`)],
    };
  }
}
