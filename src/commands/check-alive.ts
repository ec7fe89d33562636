import type { CommandResult } from '../lib/cli/base-command.js';
import { NagiosCommand, checkClusterFlags } from '../lib/cli/nagios-command.js';
import type { CheckState } from '../lib/checks/nagios.js';
import { durationFlag } from '../lib/cli/flag-values.js';

interface AliveCheckResult {
  label: string;
  state: CheckState;
  text: string;
  node: string;
  stateFile: string;
  ageSeconds?: number;
  maxAgeSeconds: number;
  supervisorState?: string;
  pid?: number;
}

export default class CheckAlive extends NagiosCommand<AliveCheckResult> {
  protected readonly label = 'SKYPG_ALIVE';
  static override summary =
    'Nagios/NRPE check that the supervisor on this node runs and is not stuck.';
  static override description =
    'Reads supervisor.state_file: CRITICAL when it is missing, when its process is gone, when it ' +
    'is dated in the future, or when it is older than --max-age; WARNING when the cluster is paused. Exit 0/1/2/3.';
  static override examples = [
    '<%= config.bin %> check-alive --node host1',
    '<%= config.bin %> check-alive --max-age 10s',
  ];
  static override flags = {
    ...checkClusterFlags,
    'max-age': durationFlag({
      summary: 'Oldest acceptable state file (default: 3 x heartbeat.interval).',
    }),
  };

  protected async execute(): Promise<CommandResult<AliveCheckResult>> {
    const { flags } = await this.parse(CheckAlive);
    const { evaluateAlive, observeAlive } = await import('../lib/checks/alive.js');
    const { stateFilePath } = await import('../lib/supervisor/state-file.js');
    const { formatCheckLine, formatPerfdata, stateExitCode } =
      await import('../lib/checks/nagios.js');
    const cluster = await this.loadCluster(flags);
    const maxAgeMs = flags['max-age'] ?? 3 * cluster.config.heartbeat.interval;
    const node = cluster.localNode().name;
    const observation = await observeAlive(stateFilePath(cluster.config, node), Date.now());
    const outcome = evaluateAlive(observation, maxAgeMs / 1000);
    const perfdata = formatPerfdata([
      {
        label: 'age',
        value:
          observation.ageSeconds === undefined
            ? undefined
            : Math.round(observation.ageSeconds * 10) / 10,
        uom: 's',
        min: 0,
      },
    ]);
    return {
      data: {
        label: this.label,
        state: outcome.state,
        text: outcome.text,
        node,
        stateFile: observation.path,
        ageSeconds: observation.ageSeconds,
        maxAgeSeconds: maxAgeMs / 1000,
        supervisorState: observation.state?.state,
        pid: observation.state?.pid,
      },
      text: [formatCheckLine(this.label, outcome.state, outcome.text, perfdata)],
      exitCode: stateExitCode(outcome.state),
    };
  }
}
