// The one adapter for running external programs (PostgreSQL tools, ip, arping, fence agents).
// It switches to the configured OS user when skypg runs as root, never echoes stdin (it may
// hold a secret), and turns failures into one-line errors.
import { userInfo } from 'node:os';
import { basename } from 'node:path';
import { execa } from 'execa';
import { SkypgError } from '../errors.js';

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

export async function runProgram(
  file: string,
  args: string[],
  options: RunOptions = {},
): Promise<ProgramResult> {
  const [command, commandArgs] = commandLine(file, args, options.asUser, options.netns);
  const result = await execa(command, commandArgs, {
    cwd: options.cwd,
    env: options.env,
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : 'pipe',
    timeout: options.timeoutMs,
    reject: false,
    stripFinalNewline: true,
  });
  const outcome: ProgramResult = {
    exitCode: result.exitCode ?? -1,
    stdout: result.stdout,
    stderr: result.stderr,
    timedOut: result.timedOut,
  };
  if (options.allowFailure === true) return outcome;
  if (result.failed) {
    const program = basename(file);
    if (result.timedOut) {
      throw new SkypgError(
        'COMMAND_FAILED',
        `${program} did not finish within ${String(options.timeoutMs)}ms`,
      );
    }
    if ((result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new SkypgError('COMMAND_FAILED', `${program} is not installed (${file} not found)`, {
        hint: 'install it or set the path in the configuration',
      });
    }
    const why = lastLine(result.stderr) ?? lastLine(result.stdout) ?? 'no output';
    throw new SkypgError(
      'COMMAND_FAILED',
      `${program} failed (exit ${String(result.exitCode)}): ${why}`,
    );
  }
  return outcome;
}

function lastLine(text: string): string | undefined {
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
export function startDetached(
  file: string,
  args: string[],
  options: { netns?: string } = {},
): number | undefined {
  const [command, commandArgs] = commandLine(file, args, undefined, options.netns);
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
