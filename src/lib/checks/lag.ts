// check-lag: how far the standby is behind, seen from whichever node this is.
// observeLag() reads PostgreSQL; evaluateLag() is pure and decides the Nagios state.
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { peerOf } from '../config/local-node.js';
import { formatSize } from '../config/units.js';
import { SkypgError, messageOf } from '../common/errors.js';
import { readHeartbeat } from '../heartbeat/table.js';
import { heartbeatDbTarget } from '../heartbeat/targets.js';
import { lsnDistance } from '../pg/lsn.js';
import { withConnection, withTimeouts } from '../pg/connect.js';
import { readReplication, readServerStatus, readWalReceiver } from '../pg/server-status.js';
import {
  evaluate,
  formatPerfdata,
  worst,
  type CheckState,
  type PerfdataItem,
  type Range,
} from './nagios.js';

/** What check-lag saw on the primary: the WAL sender row of its standby, if any. */
export interface PrimaryLagView {
  view: 'primary';
  node: string;
  peer: string;
  standby:
    | {
        state: string;
        replayLagBytes: number | undefined;
        flushLagBytes: number | undefined;
        replayLagSeconds: number | undefined;
      }
    | undefined;
}

/** What check-lag saw on a standby: its WAL receiver, positions and the heartbeat row. */
export interface StandbyLagView {
  view: 'standby';
  node: string;
  peer: string;
  receiverStatus: string | undefined;
  receiveLsn: string | undefined;
  replayLsn: string | undefined;
  replayPaused: boolean;
  /** Seconds since the primary's last beat that this standby has replayed (skew-safe). */
  heartbeatAgeSeconds: number | undefined;
  heartbeatError: string | undefined;
}

export type LagObservation = PrimaryLagView | StandbyLagView;

export interface LagThresholds {
  warningBytes?: Range;
  criticalBytes?: Range;
  warningSeconds?: Range;
  criticalSeconds?: Range;
}

export interface LagOutcome {
  state: CheckState;
  text: string;
  lagBytes: number | undefined;
  lagSeconds: number | undefined;
  perfdata: string;
}

export async function observeLag(
  config: ClusterConfig,
  node: NodeConfig,
  timeoutMs: number,
): Promise<LagObservation> {
  const peer = peerOf(config, node.name).name;
  const target = withTimeouts(heartbeatDbTarget(config, node, 'monitor', 'socket'), timeoutMs);
  return withConnection(target, async (session): Promise<LagObservation> => {
    const server = await readServerStatus(session);
    if (server.role === 'primary') {
      const rows = await readReplication(session);
      const row =
        rows.find((candidate) => candidate.applicationName === peer) ??
        (rows.length === 1 ? rows[0] : undefined);
      return {
        view: 'primary',
        node: node.name,
        peer,
        standby: row && {
          state: row.state,
          replayLagBytes: row.replayLagBytes,
          flushLagBytes: row.flushLagBytes,
          replayLagSeconds: row.replayLagSeconds,
        },
      };
    }
    const receiver = await readWalReceiver(session, server.versionNum);
    let heartbeatAgeSeconds: number | undefined;
    let heartbeatError: string | undefined;
    try {
      heartbeatAgeSeconds = (await readHeartbeat(session, node)).ageSeconds;
    } catch (error) {
      heartbeatError =
        error instanceof SkypgError && error.code === 'PG_QUERY'
          ? "heartbeat table missing (run 'skypg heartbeat init' on the primary)"
          : messageOf(error);
    }
    return {
      view: 'standby',
      node: node.name,
      peer,
      receiverStatus: receiver?.status,
      receiveLsn: server.receiveLsn,
      replayLsn: server.replayLsn,
      replayPaused: server.replayPaused,
      heartbeatAgeSeconds,
      heartbeatError,
    };
  });
}

/**
 * Primary view: bytes = current WAL position - standby's replay position; seconds =
 * pg_stat_replication.replay_lag (NULL on an idle, caught-up pair, reported as 0).
 * Standby view: bytes = received - replayed here; seconds = age of the replayed heartbeat.
 * A missing or non-streaming standby is CRITICAL; what cannot be measured is reported as U.
 */
