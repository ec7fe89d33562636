import { SkypgCommand, type CommandResult } from '../../lib/cli/base-command.js';
import type { LabStatus } from '../../lib/lab/lab-status.js';
import type { NetnsLabOverview } from '../../lib/lab/sandbox.js';
import { labDirFlag } from './up.js';

export default class LabStatusCommand extends SkypgCommand<LabStatus | NetnsLabOverview> {
  static override summary =
    'Show the sandbox pair: role, timeline, WAL position and replication of each node.';
  static override description =
    'For the multi-host lab, first the condition of each machine (powered off, frozen, cut off ' +
    'the LAN) and what its supervisor last said, then skypg status as the client machine sees ' +
    'the pair, VIPs included.';
  static override examples = [
    '<%= config.bin %> lab status',
    '<%= config.bin %> lab status --json',
  ];
  static override flags = { dir: labDirFlag };

  protected async execute(): Promise<CommandResult<LabStatus | NetnsLabOverview>> {
    const { flags } = await this.parse(LabStatusCommand);
    const { defaultLabDir } = await import('../../lib/lab/loopback-pair.js');
    const { readAnyLab } = await import('../../lib/lab/sandbox.js');
    const lab = await readAnyLab(flags.dir ?? defaultLabDir());
    if (lab.kind === 'loopback') {
      const { readLabStatus, renderLabStatus } = await import('../../lib/lab/lab-status.js');
      const status = await readLabStatus(lab.state.dir);
      return { data: status, text: renderLabStatus(status) };
    }
    const { netnsLabOverview, renderHostConditions } = await import('../../lib/lab/sandbox.js');
    const { renderClusterStatus } = await import('../../lib/status/cluster-status-render.js');
    const overview = await netnsLabOverview(lab.state);
    return {
      data: overview,
      text: [
        `multi-host lab ${overview.dir} (SKYPG_CONFIG=${overview.configPath})`,
        ...renderHostConditions(overview.hosts),
        '',
        ...(overview.status === undefined
          ? ['skypg status could not run on the client machine']
          : renderClusterStatus(overview.status)),
      ],
    };
  }
}
