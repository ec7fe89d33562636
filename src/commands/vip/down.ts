import { SkypgCommand, clusterFlags, type CommandResult } from '../../lib/cli/base-command.js';
import type { VipChange } from '../../lib/net/vip.js';
import { vipRoleArg } from './up.js';

export default class VipDown extends SkypgCommand<VipChange> {
  static override summary = 'Drop a VIP from this host (idempotent).';
  static override examples = ['<%= config.bin %> vip down standby'];
  static override args = { role: vipRoleArg };
  static override flags = clusterFlags;

  protected async execute(): Promise<CommandResult<VipChange>> {
    const { args, flags } = await this.parse(VipDown);
    const { config } = await this.loadCluster(flags);
    const { vipDown } = await import('../../lib/net/vip.js');
    const change = await vipDown(config, args.role as 'primary' | 'standby');
    return {
      data: change,
      text: [
        `vip ${change.role} ${change.address}: ${change.changed ? 'dropped' : 'was not held here'}`,
      ],
    };
  }
}
