import { SkypgCommand, type CommandResult } from '../../lib/cli/base-command.js';
import type { LabDownResult } from '../../lib/lab/loopback-pair.js';
import { labDirFlag } from './up.js';

export default class LabDown extends SkypgCommand<LabDownResult> {
  static override summary = 'Stop the sandbox servers and remove the lab directory.';
  static override description =
    'Stops only the postmasters recorded in the lab (checked by PID and data directory), and for ' +
    'the multi-host lab its BMCs and namespaces, then removes the directory. Safe to run twice, ' +
    'or after a failed lab up.';
  static override examples = ['<%= config.bin %> lab down'];
  static override flags = { dir: labDirFlag };

  protected async execute(): Promise<CommandResult<LabDownResult>> {
    const { flags } = await this.parse(LabDown);
    const { defaultLabDir } = await import('../../lib/lab/loopback-pair.js');
    const { anyLabDown } = await import('../../lib/lab/netns-lab.js');
    const path = await import('node:path');
    const dir = path.resolve(flags.dir ?? defaultLabDir());
    // Either kind of lab: the loopback pair, or the multi-host lab of `lab demo --keep`.
    const result = { dir, ...(await anyLabDown(dir)) };
    const text = result.removed
      ? `lab in ${result.dir} removed (stopped PIDs: ${result.stoppedPids.join(', ') || 'none running'})`
      : `no lab in ${result.dir}: nothing to do`;
    return { data: result, text: [text] };
  }
}
