// The supervisor loop: observe -> decide -> act -> state file -> log, once per
// heartbeat.interval, until asked to stop. Stopping never touches PostgreSQL or the VIPs.
// Nothing may stall it (watchdog.ts): observation has a deadline, and actions run while the
// next loops observe, each set abandoned past its deadline. The policy of that is in
// watchdog.ts; here are only the clock and the promises, and every effect goes through LoopDeps.
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as timerSleep } from 'node:timers/promises';
import { beaconEvidence, type PeerBeaconView } from '../beacon/tracker.js';
import { configHash } from '../config/hash.js';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { SkypgError, messageOf } from '../common/errors.js';
import { act, type ActionOutcome } from './act.js';
import { decide } from './decide.js';
import type { LogEntry } from './log.js';
import { observe, type ObserveHints } from './observe.js';
import { realObserveDeps } from './observe-deps.js';
import {
  processStartTicks,
  stateFilePath,
  writeSupervisorState,
  type SupervisorState,
} from './state-file.js';
import {
  initialMemory,
  type Action,
  type Decision,
  type Memory,
  type Observation,
} from './types.js';
import {
  actionDeadlineMs,
  actionWaitMs,
  blindPrimaryDecision,
  mayStart,
  observeDeadlineMs,
  reportedState,
  type RunningActions,
} from './watchdog.js';
import type { Waker } from './waker.js';

/**
 * Everything the loop does to the outside world, so that its logic runs on fakes in unit tests
 * (test/support/loop-fakes.ts); realLoopDeps are the adapters the supervisor runs with.
 */
