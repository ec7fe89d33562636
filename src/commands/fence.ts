import { Args, Flags } from '@oclif/core';
import { SkypgCommand, clusterFlags, type CommandResult } from '../lib/cli/base-command.js';
import { SkypgError } from '../lib/common/errors.js';
import type { FenceResult } from '../lib/fence/fence.js';

const actions = ['off', 'on', 'reboot', 'status'] as const;

export default class Fence extends SkypgCommand<FenceResult> {
  static override summary =
    'Power a node off (STONITH), on, or query its power, through its fence levels.';
  static override description =
    '--action is required: a destructive action is never a default. The levels of ' +
    'nodes[].fence are tried in order until one does it; "off" is reported done only after ' +
    "that level's status query says OFF (polled until fence.timeout; a timeout is a failure). " +
    '"reboot" is off (verified) then on (verified), never a power cycle; "status", "on" and ' +
    '"reboot" use the first level that answers. NODE is read from the command line only. The ' +
    'device password is read from fence.password_file and handed to the agent on stdin ' +
    '(ipmitool: -f FILE).';
  static override examples = [
    '<%= config.bin %> fence host1 --action status',
    '<%= config.bin %> fence host1 --action off   # power host1 off and verify',
  ];
  static override args = {
    node: Args.string({
      required: true,
      ignoreStdin: true,
      description: 'node to fence (from the configuration)',
    }),
  };
  static override flags = {
    ...clusterFlags,
    action: Flags.string({
      char: 'o',
      options: [...actions],
      summary: 'What to do (required): off, on, reboot or status.',
    }),
  };

  protected async execute(): Promise<CommandResult<FenceResult>> {
    const { args, flags } = await this.parse(Fence);
    const action = actions.find((candidate) => candidate === flags.action);
    if (action === undefined) {
      throw new SkypgError(
        'USAGE',
        `fence ${args.node} needs --action: off, on, reboot or status`,
        {
          hint: `'--action status' only reads the power; '--action off' powers ${args.node} off`,
        },
      );
    }
    const { config } = await this.loadCluster(flags);
    const { findNode } = await import('../lib/config/local-node.js');
    const { fenceNode } = await import('../lib/fence/fence.js');
    const result = await fenceNode(findNode(config, args.node), action);
    const verb = action === 'status' ? 'is' : result.changed ? 'is now' : 'was already';
    const skipped = result.tried.filter((attempt) => !attempt.ok);
    return {
      data: result,
      text: [
        `${result.node} ${verb} powered ${result.power.toUpperCase()} (${result.device}, ${result.ms}ms)`,
        ...skipped.map((attempt) => `  ${attempt.device} failed first: ${attempt.detail}`),
      ],
    };
  }
}
