// Fencing (STONITH): power a node off, and prove it is off, before its peer takes over.
// Agents: any ClusterLabs fence agent (arguments on stdin), ipmitool, or a command with the
// fence-agent contract. Passwords go through stdin or a file, never a command line, and never
// into a message.
import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FenceConfig, NodeConfig } from '../config/types.js';
import { SkypgError, messageOf } from '../errors.js';
import { runProgram, type ProgramResult } from '../process/run-program.js';

export type FenceAction = 'off' | 'on' | 'reboot' | 'status';
export type PowerState = 'on' | 'off';

export interface FenceResult {
  node: string;
  agent: string;
  action: FenceAction;
  /** Power state verified by a status query after the action. */
  power: PowerState;
  /** False when the device was already in the wanted state. */
  changed: boolean;
  ms: number;
}

/** What one agent needs to be driven: a power query and the two switches. */
interface FenceDevice {
  status(): Promise<PowerState>;
  switchPower(state: PowerState): Promise<void>;
}

export async function fenceNode(
  node: NodeConfig,
  action: FenceAction,
  options: { netns?: string } = {},
): Promise<FenceResult> {
  const fence = node.fence;
  if (fence === undefined) {
    throw new SkypgError('USAGE', `node ${node.name} has no fence device configured`, {
      hint: `add a fence: block to node ${node.name} (docs/configuration.md)`,
    });
  }
  const password = await readPassword(node.name, fence);
  const device = deviceFor(node, fence, password, options.netns);
  const started = performance.now();
  const finish = (power: PowerState, changed: boolean): FenceResult => ({
    node: node.name,
    agent: fence.agent,
    action,
    power,
    changed,
    ms: Math.round(performance.now() - started),
  });
  const initial = await device.status();
  if (action === 'status') return finish(initial, false);
  if (action === 'reboot') {
    // Never a power cycle: it may report success before the power was really off.
    if (initial === 'on') await switchAndVerify(node, fence, device, 'off');
    await switchAndVerify(node, fence, device, 'on');
    return finish('on', true);
  }
  const wanted: PowerState = action;
  if (initial === wanted) return finish(initial, false);
  await switchAndVerify(node, fence, device, wanted);
  return finish(wanted, true);
}

/** Switches, then polls status until it reports the wanted state; a timeout is a failure. */
async function switchAndVerify(
  node: NodeConfig,
  fence: FenceConfig,
  device: FenceDevice,
  wanted: PowerState,
): Promise<void> {
  const deadline = Date.now() + fence.timeout;
  try {
    await device.switchPower(wanted);
  } catch (error) {
    throw new SkypgError(
      'COMMAND_FAILED',
      `fencing ${node.name}: power ${wanted} failed: ${messageOf(error)}`,
      {
        hint: `check the fence device of ${node.name} with 'skypg fence ${node.name} --action status'`,
      },
    );
  }
  let last: string = 'unknown';
  while (Date.now() < deadline) {
    try {
      last = await device.status();
      if (last === wanted) return;
    } catch (error) {
      last = messageOf(error);
    }
    await sleep(250);
  }
  throw new SkypgError(
    'COMMAND_FAILED',
    `fencing ${node.name}: power is not ${wanted} after ${fence.timeout}ms (last status: ${last})`,
    {
      hint: 'a timeout is a failure: the node may still be running',
    },
  );
}

async function readPassword(nodeName: string, fence: FenceConfig): Promise<string | undefined> {
  const file = fence.password_file;
  if (file === undefined) return undefined;
  try {
    const info = await stat(file);
    if ((info.mode & 0o077) !== 0) {
      throw new SkypgError(
        'REFUSED',
        `fence password file ${file} is readable by group or others`,
        {
          hint: `run 'chmod 600 ${file}'`,
        },
      );
    }
    const first = (await readFile(file, 'utf8')).split('\n')[0]?.trim() ?? '';
    if (first === '')
      throw new SkypgError('REFUSED', `fence password file ${file} is empty`, {
        hint: 'put the device password on its first line',
      });
    return first;
  } catch (error) {
    if (error instanceof SkypgError) throw error;
    throw new SkypgError(
      'COMMAND_FAILED',
      `cannot read the fence password file of ${nodeName}: ${file}: ${(error as NodeJS.ErrnoException).code ?? messageOf(error)}`,
      {
        hint: 'the file must exist and be readable by the user running skypg (mode 0600)',
      },
    );
  }
}

