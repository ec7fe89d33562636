// The one reader of /proc: a process's state, parent, start time and command line, and its
// children. Every PID skypg signals is identified through here first.
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

export interface ProcStat {
  /** The command name (a zombie keeps it; its command line is gone). */
  comm: string;
  /** The state letter: R, S, D, T (stopped), Z (zombie), X (dead), ... */
  state: string;
  ppid: number;
  /** Start time in clock ticks since boot: with the PID, it names one process for good. */
  startTicks: number;
}

/** /proc/PID/stat, or undefined when the process does not exist. */
export async function readProcStat(pid: number | 'self'): Promise<ProcStat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseProcStat(text);
}

function parseProcStat(text: string): ProcStat {
  // Fields after the command name (which may contain spaces) start at its closing ')'.
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  return {
    comm: text.slice(text.indexOf('(') + 1, close),
    state: fields[0] ?? '',
    ppid: Number(fields[1]),
    startTicks: Number(fields[19]),
  };
}

/** The process's arguments (argv[0] first); empty when it does not exist. */
export async function readCmdline(pid: number): Promise<string[]> {
  return readFile(`/proc/${pid}/cmdline`, 'utf8').then(
    (text) => text.split('\0'),
    () => [],
  );
}

/** Whether the PID names a live process (a zombie has exited: it only waits to be reaped). */
export function isLiveProcess(pid: number): Promise<boolean> {
  // Read synchronously: the supervisor asks ten times a second (waker.ts), procfs answers from
  // memory, and a read through the thread pool and its promises cost more than the read.
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return Promise.resolve(false);
  }
  const { state } = parseProcStat(text);
  return Promise.resolve(state !== 'Z' && state !== 'X');
}

/**
 * How many processes are attached to the System V shared memory segment `shmid`
 * (/proc/sysvipc/shm): 0 when it is gone too; undefined when the table cannot be read.
 */
export async function shmAttachments(shmid: number): Promise<number | undefined> {
  const text = await readFile('/proc/sysvipc/shm', 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  for (const line of text.split('\n').slice(1)) {
    // key shmid perms size cpid lpid nattch ...
    const fields = line.trim().split(/\s+/);
    if (Number(fields[1]) === shmid) return Number(fields[6]);
  }
  return 0;
}

/** The PIDs whose parent is `parent`. */
export async function childrenOf(parent: number): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry)).map(Number);
  const parents = await Promise.all(pids.map(async (pid) => (await readProcStat(pid))?.ppid));
  return pids.filter((_pid, index) => parents[index] === parent);
}
