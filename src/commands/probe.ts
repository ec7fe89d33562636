import { Args, Flags } from '@oclif/core';
import { SkypgCommand, clusterFlags, type CommandResult } from '../lib/cli/base-command.js';
import { ExitCode } from '../lib/common/exit-codes.js';
import type { ProbeResult } from '../lib/checks/probe.js';
import { durationFlag } from '../lib/cli/flag-values.js';

export default class Probe extends SkypgCommand<ProbeResult> {
  static override summary =
    'Check that a TCP port answers within a timeout; with --sql, that PostgreSQL does.';
  static override description =
    'TARGET is HOST:PORT, a node name from the configuration, vip:primary or vip:standby. ' +
    'Exit 0 reachable, 2 not reachable, 1 usage or configuration error. With --sql it logs in ' +
    '(as the heartbeat user, or --user) and reports whether the server is a primary or a standby.';
  static override examples = [
    '<%= config.bin %> probe 10.231.0.11:5432',
    '<%= config.bin %> probe host1 --sql',
    '<%= config.bin %> probe vip:primary --timeout 500ms --json',
  ];
  static override args = {
    target: Args.string({
      required: true,
      description: 'HOST:PORT, node name, vip:primary or vip:standby',
    }),
  };
  static override flags = {
    ...clusterFlags,
    timeout: durationFlag({ summary: 'Give up after this long.', default: '1s' }),
    sql: Flags.boolean({ summary: 'Also log in to PostgreSQL and report its role.' }),
    user: Flags.string({ summary: 'Role for --sql (default: heartbeat.user, else postgres).' }),
    database: Flags.string({
      summary: 'Database for --sql (default: heartbeat.database, else postgres).',
    }),
  };

  protected async execute(): Promise<CommandResult<ProbeResult>> {
    const { args, flags } = await this.parse(Probe);
    const { parseProbeTarget, probe, resolveProbeTarget } = await import('../lib/checks/probe.js');
    const timeoutMs = flags.timeout;
    const target = parseProbeTarget(args.target);
    const config = await this.loadOptionalCluster(flags, target.kind !== 'address' || flags.sql);
    const resolved = resolveProbeTarget(target, config);
    const sql = flags.sql
      ? {
          user: flags.user ?? config?.heartbeat.user ?? 'postgres',
          database: flags.database ?? config?.heartbeat.database ?? 'postgres',
          passfile: config?.nodes[0].postgres.passfile,
          timeoutMs,
        }
      : undefined;
    const result = await probe(args.target, resolved, timeoutMs, sql);
    const role = result.role === undefined ? '' : ` (${result.role})`;
    const text = result.reachable
      ? `${args.target} ${result.host}:${result.port} reachable in ${result.latencyMs}ms${role}`
      : `${args.target} ${result.host}:${result.port} NOT reachable: ${result.error ?? 'unknown'}`;
    return {
      data: result,
      text: [text],
      exitCode: result.reachable ? ExitCode.ok : ExitCode.negative,
    };
  }
}