function deviceFor(
  node: NodeConfig,
  fence: FenceConfig,
  password: string | undefined,
  netns?: string,
): FenceDevice {
  if (fence.agent === 'ipmitool') return ipmitoolDevice(fence, netns);
  const program = fence.agent === 'command' ? (fence.command ?? '') : fence.agent;
  return fenceAgentDevice(node, fence, program, password, netns);
}

/**
 * ClusterLabs fence agents read `name=value` lines on stdin when run without arguments (the
 * way the cluster stack drives them), which keeps the password off the command line.
 * status: exit 0 = ON, 2 = OFF, anything else = error.
 */
function fenceAgentDevice(
  node: NodeConfig,
  fence: FenceConfig,
  program: string,
  password: string | undefined,
  netns?: string,
): FenceDevice {
  const input = (action: string): string => {
    const lines = [`action=${action}`, `nodename=${node.name}`];
    if (fence.ip !== undefined) lines.push(`ip=${fence.ip}`);
    if (fence.ipport !== undefined) lines.push(`ipport=${fence.ipport}`);
    if (fence.username !== undefined) lines.push(`username=${fence.username}`);
    if (password !== undefined) lines.push(`password=${password}`);
    // ClusterLabs agents sleep power_wait (2 s for fence_ipmilan) after OFF before they poll
    // the status; skypg does not count OFF until a status query says so, so that sleep only
    // delays the failover. A configured power_wait wins; a custom command gets only the options.
    const options =
      fence.agent === 'command' || 'power_wait' in fence.options
        ? fence.options
        : { power_wait: '0', ...fence.options };
    for (const [key, value] of Object.entries(options)) lines.push(`${key}=${value}`);
    return `${lines.join('\n')}\n`;
  };
  const run = (action: string): Promise<ProgramResult> =>
    runProgram(program, [], {
      input: input(action),
      env: { PYTHONWARNINGS: 'ignore' },
      timeoutMs: fence.timeout,
      allowFailure: true,
      ...(netns === undefined ? {} : { netns }),
    }).then((result) => redact(result, password));
  return {
    status: async () => {
      const result = await run('status');
      if (result.timedOut) throw new Error(`${program} status timed out`);
      if (result.exitCode === 0) return 'on';
      if (result.exitCode === 2) return 'off';
      throw new Error(`${program} status failed (exit ${result.exitCode}): ${lastLine(result)}`);
    },
    switchPower: async (state) => {
      const result = await run(state);
      if (result.exitCode !== 0)
        throw new Error(
          `${program} ${state} failed (exit ${result.exitCode}): ${lastLine(result)}`,
        );
    },
  };
}

/** ipmitool reads the password from password_file itself (-f), never from argv. */
function ipmitoolDevice(fence: FenceConfig, netns?: string): FenceDevice {
  const args = [
    '-I',
    fence.options['lanplus'] === '0' ? 'lan' : 'lanplus',
    '-C',
    fence.options['cipher'] ?? '3',
    '-H',
    fence.ip ?? '',
    '-p',
    String(fence.ipport ?? 623),
    ...(fence.username === undefined ? [] : ['-U', fence.username]),
    ...(fence.password_file === undefined ? [] : ['-f', fence.password_file]),
    ...(fence.options['privlvl'] === undefined ? [] : ['-L', fence.options['privlvl']]),
  ];
  const run = (command: string): Promise<ProgramResult> =>
    runProgram('ipmitool', [...args, 'chassis', 'power', command], {
      timeoutMs: fence.timeout,
      allowFailure: true,
      ...(netns === undefined ? {} : { netns }),
    });
  return {
    status: async () => {
      const result = await run('status');
      const match = /Chassis Power is (on|off)/i.exec(result.stdout);
      if (result.exitCode !== 0 || !match?.[1])
        throw new Error(`ipmitool status failed (exit ${result.exitCode}): ${lastLine(result)}`);
      return match[1].toLowerCase() === 'on' ? 'on' : 'off';
    },
    switchPower: async (state) => {
      const result = await run(state);
      if (result.exitCode !== 0)
        throw new Error(
          `ipmitool power ${state} failed (exit ${result.exitCode}): ${lastLine(result)}`,
        );
    },
  };
}

function redact(result: ProgramResult, password: string | undefined): ProgramResult {
  if (password === undefined || password === '') return result;
  return {
    ...result,
    stdout: result.stdout.replaceAll(password, '***'),
    stderr: result.stderr.replaceAll(password, '***'),
  };
}

function lastLine(result: ProgramResult): string {
  const lines = `${result.stderr}\n${result.stdout}`
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/DeprecationWarning|import pipes/.test(line));
  return lines.at(-1) ?? 'no output';
}
