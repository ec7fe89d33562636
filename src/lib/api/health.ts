// What this node is, as the health API and /metrics say it: derived from the supervisor's
// latest loop (view.ts), never from a query of its own. Pure.
import type { ClusterConfig } from '../config/types.js';
import { standbyLagBytes } from '../failover/promotion.js';
import type { SupervisorStateName } from '../supervisor/types.js';
import { loopOverrunMs } from '../supervisor/watchdog.js';
import type { SupervisorView } from './view.js';

export type HealthRole = 'primary' | 'standby' | 'unknown';

export interface NodeHealth {
  /** The loop finished within its overrun limit (docs/monitoring.md): /liveness. */
  loopRecent: boolean;
  /** The last observation is that recent; an older one answers nothing. */
  fresh: boolean;
  /** PostgreSQL runs here and accepted a new connection: /health. */
  postgresUp: boolean;
  role: HealthRole;
  state: SupervisorStateName | undefined;
  /** The primary, healthy (its beat commits), its supervisor says so, and it holds the primary
   * VIP when one is configured: /primary. */
  writablePrimary: boolean;
  /** A standby whose WAL receiver streams: /replica. */
  streamingStandby: boolean;
  /** Standby: bytes behind (received-not-replayed, or the primary's recorded lag). */
  lagBytes: number | undefined;
  /** Standby in sync mode that the primary waits for (no degrade recorded): /sync. */
  syncStandby: boolean;
  paused: boolean;
  observedAgeMs: number | undefined;
}

/** The supervisor states in which a primary still serves writes (not demoted, not blocked). */
const servingStates: ReadonlySet<SupervisorStateName> = new Set([
  'primary',
  'paused',
  'switchover',
]);

export function nodeHealth(view: SupervisorView, config: ClusterConfig, now: number): NodeHealth {
  const limit = loopOverrunMs(config);
  const loopRecent = view.lastLoop !== undefined && now - view.lastLoop.endedAt <= limit;
  const observation = view.observation;
  const observedAgeMs = observation === undefined ? undefined : now - observation.now;
  const fresh = observedAgeMs !== undefined && observedAgeMs <= limit;
  const local = fresh ? observation?.local : undefined;
  // This node's own promotion that ended after the last observation (view.ts): the server
  // answered pg_promote() and the VIP is taken, as the next loop will show. It counts until
  // that loop, within the same freshness limit as an observation.
  const justPromoted =
    view.promotedAt !== undefined &&
    (observation === undefined || view.promotedAt > observation.now) &&
    now - view.promotedAt <= limit;
  const postgresUp = justPromoted || (local?.running === true && local.answering);
  const role: HealthRole = justPromoted
    ? 'primary'
    : postgresUp
      ? (local?.role ?? 'unknown')
      : 'unknown';
  const state = view.decision?.state;
  const vip = observation?.primaryVip;
  const writablePrimary =
    justPromoted ||
    (role === 'primary' &&
      local?.beatCommitted !== false &&
      state !== undefined &&
      servingStates.has(state) &&
      (vip === undefined || !vip.configured || vip.heldHere));
  const streamingStandby = role === 'standby' && local?.receiver === 'streaming';
  const lagBytes = role === 'standby' && local !== undefined ? standbyLagBytes(local) : undefined;
  const syncStandby =
    streamingStandby &&
    config.replication.mode === 'sync' &&
    local.heartbeat?.syncDegradedAt === undefined;
  return {
    loopRecent,
    fresh,
    postgresUp,
    role,
    state,
    writablePrimary,
    streamingStandby,
    lagBytes,
    syncStandby,
    paused: local?.pausedBy !== undefined,
    observedAgeMs,
  };
}
