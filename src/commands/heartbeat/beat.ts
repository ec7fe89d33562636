import { SkypgCommand, clusterFlags, type CommandResult } from '../../lib/cli/base-command.js';
import type { BeatResult } from '../../lib/heartbeat/beat.js';
import { ExitCode } from '../../lib/common/exit-codes.js';

export default class HeartbeatBeat extends SkypgCommand<BeatResult> {
  static override summary =
    'Write one heartbeat: last_alive = now() and the standby lag (on the primary).';
  static override description =
    'On a standby it writes nothing and exits 0. With heartbeat.io_check it also proves, every ' +
    'io_check_interval, that each tablespace can be written; a failure there exits 1.';
  static override examples = ['<%= config.bin %> heartbeat beat --node host1'];
  static override flags = clusterFlags;

  protected async execute(): Promise<CommandResult<BeatResult>> {
    const { flags } = await this.parse(HeartbeatBeat);
    const cluster = await this.loadCluster(flags);
    const { beat } = await import('../../lib/heartbeat/beat.js');
    const { formatBeat } = await import('../../lib/status/heartbeat-render.js');
    const result = await beat(cluster.config, cluster.localNode());
    const ioFailed = result.written && result.row.ioError !== undefined;
    return {
      data: result,
      text: formatBeat(result),
      exitCode: ioFailed ? ExitCode.error : ExitCode.ok,
    };
  }
}
