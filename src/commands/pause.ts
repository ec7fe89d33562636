import { userInfo } from 'node:os';
import { SkypgCommand, clusterFlags, type CommandResult } from '../lib/cli/base-command.js';
import type { PauseResult } from '../lib/heartbeat/pause.js';
import { reasonFlag } from '../lib/cli/flag-values.js';

export default class Pause extends SkypgCommand<PauseResult> {
  static override summary =
    'Stop automatic failover cluster-wide (maintenance); the supervisors keep observing.';
  static override description =
    'Writes the pause flag into the heartbeat row on the primary; both supervisors read it (the ' +
    'standby from its replicated copy) and take no automatic action until `skypg resume`. ' +
    '`status` and `check-alive` (WARNING) show it. Written as postgres.superuser over TCP: the ' +
    'heartbeat role may not write it.';
  static override examples = ['<%= config.bin %> pause --reason "kernel update on host2"'];
  static override flags = {
    ...clusterFlags,
    reason: reasonFlag({
      summary: 'Who and why, shown in status and logs (one line, at most 200 characters).',
    }),
  };

  protected async execute(): Promise<CommandResult<PauseResult>> {
    const { flags } = await this.parse(Pause);
    const { reason } = flags;
    const { config } = await this.loadCluster(flags);
    const { setPause } = await import('../lib/heartbeat/pause.js');
    const by = reason === undefined ? userInfo().username : `${userInfo().username}: ${reason}`;
    const result = await setPause(config, by);
    return {
      data: result,
      text: [
        `cluster ${config.cluster} paused (flag written on ${result.writtenOn}): automatic actions stop within one loop`,
      ],
    };
  }
}
