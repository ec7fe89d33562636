import { SkypgCommand, type CommandResult } from '../../lib/base-command.js';
import type { LabStatus } from '../../lib/lab/lab-status.js';
import { labDirFlag } from './up.js';

export default class LabStatusCommand extends SkypgCommand<LabStatus> {
  static override summary =
    'Show the sandbox pair: role, timeline, WAL position and replication of each node.';
  static override examples = [
    '<%= config.bin %> lab status',
    '<%= config.bin %> lab status --json',
  ];
  static override flags = { dir: labDirFlag };

  protected async execute(): Promise<CommandResult<LabStatus>> {
    const { flags } = await this.parse(LabStatusCommand);
    const { defaultLabDir } = await import('../../lib/lab/loopback-pair.js');
    const { readLabStatus, renderLabStatus } = await import('../../lib/lab/lab-status.js');
    const status = await readLabStatus(flags.dir ?? defaultLabDir());
    return { data: status, text: renderLabStatus(status) };
  }
}
