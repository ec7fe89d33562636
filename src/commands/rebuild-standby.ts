import { Flags } from '@oclif/core';
import { SkypgCommand, clusterFlags, type CommandResult } from '../lib/cli/base-command.js';
import type { RebuildResult } from '../lib/actions/rebuild.js';
import { durationFlag } from '../lib/cli/flag-values.js';

export default class RebuildStandby extends SkypgCommand<RebuildResult> {
  static override summary =
    'Make this node a streaming standby of the current primary (pg_rewind, else pg_basebackup).';
  static override description =
    'Refuses if this node is a running primary, unless --force, and, before changing anything, if ' +
    'the OS user cannot write its data directory. Stops the local server, decides ' +
    "from the primary's timeline history and this node's last checkpoint (for a standby stopped in recovery, its minimum recovery point) whether it diverged, " +
    'and then: follows (nothing diverged), rewinds (pg_rewind), or copies a fresh data directory ' +
    '(pg_basebackup, the old one kept aside until the new one streams). Writes standby.signal and ' +
    'primary_conninfo (primary VIP, else the primary address; a passfile, never a password), ' +
    "starts, and waits until it streams on the primary's timeline.";
  static override examples = [
    '<%= config.bin %> rebuild-standby',
    '<%= config.bin %> rebuild-standby --method basebackup --keep-old',
  ];
  static override flags = {
    ...clusterFlags,
    method: Flags.string({
      options: ['auto', 'rewind', 'basebackup'],
      default: 'auto',
      summary: 'How to rebuild.',
    }),
    source: Flags.string({
      summary: 'The primary to follow (default: the other node).',
      helpValue: 'NODE',
    }),
    force: Flags.boolean({ summary: 'Rebuild even if this node is a running primary.' }),
    'keep-old': Flags.boolean({ summary: 'Keep the previous data directory after a base backup.' }),
    timeout: durationFlag({
      summary: 'How long to wait for streaming after the start.',
      default: '60s',
    }),
  };

  protected async execute(): Promise<CommandResult<RebuildResult>> {
    const { flags } = await this.parse(RebuildStandby);
    const cluster = await this.loadCluster(flags);
    const { findNode } = await import('../lib/config/local-node.js');
    const { rebuildStandby } = await import('../lib/actions/rebuild.js');
    const { renderSteps } = await import('../lib/actions/steps.js');
    const json = this.jsonEnabled();
    const result = await rebuildStandby(cluster.config, cluster.localNode(), {
      method: flags.method as 'auto' | 'rewind' | 'basebackup',
      ...(flags.source === undefined ? {} : { source: findNode(cluster.config, flags.source) }),
      force: flags.force,
      keepOld: flags['keep-old'],
      timeoutMs: flags.timeout,
      onStep: (step) => {
        if (!json) this.log(`  - ${step}`);
      },
    });
    return {
      data: result,
      text: [
        `${result.node} streams from ${result.source} on timeline ${result.timeline} (${result.method}, ${(result.totalMs / 1000).toFixed(1)}s): ${result.why}`,
        ...renderSteps(result.steps),
        ...(result.oldDataDir === undefined
          ? []
          : [`previous data directory kept at ${result.oldDataDir}`]),
      ],
    };
  }
}
