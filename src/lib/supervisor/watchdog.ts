// The loop's watchdog, as pure rules: how long each action may run, how long the loop waits for
// one before it goes on observing, when a running action may be overtaken, and what a primary
// does when it cannot observe at all. Policy lives here so it is table-tested; loop.ts only
// keeps the clock and the promises.
import type { ClusterConfig } from '../config/types.js';
import type { Action, Decision, SupervisorStateName } from './types.js';

/**
 * How long each action may run before the watchdog abandons it. Each is above the deadlines of
 * the programs it runs (pg_ctl -t 60 plus 5 s, fence.timeout, pg_basebackup), so reaching one
 * means something ran without a deadline: the loop must not wait on it for ever.
 */
export function actionDeadlineMs(action: Action, config: ClusterConfig): number {
  switch (action.kind) {
    case 'take-vip':
    case 'drop-vip':
    case 'set-sync':
    case 'set-async':
      return 20_000;
    case 'demote':
      return 30_000;
    case 'start-standby':
    case 'restart-primary':
      return 90_000;
    case 'fence-peer':
      // Reading the peer and the fence device, then every fence level may take its timeout.
      return 30_000 + fenceBudgetMs(config);
    case 'promote':
      // pg_promote's wait and the slot, after hooks.pre_promote, which may use its whole timeout.
      return 60_000 + (config.hooks.pre_promote?.timeout ?? 0);
    case 'hand-over':
      return 120_000;
    case 'rebuild':
      // A base backup of a large cluster legitimately takes hours.
      return 6 * 3600_000;
  }
}

function fenceBudgetMs(config: ClusterConfig): number {
  // Every level may take its timeout before the next is tried.
  return config.nodes.reduce(
    (most, node) =>
      Math.max(
        most,
        node.fence.reduce((sum, level) => sum + level.timeout, 0),
      ),
    0,
  );
}

/**
 * How long one loop waits for its actions before it goes on observing (they keep running).
 * One interval and one timeout: the slack selfDemotionDeadlineMs allows a primary's loop, so a
 * slow action never delays a primary noticing that it is isolated.
 */
export function actionWaitMs(config: ClusterConfig): number {
  return config.heartbeat.interval + config.heartbeat.timeout;
}

/** How long one observation may take: its parts are each bounded by heartbeat.timeout. */
export function observeDeadlineMs(config: ClusterConfig): number {
  return Math.max(
    3 * config.heartbeat.timeout,
    config.heartbeat.misses * config.heartbeat.interval,
  );
}

/** The loop overran when it has not finished one for misses x interval (check-alive's default). */
export function loopOverrunMs(config: ClusterConfig): number {
  return config.heartbeat.misses * config.heartbeat.interval;
}

export interface RunningActions {
  actions: Action[];
  startedAt: number;
  deadlineAt: number;
}

export type StartVerdict =
  { start: true; abandoned?: RunningActions } | { start: false; reason: string };

/**
 * Whether newly decided actions may start while earlier ones still run. They wait (two effects
 * on one server at once would race), except that a demotion overtakes anything: it is what
 * keeps a primary that must stop from accepting writes. Past its deadline the running set is
 * abandoned.
 */
export function mayStart(
  next: Action[],
  running: RunningActions | undefined,
  now: number,
  describe: (actions: Action[]) => string,
): StartVerdict {
  if (running === undefined) return { start: true };
  if (now >= running.deadlineAt) return { start: true, abandoned: running };
  if (next.some((action) => action.kind === 'demote')) return { start: true };
  return {
    start: false,
    reason: `${describe(next)} not started: ${describe(running.actions)} still running for ${Math.round((now - running.startedAt) / 1000)}s (deadline in ${Math.round((running.deadlineAt - now) / 1000)}s)`,
  };
}

/** The state names in which this node holds (or may hold) the primary role. */
const primaryStates: ReadonlySet<SupervisorStateName> = new Set(['primary', 'switchover']);

/**
 * A primary that cannot observe cannot notice that it is isolated, and the peer stops waiting
 * for it after the same isolation_timeout: so past it, the primary stops itself rather than
 * keep the role silently.
 */
export function blindPrimaryMustDemote(
  lastState: SupervisorStateName | undefined,
  lastObservedAt: number,
  now: number,
  config: ClusterConfig,
): boolean {
  if (lastState === undefined || !primaryStates.has(lastState)) return false;
  return now - lastObservedAt >= config.failover.isolation_timeout;
}

/** What the loop does when a primary has been blind too long (the shape of a Decision). */
export type WatchdogDecision = Pick<Decision, 'state' | 'rule' | 'reason' | 'actions'>;

/**
 * The watchdog's own decision after an observation failed: a primary blind for
 * isolation_timeout stops (rule watchdog-blind-primary-demote); otherwise nothing is done.
 */
export function blindPrimaryDecision(
  nodeName: string,
  lastState: SupervisorStateName | undefined,
  lastObservedAt: number,
  now: number,
  config: ClusterConfig,
): WatchdogDecision | undefined {
  if (!blindPrimaryMustDemote(lastState, lastObservedAt, now, config)) return undefined;
  return {
    state: 'demoted',
    rule: 'watchdog-blind-primary-demote',
    reason: `${nodeName} has not completed an observation for ${Math.round((now - lastObservedAt) / 1000)}s: a primary that cannot see whether it is isolated stops accepting writes`,
    // The peer stops waiting for this primary after isolation_timeout: stop first.
    actions: [{ kind: 'demote', mode: 'fast' }],
  };
}

/** The state and reason the state file reports (check-alive and status read them). */
export interface ReportedState {
  state: SupervisorStateName | 'fence-failed';
  reason: string;
}

/**
 * The decision as the state file tells it. When no fence level verified the peer off, that
 * is said loudly (check-alive CRITICAL) until an action set succeeds: the promotion is never
 * done unfenced and is retried every loop. Otherwise a failed last action is appended.
 */
export function reportedState(
  decision: Pick<Decision, 'state' | 'reason'>,
  lastActionError: string | undefined,
  fenceFailed: boolean,
): ReportedState {
  if (fenceFailed)
    return { state: 'fence-failed', reason: `${lastActionError ?? ''} (retried every loop)` };
  return {
    state: decision.state,
    reason:
      lastActionError === undefined
        ? decision.reason
        : `${decision.reason}; last action failed: ${lastActionError}`,
  };
}
