import { Flags } from '@oclif/core';
import { userInfo } from 'node:os';
import { SkypgCommand, clusterFlags, type CommandResult } from '../lib/cli/base-command.js';
import type { SwitchoverResult } from '../lib/actions/switchover.js';
import { durationFlag } from '../lib/cli/flag-values.js';

export default class Switchover extends SkypgCommand<SwitchoverResult> {
  static override summary =
    'Planned switchover: make this standby the primary and the old primary its standby, losing no write.';
  static override description =
    'Run it on the standby that is to become the primary. Preconditions, each checked and ' +
    'reported: this node is a streaming standby, the peer is the primary, the cluster is not ' +
    'paused, the lag is below 1MB (waited for up to --timeout). Then the supervisors are told ' +
    "(a flag in the heartbeat row; they stand aside), the old primary's supervisor drops the " +
    'primary VIP, shuts down cleanly and restarts as a standby, this node checks that it ' +
    'replayed the shutdown checkpoint, promotes itself and takes the primary VIP. A failure ' +
    'before the promotion rolls back to the old primary. docs/operations.md has the runbook.';
  static override examples = [
    '<%= config.bin %> switchover --dry-run',
    '<%= config.bin %> switchover --to host2 --timeout 30s',
  ];
  static override flags = {
    ...clusterFlags,
    to: Flags.string({
      summary: 'The node to become the primary (a check: it must be this node).',
      helpValue: 'NODE',
    }),
    'dry-run': Flags.boolean({
      summary: 'Check the preconditions and print the plan; change nothing.',
    }),
    timeout: durationFlag({
      summary:
        'How long to wait for the lag, and how long the supervisors stand aside (at most 10m).',
      default: '60s',
    }),
    force: Flags.boolean({
      summary: 'Go on when the lag stays above the bound (the standby replays the rest first).',
    }),
  };

  protected async execute(): Promise<CommandResult<SwitchoverResult>> {
    const { flags } = await this.parse(Switchover);
    const cluster = await this.loadCluster(flags);
    const { switchover } = await import('../lib/actions/switchover.js');
    const { renderSteps } = await import('../lib/actions/steps.js');
    const json = this.jsonEnabled();
    const result = await switchover(cluster.config, cluster.localNode(), {
      to: flags.to,
      dryRun: flags['dry-run'],
      timeoutMs: flags.timeout,
      force: flags.force,
      by: userInfo().username,
      onStep: (line) => {
        if (!json) this.log(`  - ${line}`);
      },
    });
    const ok = result.preconditions.every((condition) => condition.ok);
    const headline = result.dryRun
      ? `dry run: switchover from ${result.from} to ${result.to} ${ok ? 'is possible' : 'would be REFUSED'}; nothing was changed`
      : `switched over: ${result.to} is the primary (timeline ${String(result.timeline)}), ${result.from} ${result.final?.standbyStreaming === true ? 'streams from it' : 'is rejoining'}; writes refused for ${String(result.writesRefusedMs)}ms; total ${result.totalMs}ms`;
    return {
      data: result,
      text: [headline, ...renderSteps(result.steps)],
      warnings: result.warnings.map((warning) => `warning: ${warning}`),
      ...(result.dryRun && !ok ? { exitCode: 1 } : {}),
    };
  }
}
