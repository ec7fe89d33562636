import { SkypgCommand, clusterFlags, type CommandResult } from '../lib/cli/base-command.js';
import type { ClusterStatus } from '../lib/status/cluster-status.js';
import { ExitCode } from '../lib/common/exit-codes.js';
import { durationFlag } from '../lib/cli/flag-values.js';

export default class Status extends SkypgCommand<ClusterStatus> {
  static override summary =
    'The cluster at a glance: role, timeline, LSN, lag, VIPs, heartbeat and supervisor of each node.';
  static override description =
    'Queries both nodes at once over TCP (as the heartbeat user), each within --timeout, so a hung ' +
    'node shows as DOWN instead of holding up the answer. Exit 0 when both nodes answered, 2 when ' +
    'one did not. --watch repeats every DURATION (a bare number is seconds, at least 1s) until ' +
    'interrupted.';
  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status --json',
    '<%= config.bin %> status --watch 2',
  ];
  static override flags = {
    ...clusterFlags,
    timeout: durationFlag({ summary: 'Per-node time limit.', default: '2s' }),
    watch: durationFlag({
      summary: 'Repeat every DURATION until interrupted (a bare number is seconds).',
      minMs: 1000,
      bareSeconds: true,
    }),
  };

  protected async execute(): Promise<CommandResult<ClusterStatus>> {
    const { flags } = await this.parse(Status);
    const { readClusterStatus } = await import('../lib/status/cluster-status.js');
    const { renderClusterStatus } = await import('../lib/status/cluster-status-render.js');
    const { timeout: timeoutMs, watch: watchMs } = flags;
    const cluster = await this.loadCluster(flags);
    const { config } = cluster;
    // --node names no node status acts on, but a name that is not configured is still a mistake.
    if (flags.node !== undefined) cluster.localNode();
    const painter = await this.painter();
    let status = await readClusterStatus(config, timeoutMs);
    if (watchMs !== undefined && !this.jsonEnabled()) {
      const { repeatUntilInterrupted } = await import('../lib/cli/repeat.js');
      await repeatUntilInterrupted(watchMs, async () => {
        status = await readClusterStatus(config, timeoutMs);
        if (process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
        this.log(renderClusterStatus(status, painter).join('\n'));
      });
      return { data: status };
    }
    const healthy = status.nodes.every((node) => node.reachable);
    return {
      data: status,
      text: renderClusterStatus(status, painter),
      exitCode: healthy ? ExitCode.ok : ExitCode.negative,
    };
  }

  /** Colors only on a terminal; chalk is loaded only then. */
  private async painter() {
    const { plainPainter } = await import('../lib/status/cluster-status-render.js');
    if (!process.stdout.isTTY || this.jsonEnabled()) return plainPainter;
    const { default: chalk } = await import('chalk');
    return { good: chalk.green, warn: chalk.yellow, bad: chalk.red, dim: chalk.dim };
  }
}
