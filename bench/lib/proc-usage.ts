// CPU time and peak memory of a process, from /proc (Linux).
import { readdir, readFile } from 'node:fs/promises';
import { runProgram } from '../../src/lib/process/run-program.js';

export interface CpuTicks {
  /** Ticks the process itself ran (user + system). */
  own: number;
  /**
   * Plus its children's: those it has waited for (arping, pg_ctl, ...) and those still running
   * (the probe helper's shell, with the ip and ping it has waited for), so that work moved
   * out of the process still counts.
   */
  withChildren: number;
}

let ticksPerSecond: number | undefined;

export async function clockTicksPerSecond(): Promise<number> {
  ticksPerSecond ??= Number((await runProgram('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
  return ticksPerSecond;
}

interface ProcStat {
  ppid: number;
  /** utime + stime */
  own: number;
  /** cutime + cstime: waited-for children */
  reaped: number;
}

async function procStat(pid: number): Promise<ProcStat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // Fields after the parenthesised name: state is field 3, ppid 4, utime 14, stime 15,
  // cutime 16, cstime 17.
  const fields = text
    .slice(text.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const at = (field: number): number => fields[field - 3] ?? 0;
  return { ppid: at(4), own: at(14) + at(15), reaped: at(16) + at(17) };
}

export async function cpuTicks(pid: number): Promise<CpuTicks> {
  const stat = await procStat(pid);
  if (stat === undefined) throw new Error(`no process ${pid}`);
  const all = new Map<number, ProcStat>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const other = await procStat(Number(entry));
    if (other !== undefined) all.set(Number(entry), other);
  }
  const descendants = (parent: number): number =>
    [...all]
      .filter(([, other]) => other.ppid === parent)
      .reduce((sum, [child, other]) => sum + other.own + other.reaped + descendants(child), 0);
  return { own: stat.own, withChildren: stat.own + stat.reaped + descendants(pid) };
}

/** Peak resident set size (VmHWM) in bytes. */
export async function peakRss(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmHWM:\s+(\d+) kB/m.exec(text)?.[1];
  return kib === undefined ? NaN : Number(kib) * 1024;
}