export interface LoopDeps {
  observe: (
    config: ClusterConfig,
    node: NodeConfig,
    now: () => number,
    hints?: ObserveHints,
  ) => Promise<Observation>;
  act: (config: ClusterConfig, node: NodeConfig, actions: Action[]) => Promise<ActionOutcome[]>;
  /** Replaces the state file (atomically). */
  writeState: (path: string, state: SupervisorState) => Promise<void>;
  /** This process's start time in clock ticks since boot (0 when /proc cannot say). */
  selfStartTicks: () => Promise<number>;
  /** Where the data directory's pg_wal points; null when it is not a symlink. */
  pgWalTarget: (dataDir: string) => Promise<string | null>;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** Resolves after ms, or as soon as signal aborts; never rejects. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const realLoopDeps: LoopDeps = {
  observe: (config, node, now, hints) => observe(config, node, now, realObserveDeps, hints),
  act,
  writeState: writeSupervisorState,
  selfStartTicks: async () => (await processStartTicks('self')) ?? 0,
  pgWalTarget: (dataDir) => readlink(join(dataDir, 'pg_wal')).catch(() => null),
  now: () => Date.now(),
  sleep: (ms, signal) =>
    timerSleep(ms, undefined, signal === undefined ? {} : { signal }).catch(() => undefined),
};

/** Where the loop's lines go (JsonLog; a recording log in tests). */
export interface LoopLog {
  write: (entry: LogEntry) => void;
}

/** What one loop saw and decided: observation undefined when it failed (error says why). */
export interface LoopReport {
  startedAt: number;
  endedAt: number;
  observation?: Observation;
  /** The decision, or the blind-primary decision after a failed observation. */
  decision?: Decision;
  error?: string;
}

/** A set of actions that ended, with the decision that started it. */
export interface ActionsReport {
  decision: Decision;
  startedAt: number;
  endedAt: number;
  outcomes: ActionOutcome[];
}

/**
 * Told what each loop saw and what each action set did: the health API's view and the event
 * hooks listen here. Called synchronously; a watcher must return at once and never throw
 * (a throw is logged and the watcher is not called again).
 */
export interface LoopWatcher {
  name: string;
  loopEnded?: (report: LoopReport) => void;
  actionsEnded?: (report: ActionsReport) => void;
}

export interface LoopOptions {
  once: boolean;
  dryRun: boolean;
  log: LoopLog;
  /** Aborted by SIGTERM/SIGINT: the loop ends after the current iteration. */
  signal: AbortSignal;
  /** skypg's version, recorded in the state file for `skypg doctor`. */
  version?: string;
  watchers?: LoopWatcher[];
  /** Ends a pause early (the peer's beacon fell silent, this node's postmaster died). */
  waker?: Waker;
  /** The peer's beacon as heard now (src/lib/beacon), when the beacon is on. */
  peerBeacon?: () => PeerBeaconView;
}

export interface LoopSummary {
  loops: number;
  lastDecision: Decision | undefined;
}

export function describeAction(action: Action): string {
  if (action.kind === 'take-vip' || action.kind === 'drop-vip')
    return `${action.kind} ${action.role}`;
  if (action.kind === 'demote') return `demote (${action.mode})`;
  if (action.kind === 'set-async')
    return action.recordDegrade ? 'set-async (degrade recorded)' : 'set-async';
  return action.kind;
}

export function describeActions(actions: Action[]): string {
  return actions.map(describeAction).join(', ');
}

/** Actions started by one loop and not yet finished: later loops go on observing meanwhile. */
interface ActionTask extends RunningActions {
  done: Promise<void>;
}

export async function runSupervisor(
  config: ClusterConfig,
  node: NodeConfig,
  options: LoopOptions,
  deps: LoopDeps = realLoopDeps,
): Promise<LoopSummary> {
  const { log } = options;
  const statePath = stateFilePath(config, node.name);
  const startedAt = new Date(deps.now()).toISOString();
  const pidStartTicks = await deps.selfStartTicks();
  const hash = configHash(config);
  let memory: Memory = initialMemory;
  let lastActionError: string | undefined;
  // Set by the action task's callback (a closure the compiler cannot follow, hence an object).
  const fencing = { failed: false };
  let previous: Decision | undefined;
  let running: ActionTask | undefined;
  let lastObservedAt = deps.now();
  let lastNotPeer: string | undefined;
  let loops = 0;
  const watchers = [...(options.watchers ?? [])];

  /** Tells every watcher; one that throws is logged and dropped, the loop goes on. */
  const tell = (call: (watcher: LoopWatcher) => void): void => {
    for (const watcher of [...watchers]) {
      try {
        call(watcher);
      } catch (error) {
        watchers.splice(watchers.indexOf(watcher), 1);
        log.write({
          event: 'error',
          node: node.name,
          detail: `${watcher.name} failed and is no longer told of loops: ${messageOf(error)}`,
        });
      }
    }
  };

  const startActions = (actions: Action[], decision: Decision): ActionTask => {
    const begun = deps.now();
    const task: ActionTask = {
      actions,
      startedAt: begun,
      deadlineAt:
        begun + actions.reduce((sum, action) => sum + actionDeadlineMs(action, config), 0),
      done: Promise.resolve(),
    };
    task.done = deps
      .act(config, node, actions)
      .then((outcomes) => {
        const endedAt = deps.now();
        tell((watcher) =>
          watcher.actionsEnded?.({ decision, startedAt: begun, endedAt, outcomes }),
        );
        lastActionError = undefined;
        fencing.failed = false;
        for (const outcome of outcomes) {
          log.write({
            event: 'action',
            node: node.name,
            action: describeAction(outcome.action),
            result: outcome.ok ? 'ok' : 'failed',
            detail: outcome.detail,
            durationMs: outcome.ms,
          });
          if (!outcome.ok) lastActionError = outcome.detail;
          if (outcome.code === 'FENCE_FAILED') fencing.failed = true;
        }
      })
      .finally(() => {
        if (running === task) running = undefined;
      });
    return task;
  };

  const writeState = async (decision: Decision): Promise<void> => {
    await deps
      .writeState(statePath, {
        version: 1,
        cluster: config.cluster,
        node: node.name,
        pid: process.pid,
        pidStartTicks,
        startedAt,
        updatedAt: new Date(deps.now()).toISOString(),
        loops,
        ...reportedState(decision, lastActionError, fencing.failed),
        paused: decision.state === 'paused',
        ...(running === undefined
          ? {}
          : {
              action: {
                name: describeActions(running.actions),
                since: new Date(running.startedAt).toISOString(),
                deadline: new Date(running.deadlineAt).toISOString(),
              },
            }),
        ...(options.version === undefined ? {} : { skypgVersion: options.version }),
        configHash: hash,
        pgWal: await deps.pgWalTarget(node.data_dir),
      })
      .catch((error: unknown) => {
        log.write({
          event: 'error',
          node: node.name,
          detail: `cannot write the state file ${statePath}: ${messageOf(error)}`,
        });
      });
  };

  /** Waits for the running actions, at most ms (they go on running). */
  const waitForRunning = async (task: ActionTask, ms: number): Promise<void> => {
    const stop = new AbortController();
    await Promise.race([task.done, deps.sleep(ms, stop.signal)]);
    stop.abort();
  };

  /**
   * Sleeps the rest of the interval (at least a moment, so a slow loop cannot spin), or until
   * the waker says something changed (a wake while the loop was busy ends it at once).
   */
  const pause = async (loopStarted: number, intervalMs = config.heartbeat.interval) => {
    const ms = Math.max(50, intervalMs - (deps.now() - loopStarted));
    const { waker } = options;
    if (waker === undefined) {
      await deps.sleep(ms, options.signal);
      return;
    }
    const done = new AbortController();
    const stop = (): void => {
      done.abort();
    };
    options.signal.addEventListener('abort', stop, { once: true });
    await Promise.race([deps.sleep(ms, done.signal), waker.next(done.signal)]);
    done.abort();
    options.signal.removeEventListener('abort', stop);
  };

  log.write({
    event: 'start',
    node: node.name,
    detail: `supervisor pid ${process.pid}${options.dryRun ? ' (dry run: actions are logged, not done)' : ''}`,
  });
  while (!options.signal.aborted) {
    const loopStarted = deps.now();
    loops += 1;
    const woke = options.waker?.take();
    if (woke !== undefined)
      log.write({ event: 'wake', node: node.name, detail: `observing now: ${woke}` });
    const beaconBefore = options.peerBeacon?.();
    // Whether the peer's beacon signalled before this look: then its fence device is asked too.
    const peerSignal =
      beaconBefore !== undefined &&
      config.beacon !== undefined &&
      beaconEvidence(beaconBefore, loopStarted, config.beacon.timeout).signalForMs !== undefined;
    let decision: Decision;
    let observation: Observation;
    // A wake while this look is under way (the beacon fell silent, the postmaster died) starts
    // the peer's checks again at once instead of after this look (observe.ts, againOnSignal).
    const lookDone = new AbortController();
    const signalDuringLook =
      options.waker === undefined || peerSignal
        ? undefined
        : wokenDuring(options.waker, lookDone.signal);
    try {
      try {
        observation = await withDeadline(
          deps.observe(config, node, deps.now, {
            peerSignal,
            ...(signalDuringLook === undefined ? {} : { signalDuringLook }),
          }),
          observeDeadlineMs(config),
          'the observation',
          deps.sleep,
        );
      } finally {
        lookDone.abort();
      }
      lastObservedAt = deps.now();
      if (lastActionError !== undefined) observation.lastActionError = lastActionError;
      if (options.peerBeacon && config.beacon) {
        // One turn of the event loop first: datagrams that queued while this process was
        // stalled are read before the view is taken (timers run before I/O on a resume).
        await new Promise<void>((resolve) => setImmediate(resolve));
        observation.peerBeacon = beaconEvidence(
          options.peerBeacon(),
          deps.now(),
          config.beacon.timeout,
        );
      }
      // An impostor at the peer's address is logged once, when it appears or changes.
      const notPeer = observation.peerServer.notPeer;
      if (notPeer !== undefined && notPeer !== lastNotPeer)
        log.write({ event: 'error', node: node.name, detail: notPeer });
      lastNotPeer = notPeer;
      decision = decide(observation, memory, config);
    } catch (error) {
      log.write({
        event: 'error',
        node: node.name,
        detail: `observation failed: ${messageOf(error)}`,
      });
      const blind = options.dryRun
        ? undefined
        : blindPrimaryDecision(node.name, previous?.state, lastObservedAt, deps.now(), config);
      if (blind !== undefined) {
        log.write({
          event: 'decision',
          node: node.name,
          state: blind.state,
          rule: blind.rule,
          reason: blind.reason,
        });
        running = startActions(blind.actions, { ...blind, memory });
      }
      const failedAt = deps.now();
      tell((watcher) =>
        watcher.loopEnded?.({
          startedAt: loopStarted,
          endedAt: failedAt,
          ...(blind === undefined ? {} : { decision: { ...blind, memory } }),
          error: `observation failed: ${messageOf(error)}`,
        }),
      );
      await pause(loopStarted);
      continue;
    }
    const changed =
      previous === undefined ||
      previous.rule !== decision.rule ||
      previous.state !== decision.state;
    if (changed || decision.actions.length > 0) {
      log.write({
        event: 'decision',
        node: node.name,
        state: decision.state,
        rule: decision.rule,
        reason: decision.reason,
      });
    }
    if (decision.actions.length > 0 && options.dryRun) {
      for (const action of decision.actions)
        log.write({
          event: 'action',
          node: node.name,
          action: describeAction(action),
          detail: 'dry run: not done',
        });
    } else if (decision.actions.length > 0) {
      const now = deps.now();
      const verdict = mayStart(decision.actions, running, now, describeActions);
      if (!verdict.start) {
        log.write({ event: 'action', node: node.name, detail: verdict.reason });
      } else {
        if (verdict.abandoned !== undefined) {
          log.write({
            event: 'error',
            node: node.name,
            detail: `watchdog: abandoned ${describeActions(verdict.abandoned.actions)}, still running ${Math.round((now - verdict.abandoned.startedAt) / 1000)}s after it started (past its deadline)`,
          });
        }
        running = startActions(decision.actions, decision);
      }
    }
    const decidedAt = deps.now();
    const seen = observation;
    tell((watcher) =>
      watcher.loopEnded?.({
        startedAt: loopStarted,
        endedAt: decidedAt,
        observation: seen,
        decision,
      }),
    );
    memory = decision.memory;
    previous = decision;
    // Written before waiting on an action and again after the wait: the file is never older
    // than the wait or one observation (not both), and an action's outcome shows at once, even
    // one that ended while the first write was under way.
    const waitedOn = running;
    await writeState(decision);
    if (waitedOn !== undefined) {
      // --once finishes what it started; the daemon goes on observing after a short wait.
      await (options.once ? waitedOn.done : waitForRunning(waitedOn, actionWaitMs(config)));
      await writeState(decision);
    }
    if (options.once) break;
    await pause(loopStarted, decision.nextLoopMs);
  }
  if (running !== undefined) {
    // Stopping mid-promotion would leave it half done: let it finish, within its deadline.
    await waitForRunning(running, Math.max(0, running.deadlineAt - deps.now()));
  }
  log.write({
    event: 'stop',
    node: node.name,
    detail: `after ${loops} loops; PostgreSQL and the VIPs are left as they are`,
  });
  return { loops, lastDecision: previous };
}

/** Resolves at the waker's next wake; never when the look ended first (lookDone aborted). */
function wokenDuring(waker: Waker, lookDone: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    void waker.next(lookDone).then(() => {
      if (!lookDone.aborted) resolve();
    });
  });
}

/** The work's result, or an error once deadlineMs passed (the work itself is left to finish). */
async function withDeadline<T>(
  work: Promise<T>,
  deadlineMs: number,
  what: string,
  sleep: LoopDeps['sleep'],
): Promise<T> {
  const settled = new AbortController();
  const expired = new Promise<never>((_, reject) => {
    void sleep(deadlineMs, settled.signal).then(() => {
      if (!settled.signal.aborted)
        reject(new SkypgError('COMMAND_FAILED', `${what} did not finish within ${deadlineMs}ms`));
    });
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    settled.abort();
  }
}
