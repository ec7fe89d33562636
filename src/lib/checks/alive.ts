// check-alive: is the supervisor on this node running, and is its state file fresh?
import type { CheckState } from '../nagios.js';
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
}

export async function observeAlive(path: string, nowMs: number): Promise<AliveObservation> {
  const state = await readSupervisorState(path);
  if (state === undefined) return { path, state, processRunning: false, ageSeconds: undefined };
  const ticks = await processStartTicks(state.pid);
  return {
    path,
    state,
    processRunning: ticks !== undefined && ticks === state.pidStartTicks,
    ageSeconds: Math.max(0, (nowMs - Date.parse(state.updatedAt)) / 1000),
  };
}

export interface AliveOutcome {
  state: CheckState;
  text: string;
}

/** Pure: missing file, dead process, stale file or a blocked node are CRITICAL; paused is WARNING. */
export function evaluateAlive(observation: AliveObservation, maxAgeSeconds: number): AliveOutcome {
  const { state, ageSeconds } = observation;
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
  if ((ageSeconds ?? 0) > maxAgeSeconds) {
    return {
      state: 'critical',
      text: `supervisor pid ${state.pid} runs but its state is ${age} old (max ${maxAgeSeconds}s): it is stuck`,
    };
  }
  const summary = `supervisor pid ${state.pid} ${state.state}, updated ${age} ago: ${state.reason}`;
  // The supervisor runs, but the node stays out of service until an operator acts.
  if (state.state === 'blocked')
    return { state: 'critical', text: `node needs an operator; ${summary}` };
  if (state.state === 'fence-failed')
    return { state: 'critical', text: `failover blocked: ${state.reason}` };
  return state.paused
    ? { state: 'warning', text: `cluster paused; ${summary}` }
    : { state: 'ok', text: summary };
}
