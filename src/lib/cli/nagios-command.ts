// Base of the Nagios/NRPE checks: one status line on stdout (Nagios ignores stderr), and every
// error, including bad arguments, is UNKNOWN (exit 3) as the Monitoring Plugins rules say.
import { Flags } from '@oclif/core';
import { SkypgCommand, clusterFlags } from './base-command.js';
import type { SkypgError } from '../common/errors.js';
import { NagiosCode } from '../common/exit-codes.js';

/** --config and --node as elsewhere, but --config has no -c: in a check, -c is --critical. */
export const checkClusterFlags = {
  config: Flags.string({
    summary: clusterFlags.config.summary,
    description: clusterFlags.config.description,
    helpValue: 'FILE',
  }),
  node: clusterFlags.node,
};

export abstract class NagiosCommand<T extends object> extends SkypgCommand<T> {
  /** The service label at the start of the line, e.g. SKYPG_LAG. */
  protected abstract readonly label: string;
  protected override usageExitCode: number = NagiosCode.unknown;
  protected override failureExitCode: number = NagiosCode.unknown;

  protected override reportError(error: SkypgError): void {
    const hint = error.hint === undefined ? '' : ` (hint: ${error.hint})`;
    const text = `${error.message}${hint}`.replaceAll('\n', ' ').replaceAll('|', '/');
    process.stdout.write(`${this.label} UNKNOWN - ${text}\n`);
    for (const line of error.details) process.stderr.write(`${line}\n`);
  }
}
