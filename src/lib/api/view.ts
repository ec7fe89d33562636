// What the health API answers from: the supervisor's latest loop, kept by a loop watcher. The
// API never queries PostgreSQL, so a hung server cannot hang a health check; an answer older
// than the loop's overrun limit counts as no answer.
import type { BeaconStats } from '../beacon/beacon.js';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import type { HookStats } from '../hooks/runner.js';
import type { ActionsReport, LoopReport, LoopWatcher } from '../supervisor/loop.js';
import type { Decision, Observation } from '../supervisor/types.js';

/** Counted since the supervisor started (Prometheus counters: they only go up). */
export interface ViewCounters {
  loops: number;
  failedObservations: number;
  /** fence-peer actions that powered the peer off (not those that found it off or a standby). */
  fences: number;
  /** fence-peer actions that cleared the old primary, however (fenced, found off, a standby). */
  peerClearances: number;
  promotions: number;
  demotions: number;
  failedActions: number;
}

export interface SupervisorView {
  cluster: string;
  node: string;
  peer: string;
  startedAt: number;
  /** The latest loop, whether its observation succeeded or not. */
  lastLoop?: { startedAt: number; endedAt: number; error?: string };
  /** The latest successful observation and the decision taken on it. */
  observation?: Observation;
  decision?: Decision;
  counters: ViewCounters;
  /** From the last moment the old primary was seen alive to the end of this node's promotion. */
  lastFailoverMs?: number;
  /**
   * When this node's own promotion set ended with the server promoted and the primary VIP taken
   * (when one is configured): what the next observation will show, known a loop earlier.
   */
  promotedAt?: number;
  /** The event hooks' counters, read when asked (hooks/runner.ts). */
  hooks?: HookStats;
  /** The beacon's counts, read when asked (beacon/beacon.ts); none when it is off. */
  beacon?: BeaconStats;
}

/** What the view reads from other parts of the supervisor when it is asked for. */
export interface ViewSources {
  hookStats?: () => HookStats;
  beaconStats?: () => BeaconStats;
}

/** A loop watcher that keeps the view; `view()` is what the HTTP server reads. */
export class ViewRecorder implements LoopWatcher {
  readonly name = 'health API view';
  private readonly current: SupervisorView;

  constructor(
    config: ClusterConfig,
    node: NodeConfig,
    startedAt: number,
    private readonly sources: ViewSources = {},
  ) {
    const peer = config.nodes.find((other) => other.name !== node.name)?.name ?? '';
    this.current = {
      cluster: config.cluster,
      node: node.name,
      peer,
      startedAt,
      counters: {
        loops: 0,
        failedObservations: 0,
        fences: 0,
        peerClearances: 0,
        promotions: 0,
        demotions: 0,
        failedActions: 0,
      },
    };
  }

  view(): SupervisorView {
    const hooks = this.sources.hookStats?.();
    const beacon = this.sources.beaconStats?.();
    if (hooks === undefined && beacon === undefined) return this.current;
    return {
      ...this.current,
      ...(hooks === undefined ? {} : { hooks }),
      ...(beacon === undefined ? {} : { beacon }),
    };
  }

  readonly loopEnded = (report: LoopReport): void => {
    const view = this.current;
    view.counters.loops += 1;
    view.lastLoop = {
      startedAt: report.startedAt,
      endedAt: report.endedAt,
      ...(report.error === undefined ? {} : { error: report.error }),
    };
    if (report.observation === undefined) {
      view.counters.failedObservations += 1;
      return;
    }
    view.observation = report.observation;
    if (report.decision !== undefined) view.decision = report.decision;
  };

  readonly actionsEnded = (report: ActionsReport): void => {
    const counters = this.current.counters;
    const succeeded = (kind: string, role?: string): boolean =>
      report.outcomes.some(
        (outcome) =>
          outcome.ok &&
          outcome.action.kind === kind &&
          (role === undefined || ('role' in outcome.action && outcome.action.role === role)),
      );
    const vipWanted = report.decision.actions.some(
      (action) => action.kind === 'take-vip' && action.role === 'primary',
    );
    if (succeeded('promote') && (!vipWanted || succeeded('take-vip', 'primary')))
      this.current.promotedAt = report.endedAt;
    for (const outcome of report.outcomes) {
      if (!outcome.ok) {
        counters.failedActions += 1;
        continue;
      }
      const kind = outcome.action.kind;
      if (kind === 'fence-peer') {
        counters.peerClearances += 1;
        if (outcome.fence === 'powered-off') counters.fences += 1;
      }
      if (kind === 'demote' || kind === 'hand-over') counters.demotions += 1;
      if (kind === 'promote') {
        counters.promotions += 1;
        // The decision's memory holds when the primary was last seen alive (decide.ts).
        const lastAlive = report.decision.memory.primaryLastAliveAt;
        if (lastAlive !== undefined) this.current.lastFailoverMs = report.endedAt - lastAlive;
      }
    }
  };
}
