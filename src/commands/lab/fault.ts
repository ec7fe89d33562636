import { Args, Flags } from '@oclif/core';
import { SkypgCommand, type CommandResult } from '../../lib/cli/base-command.js';
import type { FaultResult } from '../../lib/lab/sandbox.js';
import { labDirFlag } from './up.js';

export default class LabFault extends SkypgCommand<FaultResult> {
  static override summary = 'Break one host of the multi-host lab for real (root).';
  static override description =
    'kill: SIGKILL the PostgreSQL postmaster (the host and its supervisor live on).\n' +
    'poweroff: power the host off through its simulated BMC (every process on it dies).\n' +
    'blackout: the host and its BMC lose power together: the host dies and its BMC stops ' +
    'answering, so only a second fence level (lab up --fence-levels 2: a PDU) can fence it.\n' +
    'partition: cut the host off the LAN at the switch (from its peer, the gateway and the ' +
    'client; its BMC stays reachable, as a separate management network would).\n' +
    'freeze: SIGSTOP every process on the host (a hung machine that may wake up).\n\n' +
    'The host defaults to the current primary. Undo with lab heal; watch with lab logs and ' +
    'lab status.';
  static override examples = [
    '<%= config.bin %> lab fault kill',
    '<%= config.bin %> lab fault partition --node host2',
    '<%= config.bin %> lab fault blackout',
  ];
  static override args = {
    fault: Args.string({
      description: 'What to do to the host.',
      required: true,
      options: ['kill', 'poweroff', 'blackout', 'partition', 'freeze'],
    }),
  };
  static override flags = {
    dir: labDirFlag,
    node: Flags.string({
      summary: 'The host to break (default: the one answering as the primary).',
      options: ['host1', 'host2'],
      helpValue: 'NAME',
    }),
  };

  protected async execute(): Promise<CommandResult<FaultResult>> {
    const { args, flags } = await this.parse(LabFault);
    const { defaultLabDir } = await import('../../lib/lab/loopback-pair.js');
    const { readNetnsLab, injectFault, labFaults, labHostNames } =
      await import('../../lib/lab/sandbox.js');
    const fault = labFaults.find((candidate) => candidate === args.fault);
    const node = labHostNames.find((candidate) => candidate === flags.node);
    // oclif has already checked both against their options.
    if (fault === undefined) throw new Error(`unexpected fault ${args.fault}`);
    const state = await readNetnsLab(flags.dir ?? defaultLabDir(), 'lab fault');
    const result = await injectFault(state, fault, node);
    return {
      data: result,
      text: [
        `${result.at.slice(11, 23)} ${result.did}`,
        `watch it: ${this.config.bin} lab logs --follow; undo it: ${this.config.bin} lab heal`,
      ],
    };
  }
}
