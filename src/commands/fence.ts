import { Args, Flags } from '@oclif/core';
import { SkypgCommand, clusterFlags, type CommandResult } from '../lib/base-command.js';
import type { FenceResult } from '../lib/fence/fence.js';

export default class Fence extends SkypgCommand<FenceResult> {
  static override summary =
    'Power a node off (STONITH), on, or query its power, through its fence device.';
  static override description =
    '"off" is reported done only after a status query says OFF (polled until fence.timeout; a ' +
    'timeout is a failure). "reboot" is off (verified) then on (verified), never a power cycle. ' +
    'The device password is read from fence.password_file and handed to the agent on stdin ' +
    '(ipmitool: -f FILE): it never appears on a command line or in output.';
  static override examples = [
    '<%= config.bin %> fence host1 --action status',
    '<%= config.bin %> fence host1            # power host1 off and verify',
  ];
  static override args = {
    node: Args.string({ required: true, description: 'node to fence (from the configuration)' }),
  };
  static override flags = {
    ...clusterFlags,
    action: Flags.string({
      char: 'o',
      options: ['off', 'on', 'reboot', 'status'],
      default: 'off',
      summary: 'What to do.',
    }),
  };

  protected async execute(): Promise<CommandResult<FenceResult>> {
    const { args, flags } = await this.parse(Fence);
    const { config } = await this.loadCluster(flags);
    const { findNode } = await import('../lib/config/local-node.js');
    const { fenceNode } = await import('../lib/fence/fence.js');
    const action = flags.action as FenceResult['action'];
    const result = await fenceNode(findNode(config, args.node), action);
    const verb = action === 'status' ? 'is' : result.changed ? 'is now' : 'was already';
    return {
      data: result,
      text: [
        `${result.node} ${verb} powered ${result.power.toUpperCase()} (${result.agent}, ${result.ms}ms)`,
      ],
    };
  }
}
