// What the lab benchmarks share: a multi-host lab in a temporary directory that is always
// removed, the wait for a healthy pair, and a line describing the machine the figures came from.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { labPsql, supervisorState } from '../../src/lib/lab/lab-cluster.js';
import {
  holdsAddress,
  namespacePids,
  netnsLabDown,
  netnsLabUp,
  primaryVipAddress,
  type LabHostName,
  type NetnsLabState,
} from '../../src/lib/lab/netns-lab.js';
import { runProgram } from '../../src/lib/process/run-program.js';

export const primaryVip = primaryVipAddress;

export function peerHost(host: LabHostName): LabHostName {
  return host === 'host1' ? 'host2' : 'host1';
}

/** Polls `probe` every `everyMs` until it returns a value; throws naming `what` at the deadline. */
export async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(everyMs);
  }
  const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${why}`);
}

export interface LabDirs {
  /** Parent of the lab directories (a fresh temporary one unless given). */
  parent: string;
  ownsParent: boolean;
}

/** A parent directory for labs, open (0711) to the postgres OS user. */
export async function labParent(given: string | undefined): Promise<LabDirs> {
  if (given !== undefined) return { parent: given, ownsParent: false };
  const parent = await mkdtemp(join(tmpdir(), 'skypg-bench-'));
  await chmod(parent, 0o711);
  return { parent, ownsParent: true };
}

export async function removeLabParent(dirs: LabDirs): Promise<void> {
  if (dirs.ownsParent) await rm(dirs.parent, { recursive: true, force: true });
}

let labCount = 0;

/** Builds a lab under `parent` in the given replication mode; the caller tears it down. */
export async function buildLab(parent: string, mode: 'async' | 'sync'): Promise<NetnsLabState> {
  labCount += 1;
  const state = await netnsLabUp({ dir: join(parent, `lab-${labCount}`) });
  if (mode === 'sync') {
    // Same edit as the failover stories: the lab is built async, supervisors read the mode.
    const text = await readFile(state.configPath, 'utf8');
    await writeFile(state.configPath, text.replace('mode: async', 'mode: sync'));
  }
  return state;
}

export async function tearDown(state: NetnsLabState): Promise<void> {
  await netnsLabDown(state.dir);
}

export const holdsVip = (state: NetnsLabState, host: LabHostName): Promise<boolean> =>
  holdsAddress(state, host);

/** Whether a host is powered off (nothing runs in its namespace). */
export async function isPoweredOff(state: NetnsLabState, host: LabHostName): Promise<boolean> {
  return (await namespacePids(state.netns[host])).length === 0;
}

/**
 * A healthy pair: supervisors report one primary and one standby, the standby streams (and is
 * the synchronous standby in sync mode), and the primary holds the VIP. Returns the primary.
 */
export async function waitHealthy(
  state: NetnsLabState,
  mode: 'async' | 'sync',
  timeoutMs: number,
): Promise<LabHostName> {
  return until(
    'a healthy pair (one primary with the VIP, one streaming standby)',
    timeoutMs,
    async () => {
      const [one, two] = await Promise.all([
        supervisorState(state, 'host1'),
        supervisorState(state, 'host2'),
      ]);
      const primary =
        one?.state === 'primary' && two?.state === 'standby'
          ? 'host1'
          : two?.state === 'primary' && one?.state === 'standby'
            ? 'host2'
            : undefined;
      if (primary === undefined) return undefined;
      const standby = peerHost(primary);
      const receiver = await labPsql(state, standby, 'select status from pg_stat_wal_receiver');
      if (receiver !== 'streaming') return undefined;
      if (mode === 'sync') {
        const sync = await labPsql(state, primary, 'select sync_state from pg_stat_replication');
        if (sync !== 'sync') return undefined;
      }
      return (await holdsVip(state, primary)) ? primary : undefined;
    },
    250,
  );
}

/** PIDs of the skypg supervisor processes running in a host's namespace. */
export async function supervisorPids(state: NetnsLabState, host: LabHostName): Promise<number[]> {
  const pids: number[] = [];
  for (const pid of await namespacePids(state.netns[host])) {
    const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').then(
      (text) => text.split('\0'),
      () => [] as string[],
    );
    if (argv.some((arg) => arg.endsWith('/bin/run.js')) && argv.includes('supervisor'))
      pids.push(pid);
  }
  return pids;
}

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  postgres: string;
  date: string;
}

export async function describeMachine(binDir: string): Promise<Machine> {
  const version = await runProgram(join(binDir, 'postgres'), ['--version'], {
    allowFailure: true,
  });
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres: version.stdout.trim().replace(/^postgres \(PostgreSQL\) /, 'PostgreSQL '),
    date: new Date().toISOString().slice(0, 10),
  };
}

export function machineLine(machine: Machine): string {
  return `${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, ${machine.postgres}, node ${machine.node}, ${machine.date}`;
}
