import { Flags } from '@oclif/core';
import { SkypgCommand, clusterFlags, type CommandResult } from '../lib/cli/base-command.js';
import type { CheckResult } from '../lib/doctor/checklist.js';
import type { AppliedFix } from '../lib/doctor/run.js';
import { SkypgError } from '../lib/common/errors.js';
import { NagiosCode } from '../lib/common/exit-codes.js';

interface DoctorResult {
  node: string | null;
  status: 'ok' | 'warn' | 'fail';
  results: Omit<CheckResult, 'fixes'>[];
  fixes: AppliedFix[];
}

export default class Doctor extends SkypgCommand<DoctorResult> {
  static override summary =
    'Check everything a failover depends on, on both nodes, and say how to fix each problem.';
  static override description =
    'Runs every check that applies, concurrently, each within a timeout: PostgreSQL settings, ' +
    'pg_hba rules, roles, real logins, password files, clocks, ip/arping, gateway, acpid, ' +
    'systemd, disk space (pg_wal, the data directory, room for a rebuild), the data directory written by the OS user, the state directory, data directory symlinks, fence devices (status only), VIPs and the ' +
    'supervisors. One line per check: OK, WARN, FAIL or SKIP (does not apply here), what was ' +
    'found, and the fix. Local checks (files, processes) are about the node doctor runs on. ' +
    '--fix applies only changes that are safe online (ALTER SYSTEM + reload, missing pg_hba ' +
    'lines in one skypg block, checked by the server before a reload and put back if it refuses ' +
    'them, missing roles and grants), after printing them; it never restarts ' +
    'PostgreSQL, moves a VIP or fences. Exit 0 all OK, 1 a WARN, 2 a FAIL, 3 doctor could not run.';
  static override examples = [
    '<%= config.bin %> doctor',
    '<%= config.bin %> doctor --node host1 --fix',
    '<%= config.bin %> doctor --all --json',
  ];
  static override flags = {
    ...clusterFlags,
    all: Flags.boolean({
      summary: 'Check both nodes from a machine that need not be one (local checks only if it is).',
    }),
    fix: Flags.boolean({ summary: 'Apply the safe online fixes (shown first), then check again.' }),
  };
  // Nagios: 0/1/2 are the checklist's verdict, so doctor failing to run is UNKNOWN.
  protected override usageExitCode: number = NagiosCode.unknown;
  protected override failureExitCode: number = NagiosCode.unknown;

  protected async execute(): Promise<CommandResult<DoctorResult>> {
    const { flags } = await this.parse(Doctor);
    const { resolveLocalNode, findNode } = await import('../lib/config/local-node.js');
    const { runDoctor } = await import('../lib/doctor/run.js');
    const { doctorExitCode, renderChecklist, resultJson } =
      await import('../lib/doctor/checklist.js');
    if (flags.all && flags.node !== undefined) {
      throw new SkypgError('USAGE', '--all and --node exclude each other', {
        hint: '--node NAME says which node this machine is; --all checks from anywhere',
      });
    }
    const cluster = await this.loadCluster(flags);
    let local;
    if (flags.all) {
      try {
        local = findNode(cluster.config, resolveLocalNode(cluster.config, undefined));
      } catch {
        local = undefined; // checked from elsewhere: the local checks are skipped
      }
    } else {
      try {
        local = cluster.localNode();
      } catch (error) {
        if (!(error instanceof SkypgError) || error.code !== 'NODE_UNRESOLVED') throw error;
        throw new SkypgError(error.code, error.message, {
          hint: `${error.hint ?? 'pass --node NAME'}; or --all to check from a machine that is not a node`,
        });
      }
    }
    const report = await runDoctor({
      config: cluster.config,
      configWarnings: cluster.warnings,
      configPath: cluster.configPath,
      local,
      version: this.config.version,
      fix: flags.fix,
      onProgress: (line) => process.stderr.write(`${line}\n`),
    });
    const exitCode = doctorExitCode(report.results);
    const status = exitCode === 2 ? 'fail' : exitCode === 1 ? 'warn' : 'ok';
    const where = local === undefined ? 'from outside the pair' : `on ${local.name}`;
    return {
      data: {
        node: report.node ?? null,
        status,
        results: report.results.map(resultJson),
        fixes: report.fixes,
      },
      text: [
        `skypg doctor ${where}, cluster ${cluster.config.cluster}:`,
        ...renderChecklist(report.results),
      ],
      exitCode,
    };
  }
}
