// The supervisor loop: observe -> decide -> act -> state file -> log, once per
// heartbeat.interval, until asked to stop. Stopping never touches PostgreSQL or the VIPs.
// Nothing may stall it (watchdog.ts): observation has a deadline, and actions run while the
// next loops observe, each set abandoned past its deadline.
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { configHash } from '../config/hash.js';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { SkypgError, messageOf } from '../common/errors.js';
import { act } from './act.js';
import { decide } from './decide.js';
import type { JsonLog } from './log.js';
import { observe } from './observe.js';
import { processStartTicks, stateFilePath, writeSupervisorState } from './state-file.js';
import { initialMemory, type Action, type Decision, type Memory } from './types.js';
import {
  actionDeadlineMs,
  actionWaitMs,
  blindPrimaryMustDemote,
  mayStart,
  observeDeadlineMs,
  type RunningActions,
} from './watchdog.js';

export interface LoopOptions {
  once: boolean;
  dryRun: boolean;
  log: JsonLog;
  /** Aborted by SIGTERM/SIGINT: the loop ends after the current iteration. */
  signal: AbortSignal;
  /** skypg's version, recorded in the state file for `skypg doctor`. */
  version?: string;
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
): Promise<LoopSummary> {
  const { log } = options;
  const statePath = stateFilePath(config, node.name);
  const startedAt = new Date().toISOString();
  const pidStartTicks = (await processStartTicks('self')) ?? 0;
  const hash = configHash(config);
  let memory: Memory = initialMemory;
  let lastActionError: string | undefined;
  // Set by the action task's callback (a closure the compiler cannot follow, hence an object).
  const fencing = { failed: false };
  let previous: Decision | undefined;
  let running: ActionTask | undefined;
  let lastObservedAt = Date.now();
  let lastNotPeer: string | undefined;
  let loops = 0;

  const startActions = (actions: Action[]): ActionTask => {
    const begun = Date.now();
    const task: ActionTask = {
      actions,
      startedAt: begun,
      deadlineAt:
        begun + actions.reduce((sum, action) => sum + actionDeadlineMs(action, config), 0),
      done: Promise.resolve(),
    };
    task.done = act(config, node, actions)
      .then((outcomes) => {
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
    await writeSupervisorState(statePath, {
      version: 1,
      cluster: config.cluster,
      node: node.name,
      pid: process.pid,
      pidStartTicks,
      startedAt,
      updatedAt: new Date().toISOString(),
      loops,
      // No fence level left: never promoted, said loudly (check-alive CRITICAL), retried every loop.
      state: fencing.failed ? 'fence-failed' : decision.state,
      reason: fencing.failed
        ? `${lastActionError ?? ''} (retried every loop)`
        : lastActionError === undefined
          ? decision.reason
          : `${decision.reason}; last action failed: ${lastActionError}`,
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
      pgWal: await readlink(join(node.data_dir, 'pg_wal')).catch(() => null),
    }).catch((error: unknown) => {
      log.write({
        event: 'error',
        node: node.name,
        detail: `cannot write the state file ${statePath}: ${messageOf(error)}`,
      });
    });
  };

  log.write({
    event: 'start',
    node: node.name,
    detail: `supervisor pid ${process.pid}${options.dryRun ? ' (dry run: actions are logged, not done)' : ''}`,
  });
  while (!options.signal.aborted) {
    const loopStarted = Date.now();
    loops += 1;
    let decision: Decision;
    try {
      const observation = await withDeadline(
        observe(config, node, () => Date.now()),
        observeDeadlineMs(config),
        'the observation',
      );
      lastObservedAt = Date.now();
      if (lastActionError !== undefined) observation.lastActionError = lastActionError;
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
      if (
        !options.dryRun &&
        blindPrimaryMustDemote(previous?.state, lastObservedAt, Date.now(), config)
      ) {
        // The peer stops waiting for this primary after isolation_timeout: stop first.
        log.write({
          event: 'decision',
          node: node.name,
          state: 'demoted',
          rule: 'watchdog-blind-primary-demote',
          reason: `${node.name} has not completed an observation for ${Math.round((Date.now() - lastObservedAt) / 1000)}s: a primary that cannot see whether it is isolated stops accepting writes`,
        });
        running = startActions([{ kind: 'demote', mode: 'fast' }]);
      }
      await pause(config, loopStarted, options.signal);
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
      const verdict = mayStart(decision.actions, running, Date.now(), describeActions);
      if (!verdict.start) {
        log.write({ event: 'action', node: node.name, detail: verdict.reason });
      } else {
        if (verdict.abandoned !== undefined) {
          log.write({
            event: 'error',
            node: node.name,
            detail: `watchdog: abandoned ${describeActions(verdict.abandoned.actions)}, still running ${Math.round((Date.now() - verdict.abandoned.startedAt) / 1000)}s after it started (past its deadline)`,
          });
        }
        running = startActions(decision.actions);
      }
    }
    memory = decision.memory;
    previous = decision;
    // Written before waiting on an action and again after the wait: the file is never older
    // than the wait or one observation (not both), and an action's outcome shows at once.
    await writeState(decision);
    if (running !== undefined) {
      // --once finishes what it started; the daemon goes on observing after a short wait.
      await (options.once
        ? running.done
        : Promise.race([running.done, sleep(actionWaitMs(config))]));
      await writeState(decision);
    }
    if (options.once) break;
    await pause(config, loopStarted, options.signal, decision.nextLoopMs);
  }
  if (running !== undefined) {
    // Stopping mid-promotion would leave it half done: let it finish, within its deadline.
    const left = Math.max(0, running.deadlineAt - Date.now());
    await Promise.race([running.done, sleep(left)]);
  }
  log.write({
    event: 'stop',
    node: node.name,
    detail: `after ${loops} loops; PostgreSQL and the VIPs are left as they are`,
  });
  return { loops, lastDecision: previous };
}

/** The work's result, or an error once deadlineMs passed (the work itself is left to finish). */
async function withDeadline<T>(work: Promise<T>, deadlineMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    const fail = (): void => {
      reject(new SkypgError('COMMAND_FAILED', `${what} did not finish within ${deadlineMs}ms`));
    };
    timer = setTimeout(fail, deadlineMs);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sleeps the rest of the interval (at least a moment, so a slow loop cannot spin). */
async function pause(
  config: ClusterConfig,
  loopStarted: number,
  signal: AbortSignal,
  intervalMs = config.heartbeat.interval,
): Promise<void> {
  const left = Math.max(50, intervalMs - (Date.now() - loopStarted));
  await sleep(left, undefined, { signal }).catch(() => undefined);
}
