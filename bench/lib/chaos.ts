// bench:steady --chaos: the trouble a healthy pair must ride out (busy CPUs, lossy links,
// supervisors paused for a moment), started and stopped as one, and how the supervisors' logs
// are read for false alarms. The pure parts are unit-tested in test/unit/chaos-bench.test.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import type { LogLine } from '../../src/lib/lab/lab-cluster.js';
import {
  pauseProcess,
  readPacketLoss,
  startCpuHogs,
  startPacketLoss,
  stopCpuHogs,
  stopPacketLoss,
  type LinkLoss,
} from '../../src/lib/lab/netns-chaos.js';
import type { LabHostName, NetnsLabState } from '../../src/lib/lab/netns-lab.js';
import { signalAll } from '../../src/lib/lab/netns-process.js';

export interface ChaosSettings {
  /** Busy loops started in each host's namespace. */
  hogsPerHost: number;
  /** Frames dropped at random on each host's link, each way, in percent. */
  lossPercent: number;
  /** How long each pause of a supervisor lasts. */
  pauseMs: number;
  /** Mean of the exponential gaps between two pauses of one supervisor. */
  meanPauseGapMs: number;
}

export const defaultChaos: ChaosSettings = {
  hogsPerHost: 2,
  lossPercent: 5,
  pauseMs: 300,
  meanPauseGapMs: 20_000,
};

/** Exponentially distributed (a Poisson process's gaps): pauses come at random moments. */
export function exponentialGapMs(meanMs: number, random: () => number): number {
  // 1 - random() is in (0, 1], so the logarithm is finite and not negative.
  return meanMs * Math.log(1 / (1 - random()));
}

export interface PauserDeps {
  random: () => number;
  /** Stops the process for `ms`, resumes it, and returns how long it was stopped. */
  pause: (pid: number, ms: number) => Promise<number>;
  /** Waits `ms`, rejecting as soon as `signal` aborts. */
  wait: (ms: number, signal: AbortSignal) => Promise<void>;
}

const realPauserDeps: PauserDeps = {
  random: Math.random,
  pause: pauseProcess,
  wait: async (ms, signal) => {
    await sleep(ms, undefined, { signal });
  },
};

export interface PauserResult {
  /** How long each pause stopped the process, by the bench's clock. */
  pausesMs: number[];
  /** Why the pauses ended before `signal` did (the process was gone), if they did. */
  error?: string;
}

/** Pauses `pid` at random moments until `signal` aborts; never rejects. */
export async function pauseAtRandom(
  pid: number,
  settings: Pick<ChaosSettings, 'pauseMs' | 'meanPauseGapMs'>,
  signal: AbortSignal,
  deps: PauserDeps = realPauserDeps,
): Promise<PauserResult> {
  const pausesMs: number[] = [];
  // A call, not the property: the compiler would keep `aborted` narrowed across the awaits.
  const ended = (): boolean => signal.aborted;
  while (!ended()) {
    try {
      await deps.wait(exponentialGapMs(settings.meanPauseGapMs, deps.random), signal);
    } catch (error) {
      if (ended()) break;
      return { pausesMs, error: error instanceof Error ? error.message : String(error) };
    }
    try {
      pausesMs.push(await deps.pause(pid, settings.pauseMs));
    } catch (error) {
      return { pausesMs, error: error instanceof Error ? error.message : String(error) };
    }
  }
  return { pausesMs };
}

export interface HostChaos {
  host: LabHostName;
  hogPids: number[];
  supervisorPid: number;
  pausesMs: number[];
  pauseError?: string;
  link?: LinkLoss;
}

export interface ChaosFigures {
  settings: ChaosSettings;
  hosts: HostChaos[];
  pauses: number;
  droppedFrames: number;
}

export interface ChaosRun {
  /** Ends every part of the trouble (each even when another fails) and returns its figures. */
  stop: () => Promise<ChaosFigures>;
  /** Synchronous last resort for a signal handler: resumes the supervisors, kills the hogs. */
  stopNow: () => void;
}

