// Fencing (STONITH): power a node off, and prove it is off, before its peer takes over.
// Agents: any ClusterLabs fence agent (arguments on stdin), ipmitool, or a command with the
// fence-agent contract. Passwords go through stdin or a file, never a command line, and never
// into a message.
import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { isOneLine } from '../config/schema.js';
import type { FenceConfig, NodeConfig } from '../config/types.js';
import { SkypgError, messageOf } from '../common/errors.js';
import { runProgram, type ProgramResult } from '../process/run-program.js';

export type FenceAction = 'off' | 'on' | 'reboot' | 'status';
export type PowerState = 'on' | 'off';

/** One fence level tried, and what came of it. */
export interface LevelAttempt {
  level: number;
  /** `level N LABEL (ADDRESS)`, as messages name it. */
  device: string;
  ok: boolean;
  /** Why it failed, or what it did. */
  detail: string;
  ms: number;
}

export interface FenceResult {
  node: string;
  /** The level that did it (1 = the first listed) and its agent. */
  level: number;
  device: string;
  agent: string;
  action: FenceAction;
  /** Power state verified by a status query after the action. */
  power: PowerState;
  /** False when the device was already in the wanted state. */
  changed: boolean;
  ms: number;
  /** Every level tried, in order, the last one being the level that did it. */
  tried: LevelAttempt[];
}

/** What one agent needs to be driven: a power query and the two switches. */
interface FenceDevice {
  status(): Promise<PowerState>;
  switchPower(state: PowerState): Promise<void>;
}

/** How messages name a level: `level 1 ipmi (10.231.0.101)`. */
export function describeLevel(fence: FenceConfig, level: number): string {
  const where = fence.ip ?? fence.command;
  return `level ${level} ${fence.label}${where === undefined ? '' : ` (${where})`}`;
}

/** The one line said when no level could do it: the node, and each level's failure. */
export function fenceFailureMessage(
  node: string,
  action: FenceAction,
  tried: LevelAttempt[],
): string {
  const what =
    action === 'status' ? `cannot query the power of ${node}` : `cannot fence ${node} (${action})`;
  const why = tried.map((attempt) => `${attempt.device}: ${attempt.detail}`).join('; ');
  return `${what}: ${why}`;
}

/**
 * Tries the levels in order until one succeeds (Pacemaker's fencing topology, one device per
 * level); a level that fails is recorded and the next one is tried. All failed: FENCE_FAILED.
 */
export async function tryLevels<T>(
  node: string,
  action: FenceAction,
  levels: readonly FenceConfig[],
  attempt: (fence: FenceConfig) => Promise<T>,
): Promise<{ value: T; level: number; fence: FenceConfig; tried: LevelAttempt[] }> {
  const tried: LevelAttempt[] = [];
  // A fix the failures name (e.g. a missing password file): shown when every level names the same.
  const hints = new Set<string | undefined>();
  for (const [index, fence] of levels.entries()) {
    const level = index + 1;
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    try {
      const value = await attempt(fence);
      tried.push({
        level,
        device: describeLevel(fence, level),
        ok: true,
        detail: 'done',
        ms: elapsed(),
      });
      return { value, level, fence, tried };
    } catch (error) {
      hints.add(error instanceof SkypgError ? error.hint : undefined);
      tried.push({
        level,
        device: describeLevel(fence, level),
        ok: false,
        detail: messageOf(error),
        ms: elapsed(),
      });
    }
  }
  const [only] = hints.size === 1 ? [...hints] : [];
  const check =
    only ??
    (action === 'off'
      ? `check each device ('skypg fence ${node} --action status', 'skypg doctor')`
      : `check the fence devices of ${node} ('skypg doctor' tests each level)`);
  throw new SkypgError('FENCE_FAILED', fenceFailureMessage(node, action, tried), {
    hint: action === 'off' ? `no level verified ${node} OFF, so it may still run; ${check}` : check,
  });
}

