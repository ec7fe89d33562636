import { Args, Flags } from '@oclif/core';
import { SkypgCommand, clusterFlags, type CommandResult } from '../../lib/cli/base-command.js';
import type { VipChange } from '../../lib/net/vip.js';

export const vipRoleArg = Args.string({
  required: true,
  options: ['primary', 'standby'],
  description: 'which VIP',
});

export default class VipUp extends SkypgCommand<VipChange> {
  static override summary = 'Take a VIP on this host and announce it (gratuitous ARP).';
  static override description =
    'First checks that no other host answers for the address (arping -D) and refuses if one does, ' +
    'unless --force. Idempotent: an address already held here is re-announced.';
  static override examples = ['<%= config.bin %> vip up primary'];
  static override args = { role: vipRoleArg };
  static override flags = {
    ...clusterFlags,
    force: Flags.boolean({ summary: 'Take it even if another host answers for it.' }),
  };

  protected async execute(): Promise<CommandResult<VipChange>> {
    const { args, flags } = await this.parse(VipUp);
    const { config } = await this.loadCluster(flags);
    const { vipUp } = await import('../../lib/net/vip.js');
    const change = await vipUp(config, args.role as 'primary' | 'standby', { force: flags.force });
    const what = change.changed ? 'taken' : 'already held here';
    return {
      data: change,
      text: [
        `vip ${change.role} ${change.address} on ${change.interface}: ${what}; ${change.announced} gratuitous ARP packets started`,
      ],
    };
  }
}
