// Processes of the multi-host lab as /proc and `ip netns pids` show them: which run in a
// namespace, their state, signalling them, and waiting for a condition.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SkypgError, messageOf } from '../errors.js';
import { runProgram } from '../process/run-program.js';

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

export async function childrenOf(parent: number): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry)).map(Number);
  const parents = await Promise.all(pids.map(async (pid) => (await procStat(pid))?.ppid));
  return pids.filter((_pid, index) => parents[index] === parent);
}

/** State letter and parent from /proc/PID/stat (fields after the parenthesised name). */
export async function procStat(pid: number): Promise<{ state: string; ppid: number } | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: state ?? '', ppid: Number(ppid) };
}

export async function isRunning(pid: number): Promise<boolean> {
  const stat = await procStat(pid);
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
