// CPU time and peak memory of a process, from /proc (Linux).
import { readFile } from 'node:fs/promises';
import { childrenOf } from '../../src/lib/process/proc.js';
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

interface OwnTicks {
  /** utime + stime */
  own: number;
  /** cutime + cstime: waited-for children */
  reaped: number;
}

async function ownTicks(pid: number): Promise<OwnTicks | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // Fields after the parenthesised name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
  const fields = text
    .slice(text.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const at = (field: number): number => fields[field - 3] ?? 0;
  return { own: at(14) + at(15), reaped: at(16) + at(17) };
}

/** Ticks of the live descendants of pid, each with the children it has waited for. */
async function liveDescendantTicks(pid: number): Promise<number> {
  let sum = 0;
  for (const child of await childrenOf(pid)) {
    const ticks = await ownTicks(child);
    if (ticks !== undefined) sum += ticks.own + ticks.reaped + (await liveDescendantTicks(child));
  }
  return sum;
}

export async function cpuTicks(pid: number): Promise<CpuTicks> {
  const ticks = await ownTicks(pid);
  if (ticks === undefined) throw new Error(`no process ${pid}`);
  return {
    own: ticks.own,
    withChildren: ticks.own + ticks.reaped + (await liveDescendantTicks(pid)),
  };
}

/** Peak resident set size (VmHWM) in bytes. */
export async function peakRss(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmHWM:\s+(\d+) kB/m.exec(text)?.[1];
  return kib === undefined ? NaN : Number(kib) * 1024;
}
