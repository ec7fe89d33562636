// Processes of the multi-host lab as /proc and `ip netns pids` show them: which run in a
// namespace, their state, signalling them, and waiting for a condition.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SkypgError, messageOf } from '../common/errors.js';
import { runProgram } from '../process/run-program.js';
import { readProcStat } from '../process/proc.js';

export async function namespaceExists(name: string): Promise<boolean> {
  return stat(join('/run/netns', name)).then(
    () => true,
    () => false,
  );
}

/** SIGKILL everything in the namespace until `ip netns pids` lists nothing (zombies are not listed). */
export async function killNamespace(name: string): Promise<{ pids: number[]; empty: boolean }> {
  const seen: number[] = [];
  for (let round = 0; round < 100; round += 1) {
    const pids = await namespacePids(name);
    if (pids.length === 0) return { pids: seen, empty: true };
    seen.push(...pids.filter((pid) => !seen.includes(pid)));
    signalAll(pids, 'SIGKILL');
    await sleep(50);
  }
  return { pids: seen, empty: (await namespacePids(name)).length === 0 };
}

/** PIDs of every process whose network namespace is `name` (empty if it does not exist). */
export async function namespacePids(name: string): Promise<number[]> {
  const result = await runProgram('ip', ['netns', 'pids', name], { allowFailure: true });
  if (result.exitCode !== 0) return [];
  return result.stdout
    .split(/\s+/)
    .filter((word) => /^\d+$/.test(word))
    .map(Number);
}

export function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone already
    }
  }
}

export { childrenOf } from '../process/proc.js';

/** State letter and parent from /proc/PID/stat. */
export async function procStat(pid: number): Promise<{ state: string; ppid: number } | undefined> {
  const stat = await readProcStat(pid);
  return stat === undefined ? undefined : { state: stat.state, ppid: stat.ppid };
}

export async function isRunning(pid: number): Promise<boolean> {
  const stat = await readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/** 'stopped' (T), 'gone', or 'running' (anything else), from /proc/PID/stat. */
export async function processState(pid: number): Promise<'stopped' | 'gone' | 'running'> {
  const state = (await procStat(pid))?.state;
  return state === undefined || state === 'Z' || state === 'X'
    ? 'gone'
    : state === 'T' || state === 't'
      ? 'stopped'
      : 'running';
}

export async function waitFor(
  what: string,
  timeoutMs: number,
  ready: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await ready()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    await sleep(50);
  }
  const why = lastError === undefined ? '' : ` (${messageOf(lastError)})`;
  throw new SkypgError('LAB_FAILED', `timed out after ${timeoutMs}ms waiting for ${what}${why}`);
}

export function lastLine(text: string): string | undefined {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .at(-1);
}