export function evaluateLag(observation: LagObservation, thresholds: LagThresholds): LagOutcome {
  const measured =
    observation.view === 'primary' ? primaryLag(observation) : standbyLag(observation);
  const byBytes =
    measured.lagBytes === undefined
      ? 'ok'
      : evaluate(measured.lagBytes, {
          warning: thresholds.warningBytes,
          critical: thresholds.criticalBytes,
        });
  const bySeconds =
    measured.lagSeconds === undefined
      ? 'ok'
      : evaluate(measured.lagSeconds, {
          warning: thresholds.warningSeconds,
          critical: thresholds.criticalSeconds,
        });
  const state = worst(measured.state, byBytes, bySeconds);
  const perf: PerfdataItem[] = [
    {
      label: 'lag_bytes',
      value: measured.lagBytes,
      uom: 'B',
      warning: thresholds.warningBytes,
      critical: thresholds.criticalBytes,
      min: 0,
    },
    {
      label: 'lag_seconds',
      value: measured.lagSeconds === undefined ? undefined : round(measured.lagSeconds),
      uom: 's',
      warning: thresholds.warningSeconds,
      critical: thresholds.criticalSeconds,
      min: 0,
    },
  ];
  return {
    state,
    text: measured.text,
    lagBytes: measured.lagBytes,
    lagSeconds: measured.lagSeconds,
    perfdata: formatPerfdata(perf),
  };
}

interface Measured {
  state: CheckState;
  text: string;
  lagBytes: number | undefined;
  lagSeconds: number | undefined;
}

function primaryLag(view: PrimaryLagView): Measured {
  const standby = view.standby;
  if (standby === undefined) {
    return {
      state: 'critical',
      text: `no standby is connected to primary ${view.node} (expected ${view.peer})`,
      lagBytes: undefined,
      lagSeconds: undefined,
    };
  }
  const lagBytes = standby.replayLagBytes ?? standby.flushLagBytes;
  const lagSeconds = standby.replayLagSeconds ?? (lagBytes === 0 ? 0 : undefined);
  const streaming = standby.state === 'streaming';
  const where = `standby ${view.peer} ${streaming ? 'is' : `is ${standby.state},`}`;
  const text =
    lagBytes === undefined
      ? `${where} connected to primary ${view.node} but has not reported its position yet`
      : `${where} ${formatSize(lagBytes)}${lagSeconds === undefined ? '' : ` (${round(lagSeconds)}s)`} behind primary ${view.node}`;
  return { state: streaming ? 'ok' : 'warning', text, lagBytes, lagSeconds };
}

function standbyLag(view: StandbyLagView): Measured {
  const lagBytes =
    view.receiveLsn !== undefined && view.replayLsn !== undefined
      ? lsnDistance(view.receiveLsn, view.replayLsn)
      : undefined;
  const lagSeconds = view.heartbeatAgeSeconds;
  const notes = [
    view.replayPaused ? 'replay is paused' : undefined,
    view.heartbeatError === undefined ? undefined : `no heartbeat: ${view.heartbeatError}`,
  ].filter((note) => note !== undefined);
  const suffix = notes.length === 0 ? '' : `; ${notes.join('; ')}`;
  if (view.receiverStatus !== 'streaming') {
    return {
      state: 'critical',
      text: `standby ${view.node} is not streaming from ${view.peer} (wal receiver: ${view.receiverStatus ?? 'not running'})${suffix}`,
      lagBytes,
      lagSeconds,
    };
  }
  const age = lagSeconds === undefined ? '' : `, last heartbeat ${round(lagSeconds)}s ago`;
  return {
    state: 'ok',
    text: `standby ${view.node} has ${formatSize(lagBytes ?? 0)} received but not replayed${age}${suffix}`,
    lagBytes,
    lagSeconds,
  };
}

function round(seconds: number): number {
  return Math.round(seconds * 10) / 10;
}
