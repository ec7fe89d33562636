import { Flags } from '@oclif/core';
import { SkypgCommand, clusterFlags, type CommandResult } from '../lib/cli/base-command.js';
import type { PromoteResult } from '../lib/actions/promote.js';

export default class Promote extends SkypgCommand<PromoteResult> {
  static override summary =
    'Promote this standby to primary, once the old primary is proven unable to write, and move the VIPs.';
  static override description =
    'Preconditions, each checked and reported: this node is a running standby; the old primary ' +
    'cannot write (fencing: required: it is fenced off by this command, or already OFF; ' +
    'fencing: none: it answers as a standby or not at all); the lag is within failover.max_lag; ' +
    'the OS user can write the data directory and pg_wal, which has room for two WAL segments. ' +
    'Then pg_promote(), drop the standby VIP, take the primary VIP. On a node that is already ' +
    'primary it only ensures the VIPs. --dry-run prints the plan and changes nothing.';
  static override examples = ['<%= config.bin %> promote --dry-run', '<%= config.bin %> promote'];
  static override flags = {
    ...clusterFlags,
    'dry-run': Flags.boolean({
      summary: 'Check the preconditions and print the plan; change nothing.',
    }),
    'ignore-lag': Flags.boolean({
      summary: 'Promote even if the lag is above failover.max_lag (may lose writes).',
    }),
    force: Flags.boolean({
      summary: 'Promote without proof that the old primary is down (may cause two primaries).',
    }),
  };

  protected async execute(): Promise<CommandResult<PromoteResult>> {
    const { flags } = await this.parse(Promote);
    const cluster = await this.loadCluster(flags);
    const { promote } = await import('../lib/actions/promote.js');
    const { renderSteps } = await import('../lib/actions/steps.js');
    const json = this.jsonEnabled();
    const result = await promote(cluster.config, cluster.localNode(), {
      dryRun: flags['dry-run'],
      ignoreLag: flags['ignore-lag'],
      force: flags.force,
      onStep: (step) => {
        if (!json) this.log(`  - ${step}`);
      },
    });
    const checks = result.preconditions.map(
      (condition) => `${condition.ok ? 'ok  ' : 'FAIL'} ${condition.check}: ${condition.detail}`,
    );
    const headline = result.dryRun
      ? `dry run: ${result.node} ${result.preconditions.every((condition) => condition.ok) ? 'can be promoted' : 'would NOT be promoted'}; nothing was changed`
      : result.alreadyPrimary
        ? `${result.node} is already the primary (timeline ${String(result.timeline)}); VIPs ensured`
        : `${result.node} is now the primary on timeline ${String(result.timeline)}`;
    return {
      data: result,
      text: [headline, ...checks, ...renderSteps(result.steps)],
      warnings: result.warnings.map((warning) => `warning: ${warning}`),
    };
  }
}
