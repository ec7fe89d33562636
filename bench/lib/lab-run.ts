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
import { checkConfigText, formatProblem } from '../../src/lib/config/load.js';
import { parseDuration } from '../../src/lib/config/units.js';
import { runProgram } from '../../src/lib/process/run-program.js';
import { badFlag } from '../measure.js';

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

/**
 * Settings a benchmark may change from the defaults, as the YAML durations the operator would
 * write (`500ms`): what a shorter detection buys, and what it costs under chaos.
 */
export interface LabTuning {
  heartbeatTimeout?: string;
  confirmTimeout?: string;
}

/** The parseBenchArgs options of a tuning, shared by bench:failover and bench:steady. */
export const tuningFlags = {
  'heartbeat-timeout': { type: 'string' },
  'confirm-timeout': { type: 'string' },
} as const;

/** The tuning the flags ask for; a malformed duration is a bad flag. */
export function tuningOf(values: {
  'heartbeat-timeout'?: string;
  'confirm-timeout'?: string;
}): LabTuning {
  const duration = (flag: string, text: string | undefined): string | undefined => {
    if (text === undefined) return undefined;
    if (parseDuration(text) === undefined) badFlag(`--${flag} takes a duration such as 500ms`);
    return text;
  };
  return {
    heartbeatTimeout: duration('heartbeat-timeout', values['heartbeat-timeout']),
    confirmTimeout: duration('confirm-timeout', values['confirm-timeout']),
  };
}

export function isTuned(tuning: LabTuning): boolean {
  return tuning.heartbeatTimeout !== undefined || tuning.confirmTimeout !== undefined;
}

/** How a report's title names the settings: "default settings" or what differs from them. */
export function tuningLine(tuning: LabTuning): string {
  const changed = [
    tuning.heartbeatTimeout === undefined ? '' : `heartbeat.timeout ${tuning.heartbeatTimeout}`,
    tuning.confirmTimeout === undefined ? '' : `beacon.confirm_timeout ${tuning.confirmTimeout}`,
  ].filter((part) => part !== '');
  return changed.length === 0 ? 'default settings' : `defaults but ${changed.join(', ')}`;
}

/**
 * The lab's configuration refused the tuning (a duration under a setting's minimum, say): the
 * bench reports it as a bad flag once its labs are torn down, not as a stack trace.
 */
export class TuningRefused extends Error {}

let labCount = 0;

/**
 * Builds a lab under `parent` in the given replication mode, with the tuning written into its
 * configuration file the way an operator would edit it; the caller tears it down.
 */
export async function buildLab(
  parent: string,
  mode: 'async' | 'sync',
  tuning: LabTuning = {},
): Promise<NetnsLabState> {
  labCount += 1;
  const state = await netnsLabUp({ dir: join(parent, `lab-${labCount}`) });
  try {
    const built = await readFile(state.configPath, 'utf8');
    const text = tunedConfigText(built, mode, tuning);
    if (text === built) return state;
    // The supervisors would refuse a bad file; say so here, before any trial starts.
    const checked = await checkConfigText(text, state.configPath);
    if (checked.config === undefined) {
      const problems = checked.problems.map(formatProblem).join('; ');
      throw new TuningRefused(`the lab's configuration refuses the tuning: ${problems}`);
    }
    await writeFile(state.configPath, text);
    return state;
  } catch (error) {
    await tearDown(state);
    throw error;
  }
}

function tunedConfigText(text: string, mode: 'async' | 'sync', tuning: LabTuning): string {
  // Same edit as the failover stories: the lab is built async, supervisors read the mode.
  let tuned = mode === 'sync' ? text.replace('mode: async', 'mode: sync') : text;
  if (tuning.heartbeatTimeout !== undefined) {
    if (!/^heartbeat: \{ /m.test(tuned)) throw new Error('the lab config has no heartbeat: { line');
    tuned = tuned.replace(/^heartbeat: \{ /m, `heartbeat: { timeout: ${tuning.heartbeatTimeout}, `);
  }
  if (tuning.confirmTimeout !== undefined) {
    if (/^beacon:/m.test(tuned)) throw new Error('the lab config already has a beacon: section');
    tuned = `${tuned.trimEnd()}\nbeacon: { confirm_timeout: ${tuning.confirmTimeout} }\n`;
  }
  return tuned;
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
