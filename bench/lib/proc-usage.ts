// CPU time and peak memory of a process, from /proc (Linux).
import { readFile } from 'node:fs/promises';
import { runProgram } from '../../src/lib/process/run-program.js';

export interface CpuTicks {
  /** Ticks the process itself ran (user + system). */
  own: number;
  /** Plus the ticks of its children that it has waited for (ping, ip, arping, ...). */
  withChildren: number;
}

let ticksPerSecond: number | undefined;

export async function clockTicksPerSecond(): Promise<number> {
  ticksPerSecond ??= Number((await runProgram('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
  return ticksPerSecond;
}

export async function cpuTicks(pid: number): Promise<CpuTicks> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
  const fields = text
    .slice(text.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const at = (field: number): number => fields[field - 3] ?? 0;
  return { own: at(14) + at(15), withChildren: at(14) + at(15) + at(16) + at(17) };
}

/** Peak resident set size (VmHWM) in bytes. */
export async function peakRss(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmHWM:\s+(\d+) kB/m.exec(text)?.[1];
  return kib === undefined ? NaN : Number(kib) * 1024;
}