/**
 * Starts the hogs, the packet loss and one pauser per supervisor. A part that fails to start
 * undoes the parts already started before the error goes on.
 */
export async function startChaos(
  state: NetnsLabState,
  supervisors: Map<LabHostName, number>,
  settings: ChaosSettings,
): Promise<ChaosRun> {
  const hosts: HostChaos[] = [...supervisors].map(([host, supervisorPid]) => ({
    host,
    hogPids: [],
    supervisorPid,
    pausesMs: [],
  }));
  const allHogs = (): number[] => hosts.flatMap((host) => host.hogPids);
  const thaw = (): void => {
    signalAll(
      hosts.map((host) => host.supervisorPid),
      'SIGCONT',
    );
  };
  let lossStarted = false;
  try {
    for (const host of hosts)
      host.hogPids = await startCpuHogs(state, host.host, settings.hogsPerHost);
    await startPacketLoss(state, settings.lossPercent);
    lossStarted = true;
  } catch (error) {
    if (lossStarted) await stopPacketLoss(state).catch(() => undefined);
    await stopCpuHogs(allHogs()).catch(() => undefined);
    throw error;
  }
  const ending = new AbortController();
  const pausers = hosts.map((host) =>
    pauseAtRandom(host.supervisorPid, settings, ending.signal).then((result) => {
      host.pausesMs = result.pausesMs;
      if (result.error !== undefined) host.pauseError = result.error;
    }),
  );

  const stop = async (): Promise<ChaosFigures> => {
    const failures: unknown[] = [];
    const step = async (work: () => Promise<void>): Promise<void> => {
      try {
        await work();
      } catch (error) {
        failures.push(error);
      }
    };
    ending.abort();
    await step(async () => {
      await Promise.all(pausers);
    });
    thaw();
    await step(async () => {
      const loss = await readPacketLoss(state);
      for (const host of hosts) host.link = loss[host.host];
    });
    await step(() => stopPacketLoss(state));
    await step(() => stopCpuHogs(allHogs()));
    if (failures.length > 0) throw failures[0];
    return {
      settings,
      hosts,
      pauses: hosts.reduce((sum, host) => sum + host.pausesMs.length, 0),
      droppedFrames: hosts.reduce((sum, host) => sum + (host.link?.dropped ?? 0), 0),
    };
  };
  const stopNow = (): void => {
    ending.abort();
    thaw();
    signalAll(allHogs(), 'SIGKILL');
  };
  return { stop, stopNow };
}

/** What the supervisors did during a run, as the goal "no false alarms" counts it. */
export interface Alarms {
  /** promote actions. */
  failovers: number;
  /** demote actions (a primary stepping down on its own). */
  selfDemotions: number;
  /** fence-peer actions, whatever their outcome. */
  fences: number;
  /** Decisions other than the steady primary-healthy / standby-following, one line each. */
  otherDecisions: string[];
  /** The same decisions counted by node and rule. */
  otherRules: Record<string, number>;
}

const steadyRules = new Set(['primary-healthy', 'standby-following']);

/** Counts the alarms in log lines written at or after `since` (ms since the epoch). */
export function countAlarms(lines: LogLine[], since: number): Alarms {
  const during = lines.filter((line) => Date.parse(line.time) >= since);
  const actions = during.filter((line) => line.event === 'action' && line.action !== undefined);
  const other = during.filter(
    (line) => line.event === 'decision' && !steadyRules.has(line.rule ?? ''),
  );
  const otherRules: Record<string, number> = {};
  for (const line of other) {
    const key = `${line.node} ${line.rule ?? '(no rule)'}`;
    otherRules[key] = (otherRules[key] ?? 0) + 1;
  }
  return {
    failovers: actions.filter((line) => line.action === 'promote').length,
    selfDemotions: actions.filter((line) => line.action?.startsWith('demote') === true).length,
    fences: actions.filter((line) => line.action === 'fence-peer').length,
    otherDecisions: other.map(
      (line) => `${line.time} ${line.node}: ${line.rule ?? ''}: ${line.reason ?? ''}`,
    ),
    otherRules,
  };
}
