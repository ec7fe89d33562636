// Everything `skypg switchover` does to the outside world, as one small interface: the two
// PostgreSQL servers, the flags on the heartbeat row, the VIPs, this node's supervisor state file
// and the clock. realSwitchoverDeps are the adapters the command runs with; the unit tests give
// recording fakes (test/support/switchover-fakes.ts).
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import type { SwitchoverFlag } from '../supervisor/types.js';
import { messageOf } from '../common/errors.js';
import type { CandidateView, SourceView } from '../failover/switchover-preconditions.js';
import {
  clearSwitchoverFlag,
  readFlags,
  setSwitchoverPhase,
  writeSwitchoverFlag,
  type FlagRead,
} from '../heartbeat/table.js';
import { withSuperuserSession } from '../heartbeat/targets.js';
import { vipDown, vipHeldHere, vipUp } from '../net/vip.js';
import { localTarget, remoteTarget, withConnection, withTimeouts } from '../pg/connect.js';
import { promoteServer } from '../pg/promote-server.js';
import {
  readReplication,
  readServerStatus,
  readWalReceiver,
  type ReplicationRow,
  type ServerStatus,
} from '../pg/server-status.js';
import {
  processStartTicks,
  readSupervisorState,
  stateFilePath,
  type SupervisorState,
} from '../supervisor/state-file.js';
import { realPollClock, type PollClock } from './poll.js';

/** What the swap reads of a server's status. */
export type ServerPosition = Pick<ServerStatus, 'role' | 'timeline' | 'currentLsn' | 'replayLsn'>;

export interface Checkpoint {
  lsn: string;
  timeline: number;
}

/**
 * The old primary during the hand-over: still a primary, a standby again, or not answering;
 * `refused` when its host refused the connection (no postmaster listens: it has exited, so its
 * WAL senders are done), as opposed to a server still shutting down or silence.
 */
export type HandoverAnswer =
  | { role: 'primary' }
  | { role: 'standby'; checkpoint: Checkpoint | undefined }
  | { role: 'down'; error: string; refused?: boolean };

export interface SwitchoverServers {
  /** This node through its socket. */
  localStatus: (node: NodeConfig) => Promise<ServerPosition>;
  /** This node as the candidate: role, timeline and its WAL receiver's status. */
  candidate: (node: NodeConfig) => Promise<CandidateView>;
  /** The old primary over TCP (bounded by heartbeat.timeout), with node's replication row. */
  source: (config: ClusterConfig, source: NodeConfig, node: NodeConfig) => Promise<SourceView>;
  /** The old primary's status over TCP. */
  sourceStatus: (source: NodeConfig) => Promise<ServerPosition>;
  /** The old primary while it hands over; never throws (silence is an answer). */
  handover: (config: ClusterConfig, source: NodeConfig) => Promise<HandoverAnswer>;
  /** pg_stat_replication here; empty when this node does not answer. */
  followers: (node: NodeConfig) => Promise<ReplicationRow[]>;
  /** pg_promote() here without its own wait; onSignal runs just before it is asked for. */
  promoteHere: (node: NodeConfig, onSignal: () => void) => Promise<number>;
  /** pg_promote() on the old primary over TCP, waiting for it (the rollback). */
  promoteSource: (source: NodeConfig) => Promise<number>;
}

/** The switchover columns of the heartbeat row, each written as the operator over TCP. */
export interface SwitchoverFlagTable {
  read: (config: ClusterConfig, on: NodeConfig) => Promise<FlagRead>;
  write: (
    config: ClusterConfig,
    on: NodeConfig,
    flag: Pick<SwitchoverFlag, 'to' | 'by' | 'timeoutMs' | 'phase'>,
  ) => Promise<{ lsn: string }>;
  setPhase: (
    config: ClusterConfig,
    on: NodeConfig,
    phase: SwitchoverFlag['phase'],
  ) => Promise<void>;
  clear: (config: ClusterConfig, on: NodeConfig) => Promise<void>;
}

