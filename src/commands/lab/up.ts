import { Flags } from '@oclif/core';
import { SkypgCommand, type CommandResult } from '../../lib/base-command.js';
import type { LabState } from '../../lib/lab/loopback-pair.js';

export const labDirFlag = Flags.string({
  summary: 'Directory of the lab.',
  description: 'Defaults to $SKYPG_LAB_DIR, else skypg-lab in the system temp directory.',
  helpValue: 'DIR',
});

export default class LabUp extends SkypgCommand<LabState> {
  static override summary = 'Build a sandbox primary and streaming standby on this machine.';
  static override description =
    'Two real PostgreSQL servers on loopback ports in one directory, host1 primary and host2 a ' +
    'hot standby made with pg_basebackup, plus the skypg configuration that describes them. ' +
    'As root, PostgreSQL runs as OS user postgres. This loopback pair has no VIPs, gateway or ' +
    'fencing: those need network namespaces and root.';
  static override examples = [
    '<%= config.bin %> lab up',
    '<%= config.bin %> lab up --dir /tmp/mylab',
  ];
  static override flags = { dir: labDirFlag };

  protected async execute(): Promise<CommandResult<LabState>> {
    const { flags } = await this.parse(LabUp);
    const { defaultLabDir, labUp } = await import('../../lib/lab/loopback-pair.js');
    const json = this.jsonEnabled();
    const state = await labUp({
      dir: flags.dir ?? defaultLabDir(),
      onStep: (step) => {
        if (!json) this.log(`  - ${step}`);
      },
    });
    const [host1, host2] = state.nodes;
    return {
      data: state,
      text: [
        `lab up in ${state.dir}: host1 primary on 127.0.0.1:${host1.port}, host2 standby on 127.0.0.1:${host2.port}`,
        '',
        'Use it:',
        `  export SKYPG_CONFIG=${state.configPath}`,
        `  ${this.config.bin} lab status${flags.dir === undefined ? '' : ` --dir ${state.dir}`}`,
        `  psql -h ${host1.socketDir} -p ${host1.port} -U postgres`,
        `  ${this.config.bin} lab down${flags.dir === undefined ? '' : ` --dir ${state.dir}`}`,
      ],
    };
  }
}