/**
 * Runs `action` through the node's fence levels, in order, until one does it: `off` is done
 * only when that level's status query says OFF. `status`, `on` and `reboot` use the first level
 * that answers.
 */
export async function fenceNode(
  node: NodeConfig,
  action: FenceAction,
  options: { netns?: string } = {},
): Promise<FenceResult> {
  if (node.fence.length === 0) {
    throw new SkypgError('USAGE', `node ${node.name} has no fence device configured`, {
      hint: `add a fence: block to node ${node.name} (docs/configuration.md)`,
    });
  }
  const started = performance.now();
  const done = await tryLevels(node.name, action, node.fence, (fence) =>
    fenceWithDevice(node, fence, action, options.netns),
  );
  return {
    node: node.name,
    level: done.level,
    device: describeLevel(done.fence, done.level),
    agent: done.fence.agent,
    action,
    power: done.value.power,
    changed: done.value.changed,
    ms: Math.round(performance.now() - started),
    tried: done.tried,
  };
}

/** One level's power state, by its status query (doctor checks every level this way). */
export async function queryLevel(
  node: NodeConfig,
  fence: FenceConfig,
  options: { netns?: string } = {},
): Promise<PowerState> {
  return (await fenceWithDevice(node, fence, 'status', options.netns)).power;
}

async function fenceWithDevice(
  node: NodeConfig,
  fence: FenceConfig,
  action: FenceAction,
  netns: string | undefined,
): Promise<{ power: PowerState; changed: boolean }> {
  const password = await readPassword(node.name, fence);
  const device = deviceFor(node, fence, password, netns);
  const initial = await device.status();
  if (action === 'status') return { power: initial, changed: false };
  if (action === 'reboot') {
    // Never a power cycle: it may report success before the power was really off.
    if (initial === 'on') await switchAndVerify(fence, device, 'off');
    await switchAndVerify(fence, device, 'on');
    return { power: 'on', changed: true };
  }
  const wanted: PowerState = action;
  if (initial === wanted) return { power: initial, changed: false };
  await switchAndVerify(fence, device, wanted);
  return { power: wanted, changed: true };
}

/** Switches, then polls status until it reports the wanted state; a timeout is a failure. */
async function switchAndVerify(
  fence: FenceConfig,
  device: FenceDevice,
  wanted: PowerState,
): Promise<void> {
  const deadline = Date.now() + fence.timeout;
  await device.switchPower(wanted);
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
  throw new Error(`power is not ${wanted} after ${fence.timeout}ms (last status: ${last})`);
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
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SkypgError('COMMAND_FAILED', `fence password file ${file} does not exist`, {
        hint: `put the device password of ${fence.label} for ${nodeName} on the first line of ${file} (mode 0600), or fix its fence.password_file`,
      });
    }
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
    const lines: [string, string][] = [
      ['action', action],
      ['nodename', node.name],
    ];
    if (fence.ip !== undefined) lines.push(['ip', fence.ip]);
    if (fence.ipport !== undefined) lines.push(['ipport', String(fence.ipport)]);
    if (fence.username !== undefined) lines.push(['username', fence.username]);
    if (password !== undefined) lines.push(['password', password]);
    // ClusterLabs agents sleep power_wait (2 s for fence_ipmilan) after OFF before they poll
    // the status; skypg does not count OFF until a status query says so, so that sleep only
    // delays the failover. A configured power_wait wins; a custom command gets only the options.
    const options =
      fence.agent === 'command' || 'power_wait' in fence.options
        ? fence.options
        : { power_wait: '0', ...fence.options };
    lines.push(...Object.entries(options));
    return agentInput(lines);
  };
  const run = (action: string, timeoutMs: number): Promise<ProgramResult> =>
    runProgram(program, [], {
      input: input(action),
      env: { PYTHONWARNINGS: 'ignore' },
      timeoutMs,
      allowFailure: true,
      ...(netns === undefined ? {} : { netns }),
    }).then((result) => redact(result, password));
  return {
    status: async () => {
      const result = await run('status', fence.connect_timeout);
      checkRan(result, program, 'status', fence.connect_timeout);
      if (result.exitCode === 0) return 'on';
      if (result.exitCode === 2) return 'off';
      throw new Error(`${program} status failed (exit ${result.exitCode}): ${lastLine(result)}`);
    },
    switchPower: async (state) => {
      const result = await run(state, fence.timeout);
      checkRan(result, program, state, fence.timeout);
      if (result.exitCode !== 0)
        throw new Error(
          `${program} ${state} failed (exit ${result.exitCode}): ${lastLine(result)}`,
        );
    },
  };
}