export interface SwitchoverVips {
  up: (
    config: ClusterConfig,
    role: 'primary' | 'standby',
    options: { knownReleased: boolean },
  ) => Promise<unknown>;
  down: (config: ClusterConfig, role: 'primary' | 'standby') => Promise<unknown>;
  heldHere: (config: ClusterConfig, role: 'primary' | 'standby') => Promise<boolean>;
}

/** This node's supervisor as its state file tells: alive (the PID is still that process) or not. */
export interface LocalSupervisor {
  path: string;
  state: SupervisorState | undefined;
  alive: boolean;
}

export interface SwitchoverDeps {
  servers: SwitchoverServers;
  flags: SwitchoverFlagTable;
  vips: SwitchoverVips;
  supervisor: (config: ClusterConfig, node: NodeConfig) => Promise<LocalSupervisor>;
  clock: PollClock;
}

const realServers: SwitchoverServers = {
  localStatus: (node) => withConnection(localTarget(node), readServerStatus),
  candidate: (node) =>
    withConnection(localTarget(node), async (session) => {
      const status = await readServerStatus(session);
      if (status.role !== 'standby')
        return { role: status.role, timeline: status.timeline, receiver: undefined };
      const receiver = await readWalReceiver(session, status.versionNum);
      return { role: status.role, timeline: status.timeline, receiver: receiver?.status };
    }),
  source: (config, source, node) =>
    withConnection(
      withTimeouts(remoteTarget(source), Math.max(1000, config.heartbeat.timeout)),
      async (session) => {
        const status = await readServerStatus(session);
        if (status.role !== 'primary')
          return { role: status.role, timeline: status.timeline, candidate: undefined };
        const rows = await readReplication(session);
        const row = rows.find((candidate) => candidate.applicationName === node.name);
        return { role: status.role, timeline: status.timeline, candidate: row };
      },
    ),
  sourceStatus: (source) => withConnection(remoteTarget(source), readServerStatus),
  handover: (config, source) =>
    withConnection(
      withTimeouts(remoteTarget(source), Math.max(1000, config.heartbeat.timeout)),
      async (session): Promise<HandoverAnswer> => {
        const status = await readServerStatus(session);
        if (status.role === 'primary') return { role: 'primary' };
        const [row] = await session.query<Checkpoint>(
          'select checkpoint_lsn::text as lsn, timeline_id as timeline from pg_control_checkpoint()',
        );
        return { role: 'standby', checkpoint: row };
      },
    ).catch((error: unknown) => ({
      role: 'down',
      error: messageOf(error),
      refused: (error as { cause?: { code?: unknown } }).cause?.code === 'ECONNREFUSED',
    })),
  followers: (node) => withConnection(localTarget(node), readReplication).catch(() => []),
  // pg_promote checks every 100 ms when it waits itself; polled every few ms instead.
  promoteHere: (node, onSignal) =>
    promoteServer(localTarget(node), node.name, { wait: 'poll', onSignal }),
  promoteSource: (source) => promoteServer(remoteTarget(source), source.name, { wait: 'server' }),
};

const realFlags: SwitchoverFlagTable = {
  read: (config, on) => withSuperuserSession(config, on, 'tcp', readFlags),
  write: (config, on, flag) =>
    withSuperuserSession(config, on, 'tcp', (session) => writeSwitchoverFlag(session, flag)),
  setPhase: (config, on, phase) =>
    withSuperuserSession(config, on, 'tcp', (session) => setSwitchoverPhase(session, phase)),
  clear: (config, on) => withSuperuserSession(config, on, 'tcp', clearSwitchoverFlag),
};

export const realSwitchoverDeps: SwitchoverDeps = {
  servers: realServers,
  flags: realFlags,
  vips: {
    up: (config, role, options) => vipUp(config, role, options),
    down: (config, role) => vipDown(config, role),
    heldHere: vipHeldHere,
  },
  supervisor: async (config, node) => {
    const path = stateFilePath(config, node.name);
    const state = await readSupervisorState(path).catch(() => undefined);
    const alive =
      state !== undefined && (await processStartTicks(state.pid)) === state.pidStartTicks;
    return { path, state, alive };
  },
  clock: realPollClock,
};
