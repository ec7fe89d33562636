import type { CommandResult } from '../lib/cli/base-command.js';
import { NagiosCommand, checkClusterFlags } from '../lib/cli/nagios-command.js';
import type { CheckState } from '../lib/checks/nagios.js';
import { requireOrdered, secondsThreshold, sizeThreshold } from '../lib/checks/thresholds.js';
import { durationFlag, parsedFlag } from '../lib/cli/flag-values.js';

interface LagCheckResult {
  label: string;
  state: CheckState;
  text: string;
  view: 'primary' | 'standby';
  node: string;
  peer: string;
  lagBytes?: number;
  lagSeconds?: number;
  perfdata: string;
}

export default class CheckLag extends NagiosCommand<LagCheckResult> {
  protected readonly label = 'SKYPG_LAG';
  static override summary = 'Nagios/NRPE check of replication lag, on either node.';
  static override description =
    'On the primary: bytes and seconds its standby is behind (pg_stat_replication); no standby ' +
    'is CRITICAL. On the standby: WAL received but not replayed, and the age of the replayed ' +
    'heartbeat; not streaming is CRITICAL. Thresholds take Nagios ranges with units (16MB, ' +
    '~:16MB, @1MB:2MB; 30s). Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Here -c is ' +
    '--critical, as Nagios plugins use it; give the configuration with --config.';
  static override examples = [
    '<%= config.bin %> check-lag --node host2 -w 8MB -c 16MB --warning-time 10 --critical-time 60',
    '<%= config.bin %> check-lag --json',
  ];
  static override flags = {
    ...checkClusterFlags,
    warning: parsedFlag(
      'RANGE',
      { char: 'w', summary: 'Byte lag range for WARNING (default: half of failover.max_lag).' },
      sizeThreshold,
    ),
    critical: parsedFlag(
      'RANGE',
      { char: 'c', summary: 'Byte lag range for CRITICAL (default: failover.max_lag).' },
      sizeThreshold,
    ),
    'warning-time': parsedFlag(
      'RANGE',
      { summary: 'Lag in seconds for WARNING (no default).' },
      secondsThreshold,
    ),
    'critical-time': parsedFlag(
      'RANGE',
      { summary: 'Lag in seconds for CRITICAL (no default).' },
      secondsThreshold,
    ),
    timeout: durationFlag({
      char: 't',
      summary: 'Give up (UNKNOWN) after this long.',
      default: '10s',
    }),
  };

  protected async execute(): Promise<CommandResult<LagCheckResult>> {
    const { flags } = await this.parse(CheckLag);
    const { evaluateLag, observeLag } = await import('../lib/checks/lag.js');
    const { formatCheckLine, stateExitCode } = await import('../lib/checks/nagios.js');
    const timeoutMs = flags.timeout;
    const cluster = await this.loadCluster(flags);
    const maxLag = cluster.config.failover.max_lag;
    const thresholds = {
      // The byte defaults come from the configuration, so they are made here, not in the flags.
      warningBytes: flags.warning ?? sizeThreshold('--warning', String(Math.floor(maxLag / 2))),
      criticalBytes: flags.critical ?? sizeThreshold('--critical', String(maxLag)),
      warningSeconds: flags['warning-time'],
      criticalSeconds: flags['critical-time'],
    };
    requireOrdered('--warning', thresholds.warningBytes, '--critical', thresholds.criticalBytes);
    requireOrdered(
      '--warning-time',
      thresholds.warningSeconds,
      '--critical-time',
      thresholds.criticalSeconds,
    );
    const observation = await observeLag(cluster.config, cluster.localNode(), timeoutMs);
    const outcome = evaluateLag(observation, thresholds);
    return {
      data: {
        label: this.label,
        state: outcome.state,
        text: outcome.text,
        view: observation.view,
        node: observation.node,
        peer: observation.peer,
        lagBytes: outcome.lagBytes,
        lagSeconds: outcome.lagSeconds,
        perfdata: outcome.perfdata,
      },
      text: [formatCheckLine(this.label, outcome.state, outcome.text, outcome.perfdata)],
      exitCode: stateExitCode(outcome.state),
    };
  }
}