/**
 * The stdin of a fence agent, one `name=value` line each. The agent honours the last line of
 * a name, so a value holding a newline could add `action=off` to a status query: refused here
 * too, though config check refuses such values first.
 */
export function agentInput(lines: readonly [string, string][]): string {
  for (const [key, value] of lines) {
    if (!/^[A-Za-z0-9_-]+$/.test(key) || !isOneLine(value)) {
      throw new SkypgError(
        'REFUSED',
        `fence agent option ${JSON.stringify(key)} would not be one line of the agent's input`,
        {
          hint: 'option names are letters, digits, "_" and "-"; values have no control characters',
        },
      );
    }
  }
  return lines.map(([key, value]) => `${key}=${value}\n`).join('');
}

/** A program that did not start, or did not finish in time, says so in one line. */
function checkRan(result: ProgramResult, program: string, action: string, timeoutMs: number): void {
  if (result.timedOut) throw new Error(`${action} did not answer within ${timeoutMs}ms`);
  if (result.exitCode === -1) throw new Error(`${program} could not be run: ${lastLine(result)}`);
}

/**
 * ipmitool reads the password from password_file itself (-f), never from argv. -N/-R: one
 * retry after connect_timeout/2, so a BMC that vanished fails within connect_timeout.
 */
export function ipmitoolArgs(fence: FenceConfig, command: string): string[] {
  const retrySeconds = Math.max(1, Math.floor(fence.connect_timeout / 2000));
  return [
    '-I',
    fence.options['lanplus'] === '0' ? 'lan' : 'lanplus',
    '-C',
    fence.options['cipher'] ?? '3',
    '-N',
    String(retrySeconds),
    '-R',
    '1',
    '-H',
    fence.ip ?? '',
    '-p',
    String(fence.ipport ?? 623),
    ...(fence.username === undefined ? [] : ['-U', fence.username]),
    ...(fence.password_file === undefined ? [] : ['-f', fence.password_file]),
    ...(fence.options['privlvl'] === undefined ? [] : ['-L', fence.options['privlvl']]),
    'chassis',
    'power',
    command,
  ];
}

function ipmitoolDevice(fence: FenceConfig, netns?: string): FenceDevice {
  const run = (command: string, timeoutMs: number): Promise<ProgramResult> =>
    runProgram('ipmitool', ipmitoolArgs(fence, command), {
      timeoutMs,
      allowFailure: true,
      ...(netns === undefined ? {} : { netns }),
    });
  return {
    status: async () => {
      const result = await run('status', fence.connect_timeout);
      checkRan(result, 'ipmitool', 'status', fence.connect_timeout);
      const match = /Chassis Power is (on|off)/i.exec(result.stdout);
      if (result.exitCode !== 0 || !match?.[1])
        throw new Error(`ipmitool status failed (exit ${result.exitCode}): ${lastLine(result)}`);
      return match[1].toLowerCase() === 'on' ? 'on' : 'off';
    },
    switchPower: async (state) => {
      const result = await run(state, fence.timeout);
      checkRan(result, 'ipmitool', state, fence.timeout);
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
