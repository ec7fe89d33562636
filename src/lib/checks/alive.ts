// check-alive: is the supervisor on this node running, and is its state file fresh?
import { isSkypgError } from '../common/errors.js';
import type { CheckState } from './nagios.js';
import {
  processStartTicks,
  readSupervisorState,
  type SupervisorState,
} from '../supervisor/state-file.js';

export interface AliveObservation {
  path: string;
  state: SupervisorState | undefined;
  /** Whether state.pid is alive and is the same process (start time matches). */
  processRunning: boolean;
  /** Seconds since state.updatedAt, by this host's clock (the writer's clock too). */
  ageSeconds: number | undefined;
  /** Why the file cannot be trusted (e.g. dated in the future): CRITICAL, not UNKNOWN. */
  invalid?: string;
  /** When it was looked at (ms since the epoch): what running actions are measured against. */
  nowMs: number;
}

export async function observeAlive(path: string, nowMs: number): Promise<AliveObservation> {
  let state: SupervisorState | undefined;
  try {
    state = await readSupervisorState(path);
  } catch (error) {
    if (!isSkypgError(error) || error.code !== 'REFUSED') throw error;
    return {
      path,
      state: undefined,
      processRunning: false,
      ageSeconds: undefined,
      invalid: error.message,
      nowMs,
    };
  }
  if (state === undefined)
    return { path, state, processRunning: false, ageSeconds: undefined, nowMs };
  const ticks = await processStartTicks(state.pid);
  return {
    path,
    state,
    processRunning: ticks !== undefined && ticks === state.pidStartTicks,
    ageSeconds: Math.max(0, (nowMs - Date.parse(state.updatedAt)) / 1000),
    nowMs,
  };
}

export interface AliveOutcome {
  state: CheckState;
  text: string;
}

/** Pure: missing file, dead process, stale file or a blocked node are CRITICAL; paused is WARNING. */
export function evaluateAlive(observation: AliveObservation, maxAgeSeconds: number): AliveOutcome {
  const { state, ageSeconds } = observation;
  if (observation.invalid !== undefined) return { state: 'critical', text: observation.invalid };
  if (state === undefined) {
    return {
      state: 'critical',
      text: `no supervisor state file at ${observation.path}: the supervisor has not run on this node`,
    };
  }
  const age = `${(ageSeconds ?? 0).toFixed(1)}s`;
  if (!observation.processRunning) {
    return {
      state: 'critical',
      text: `supervisor pid ${state.pid} is not running (last update ${age} ago, state ${state.state})`,
    };
  }
  const running = state.action;
  const runningFor =
    running === undefined
      ? ''
      : ` in ${running.name} (running ${secondsSince(running.since, observation.nowMs)})`;
  if ((ageSeconds ?? 0) > maxAgeSeconds) {
    return {
      state: 'critical',
      text: `supervisor pid ${state.pid} runs but its state is ${age} old (max ${maxAgeSeconds}s): its loop is stuck${runningFor}`,
    };
  }
  if (running !== undefined && observation.nowMs > Date.parse(running.deadline)) {
    return {
      state: 'critical',
      text: `supervisor pid ${state.pid}: ${running.name} has run ${secondsSince(running.since, observation.nowMs)}, past its deadline ${running.deadline}; the watchdog abandons it (state ${state.state}: ${state.reason})`,
    };
  }
  const summary = `supervisor pid ${state.pid} ${state.state}, updated ${age} ago${runningFor}: ${state.reason}`;
  // The supervisor runs, but the node stays out of service until an operator acts.
  if (state.state === 'blocked')
    return { state: 'critical', text: `node needs an operator; ${summary}` };
  if (state.state === 'fence-failed')
    return { state: 'critical', text: `failover blocked: ${state.reason}` };
  return state.paused
    ? { state: 'warning', text: `cluster paused; ${summary}` }
    : { state: 'ok', text: summary };
}

function secondsSince(iso: string, nowMs: number): string {
  return `${Math.max(0, (nowMs - Date.parse(iso)) / 1000).toFixed(1)}s`;
}
