import { SkypgCommand, type CommandResult } from '../../lib/cli/base-command.js';
import type { HealResult } from '../../lib/lab/sandbox.js';
import { labDirFlag } from './up.js';

export default class LabHeal extends SkypgCommand<HealResult> {
  static override summary = 'Undo every fault in the multi-host lab (root).';
  static override description =
    'Reconnects every host to the LAN, thaws frozen hosts and powers on hosts that are off; a ' +
    'host that boots starts its supervisor, which rejoins it as a standby of the current ' +
    'primary. PostgreSQL killed by lab fault kill is restarted by its own supervisor, not here. ' +
    'Safe to run when nothing is broken.';
  static override examples = ['<%= config.bin %> lab heal'];
  static override flags = { dir: labDirFlag };

  protected async execute(): Promise<CommandResult<HealResult>> {
    const { flags } = await this.parse(LabHeal);
    const { defaultLabDir } = await import('../../lib/lab/loopback-pair.js');
    const { readNetnsLab, healLab } = await import('../../lib/lab/sandbox.js');
    const state = await readNetnsLab(flags.dir ?? defaultLabDir(), 'lab heal');
    const result = await healLab(state);
    return {
      data: result,
      text:
        result.did.length === 0
          ? ['nothing to heal: every host is powered on, running and connected']
          : result.did,
    };
  }
}
