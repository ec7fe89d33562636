import { SkypgCommand, clusterFlags, type CommandResult } from '../../lib/cli/base-command.js';
import { ExitCode } from '../../lib/common/exit-codes.js';
import type { VipStatus } from '../../lib/net/vip.js';
import { vipRoleArg } from './up.js';

export default class VipStatusCommand extends SkypgCommand<VipStatus> {
  static override summary = 'Is a VIP held on this host, and does another host answer for it?';
  static override description = 'Exit 0 when held here, 2 when not.';
  static override examples = ['<%= config.bin %> vip status primary --json'];
  static override args = { role: vipRoleArg };
  static override flags = clusterFlags;

  protected async execute(): Promise<CommandResult<VipStatus>> {
    const { args, flags } = await this.parse(VipStatusCommand);
    const { config } = await this.loadCluster(flags);
    const { vipStatus } = await import('../../lib/net/vip.js');
    const status = await vipStatus(config, args.role as 'primary' | 'standby');
    const others =
      status.otherHolders.length === 0
        ? 'no other host answers for it'
        : `also answered by ${status.otherHolders.join(', ')}`;
    return {
      data: status,
      text: [
        `vip ${status.role} ${status.address}: ${status.heldHere ? 'held here' : 'not held here'}; ${others}`,
      ],
      exitCode: status.heldHere ? ExitCode.ok : ExitCode.negative,
    };
  }
}
