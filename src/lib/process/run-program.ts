// The one adapter for running external programs (PostgreSQL tools, ip, arping, fence agents).
// It switches to the configured OS user when skypg runs as root, never echoes stdin (it may
// hold a secret), and turns failures into one-line errors.
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { basename } from 'node:path';
import { SkypgError } from '../common/errors.js';

export interface RunOptions {
  /** Run as this OS user (via runuser when skypg is root; ignored otherwise). */
  asUser?: string;
  /** Run inside this network namespace (`ip netns exec`, root only): the lab's hosts. */
  netns?: string;
  cwd?: string;
  env?: Record<string, string>;
  /** Written to stdin; never logged or included in errors. */
  input?: string;
  timeoutMs?: number;
  /** Return non-zero exits instead of throwing. */
  allowFailure?: boolean;
}

export interface ProgramResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The OS user PostgreSQL programs run as: the configured one when root, else ourselves. */
export function effectiveOsUser(configured: string): string {
  return isRoot() ? configured : userInfo().username;
}

/**
 * The command line actually executed: `ip netns exec NS` first (it needs root), then runuser
 * when a user switch is needed.
 */
export function commandLine(
  file: string,
  args: string[],
  asUser?: string,
  netns?: string,
): [string, string[]] {
  let line: [string, string[]] = [file, args];
  if (asUser !== undefined && isRoot() && asUser !== 'root') {
    line = ['runuser', ['-u', asUser, '--', file, ...args]];
  }
  if (netns !== undefined) line = ['ip', ['netns', 'exec', netns, line[0], ...line[1]]];
  return line;
}

/**
 * How long a finished program's output streams may stay open after it exits: a grandchild it
 * left behind (a daemon, a hung helper) would otherwise hold the pipes and stall the caller.
 */
const streamGraceMs = 250;

export async function runProgram(
  file: string,
  args: string[],
  options: RunOptions = {},
): Promise<ProgramResult> {
  const [command, commandArgs] = withoutAmbientCapabilities(
    commandLine(file, args, options.asUser, options.netns),
    file,
  );
  const { execa } = await loadExeca();
  // Its own process group, so a deadline can stop the program and everything it started.
  const child = execa(command, commandArgs, {
    cwd: options.cwd,
    env: options.env,
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : 'pipe',
    detached: true,
    reject: false,
    stripFinalNewline: true,
  });
  // Set by the deadline's timer (a closure the compiler cannot follow, hence an object).
  const deadlineHit = { timedOut: false };
  const closeStreams = (): void => {
    killGroup(child.pid);
    child.stdout.destroy();
    child.stderr.destroy();
  };
  const deadline =
    options.timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          deadlineHit.timedOut = true;
          closeStreams();
        }, options.timeoutMs);
  let grace: NodeJS.Timeout | undefined;
  child.once('exit', () => {
    grace = setTimeout(closeStreams, streamGraceMs);
  });
  const result = await child;
  const { timedOut } = deadlineHit;
  clearTimeout(deadline);
  clearTimeout(grace);
  const outcome: ProgramResult = {
    exitCode: timedOut ? -1 : (result.exitCode ?? -1),
    stdout: result.stdout,
    stderr: result.stderr,
    timedOut,
  };
  if (options.allowFailure === true) return outcome;
  if (result.failed || timedOut) {
    const program = basename(file);
    if (timedOut) {
      throw new SkypgError(
        'COMMAND_FAILED',
        `${program} did not finish within ${String(options.timeoutMs)}ms: stopped it`,
      );
    }
    if ((result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new SkypgError('COMMAND_FAILED', `${program} is not installed (${file} not found)`, {
        hint: 'install it or set the path in the configuration',
      });
    }
    const why = lastLine(outcome.stderr) ?? lastLine(outcome.stdout) ?? 'no output';
    throw new SkypgError(
      'COMMAND_FAILED',
      `${program} failed (exit ${String(result.exitCode)}): ${why}`,
    );
  }
  return outcome;
}

/** SIGKILL to a whole process group; one that is already gone is no error. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: nothing left in the group.
  }
}

/** Programs that need the network capabilities a systemd unit grants skypg (ping: the
 * gateway check; under NoNewPrivileges its own file capability does not apply). */
const networkPrograms = new Set(['ip', 'arping', 'ping']);

/**
 * Under a unit with AmbientCapabilities (CAP_NET_ADMIN, CAP_NET_RAW for ip, arping, ping), every
 * child would inherit them, PostgreSQL included: then any database superuser could re-address
 * interfaces. setpriv clears the ambient and inheritable sets before it runs anything else.
 */
export function withoutAmbientCapabilities(
  line: [string, string[]],
  file: string,
  ambient: bigint = ambientCapabilities(),
): [string, string[]] {
  if (ambient === 0n || networkPrograms.has(basename(file))) return line;
  return ['setpriv', ['--inh-caps=-all', '--ambient-caps=-all', '--', line[0], ...line[1]]];
}

let ambientCache: bigint | undefined;

/** This process's ambient capability set (CapAmb in /proc/self/status), read once. */
export function ambientCapabilities(): bigint {
  if (ambientCache !== undefined) return ambientCache;
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const hex = /^CapAmb:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    ambientCache = hex === undefined ? 0n : BigInt(`0x${hex}`);
  } catch {
    ambientCache = 0n;
  }
  return ambientCache;
}

/** The last non-empty line of a program's output, trimmed. */
export function lastLine(text: string): string | undefined {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return lines.at(-1);
}

/**
 * Starts a program that finishes on its own (e.g. arping sending announcements a second apart)
 * without waiting for it: the caller goes on while it runs. Output is discarded.
 */
export async function startDetached(
  file: string,
  args: string[],
  options: { netns?: string } = {},
): Promise<number | undefined> {
  const [command, commandArgs] = commandLine(file, args, undefined, options.netns);
  const { execa } = await loadExeca();
  const child = execa(command, commandArgs, {
    detached: true,
    stdio: 'ignore',
    reject: false,
    cleanup: false,
  });
  child.unref();
  // A failure to start (ENOENT) must not crash the caller; it shows in the next status.
  child.catch(() => undefined);
  return child.pid;
}

/**
 * execa and its hundred modules load only when a program is run: check-lag, status and
 * check-alive, which cron and NRPE start every minute, never run one (bench:startup).
 */
function loadExeca(): Promise<typeof import('execa')> {
  return import('execa');
}
