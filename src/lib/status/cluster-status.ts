// `skypg status`: both nodes, queried concurrently over TCP as a client or the peer sees them,
// each bounded by the timeout, so one hung node never holds up the answer.
import type { ClusterConfig, NodeConfig, VipRole } from '../config/types.js';
import { messageOf } from '../common/errors.js';
import { readHeartbeat } from '../heartbeat/table.js';
import { heartbeatDbTarget } from '../heartbeat/targets.js';
import { lsnDistance } from '../pg/lsn.js';
import { withConnection, withTimeouts, type ConnectTarget } from '../pg/connect.js';
import {
  readReplication,
  readServerStatus,
  readWalReceiver,
  type ReplicationRow,
  type ServerRole,
} from '../pg/server-status.js';
import { processStartTicks, readSupervisorState, stateFilePath } from '../supervisor/state-file.js';

export interface SupervisorSummary {
  state: string;
  reason: string;
  paused: boolean;
  running: boolean;
  ageSeconds: number;
}

export interface NodeRow {
  name: string;
  address: string;
  port: number;
  reachable: boolean;
  error?: string;
  role?: ServerRole;
  timeline?: number;
  /** Primary: current WAL position. Standby: replayed position. */
  lsn?: string;
  /** Standby only: bytes behind the primary (from the primary's view when it answered). */
  lagBytes?: number;
  lagSeconds?: number;
  /** Standby only: the WAL receiver's status ("streaming", ...). */
  receiver?: string;
  vips: VipRole[];
  heartbeatAgeSeconds?: number;
  /** Known when the node's state file is readable from here (the local node). */
  supervisor?: SupervisorSummary;
}

export interface VipRow {
  role: VipRole;
  address: string;
  holder?: string;
  error?: string;
}

export interface ClusterStatus {
  cluster: string;
  checkedAt: string;
  nodes: NodeRow[];
  vips: VipRow[];
}

interface NodeProbe {
  row: NodeRow;
  startTime?: string;
  replication: ReplicationRow[];
  receiveLsn?: string;
}

export async function readClusterStatus(
  config: ClusterConfig,
  timeoutMs: number,
): Promise<ClusterStatus> {
  const [probes, vipAnswers] = await Promise.all([
    Promise.all(config.nodes.map((node) => probeNode(config, node, timeoutMs))),
    Promise.all(
      (['primary', 'standby'] as const).map(async (role) => {
        const vip = config.vip[role];
        if (vip === undefined) return undefined;
        return {
          role,
          address: vip.address,
          answer: await postmasterStartVia(config, vip.host, timeoutMs),
        };
      }),
    ),
  ]);
  // A standby's lag is best known from the primary's view of it; else from its own positions.
  const primary = probes.find((probe) => probe.row.role === 'primary');
  for (const probe of probes) {
    if (probe.row.role !== 'standby') continue;
    const seen = primary?.replication.find((row) => row.applicationName === probe.row.name);
    if (seen?.replayLagBytes !== undefined) {
      probe.row.lagBytes = seen.replayLagBytes;
      const seconds = seen.replayLagSeconds ?? (seen.replayLagBytes === 0 ? 0 : undefined);
      probe.row.lagSeconds = seconds === undefined ? undefined : round(seconds);
    } else if (probe.receiveLsn !== undefined && probe.row.lsn !== undefined) {
      probe.row.lagBytes = lsnDistance(probe.receiveLsn, probe.row.lsn);
      probe.row.lagSeconds = probe.row.heartbeatAgeSeconds;
    }
  }
  const vips: VipRow[] = [];
  for (const entry of vipAnswers) {
    if (entry === undefined) continue;
    const holder = probes.find(
      (probe) => probe.startTime !== undefined && probe.startTime === entry.answer.startTime,
    );
    if (holder) holder.row.vips.push(entry.role);
    vips.push({
      role: entry.role,
      address: entry.address,
      ...(holder ? { holder: holder.row.name } : {}),
      ...(entry.answer.error === undefined ? {} : { error: entry.answer.error }),
    });
  }
  return {
    cluster: config.cluster,
    checkedAt: new Date().toISOString(),
    nodes: probes.map((probe) => probe.row),
    vips,
  };
}

function statusTarget(config: ClusterConfig, node: NodeConfig, timeoutMs: number): ConnectTarget {
  return withTimeouts(heartbeatDbTarget(config, node, 'monitor', 'tcp'), timeoutMs);
}

async function probeNode(
  config: ClusterConfig,
  node: NodeConfig,
  timeoutMs: number,
): Promise<NodeProbe> {
  const row: NodeRow = {
    name: node.name,
    address: node.address,
    port: node.postgres.port,
    reachable: false,
    vips: [],
  };
  const supervisor = await readSupervisorSummary(config, node.name);
  if (supervisor) row.supervisor = supervisor;
  try {
    return await withConnection(statusTarget(config, node, timeoutMs), async (session) => {
      const server = await readServerStatus(session);
      const [start] = await session.query<{ started: string }>(
        'select pg_postmaster_start_time()::text as started',
      );
      Object.assign(row, { reachable: true, role: server.role, timeline: server.timeline });
      row.lsn = server.role === 'primary' ? server.currentLsn : server.replayLsn;
      const replication = server.role === 'primary' ? await readReplication(session) : [];
      if (server.role === 'standby') {
        row.receiver = (await readWalReceiver(session, server.versionNum))?.status ?? 'not running';
      }
      try {
        row.heartbeatAgeSeconds = round((await readHeartbeat(session, node)).ageSeconds);
      } catch {
        // No heartbeat yet: the row simply has no age.
      }
      return { row, startTime: start?.started, replication, receiveLsn: server.receiveLsn };
    });
  } catch (error) {
    row.error = messageOf(error);
    return { row, replication: [] };
  }
}

/** Who answers on a VIP: its postmaster start time identifies the node. */
async function postmasterStartVia(
  config: ClusterConfig,
  address: string,
  timeoutMs: number,
): Promise<{ startTime?: string; error?: string }> {
  const base = statusTarget(config, config.nodes[0], timeoutMs);
  try {
    const rows = await withConnection({ ...base, host: address }, (session) =>
      session.query<{ started: string }>('select pg_postmaster_start_time()::text as started'),
    );
    return { startTime: rows[0]?.started };
  } catch (error) {
    return { error: messageOf(error) };
  }
}

async function readSupervisorSummary(
  config: ClusterConfig,
  node: string,
): Promise<SupervisorSummary | undefined> {
  try {
    const state = await readSupervisorState(stateFilePath(config, node));
    if (state === undefined) return undefined;
    const ticks = await processStartTicks(state.pid);
    return {
      state: state.state,
      reason: state.reason,
      paused: state.paused,
      running: ticks !== undefined && ticks === state.pidStartTicks,
      ageSeconds: round((Date.now() - Date.parse(state.updatedAt)) / 1000),
    };
  } catch {
    return undefined;
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
