// Every outside read observe() makes, one method each, so the logic of turning them into an
// Observation (same-pair check, silence on failure, when the DAD probe runs) is unit-tested
// on recording fakes (test/support/observe-fakes.ts); realObserveDeps are the adapters.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { fenceNode } from '../fence/fence.js';
import { beat } from '../heartbeat/beat.js';
import { readSupervisorRow, type SupervisorRowRead } from '../heartbeat/table.js';
import { heartbeatDbTarget } from '../heartbeat/targets.js';
import { localTarget, withConnection, withTimeouts, type PgSession } from '../pg/connect.js';
import {
  readReplication,
  readServerStatus,
  readWalReceiver,
  systemIdentifierOnDisk,
  type ReplicationRow,
  type ServerStatus,
  type WalReceiverRow,
} from '../pg/server-status.js';
import { runningPostmaster } from '../pg/server-control.js';
import { probeHelper } from '../process/probe-helper.js';
import { vipStatus, type VipStatus } from '../net/vip.js';

/** The reads made on one connection to the local server; observe() chooses which by role. */
export interface LocalServerReads {
  status: () => Promise<ServerStatus>;
  walReceiver: (versionNum: number) => Promise<WalReceiverRow | undefined>;
  replication: () => Promise<ReplicationRow[]>;
  syncStandbyNames: () => Promise<string>;
}

/**
 * What observe() reads from the outside. Every method may reject (or the adapter may time out
 * and reject): observe() turns each rejection into "not answering" for that part alone.
 */
export interface ObserveDeps {
  /** The PID of a live postmaster serving this node's data directory, if any. */
  runningPostmaster: (node: NodeConfig) => Promise<number | undefined>;
  /** The data directory has standby.signal. */
  standbySignalPresent: (dataDir: string) => Promise<boolean>;
  /** Opens a new connection to the local server (bounded by timeoutMs), runs read, closes it. */
  withLocalServer: <T>(
    node: NodeConfig,
    timeoutMs: number,
    read: (server: LocalServerReads) => Promise<T>,
  ) => Promise<T>;
  /** The heartbeat row as replicated here, as the heartbeat role; undefined if untrusted. */
  heartbeatRow: (
    config: ClusterConfig,
    node: NodeConfig,
    timeoutMs: number,
  ) => Promise<SupervisorRowRead | undefined>;
  /** One beat on this node's server: true when the write committed. */
  writeBeat: (config: ClusterConfig, node: NodeConfig) => Promise<boolean>;
  /** The peer's status over a new TCP connection as the heartbeat role. */
  peerStatus: (config: ClusterConfig, peer: NodeConfig, timeoutMs: number) => Promise<ServerStatus>;
  /** The status of whatever answers at the primary VIP (called only when one is configured). */
  statusThroughPrimaryVip: (config: ClusterConfig, timeoutMs: number) => Promise<ServerStatus>;
  /** One ping to a gateway address: true when it answered within timeoutMs. */
  pingGateway: (address: string, timeoutMs: number) => Promise<boolean>;
  /** The configured VIP of this role is on this host. */
  vipHeldHere: (config: ClusterConfig, role: 'primary' | 'standby') => Promise<boolean>;
  /** Duplicate address detection on the primary VIP: costs vip.dad_timeout. */
  primaryVipStatus: (config: ClusterConfig) => Promise<VipStatus>;
  /** The system identifier in the data directory's pg_control, without a server. */
  systemIdentifierOnDisk: (dataDir: string) => Promise<string>;
  /** The peer's fence device says it is powered off (its status query; no switch is touched). */
  peerPoweredOff: (peer: NodeConfig) => Promise<boolean>;
}

export const realObserveDeps: ObserveDeps = {
  runningPostmaster,
  standbySignalPresent: (dataDir) =>
    access(join(dataDir, 'standby.signal')).then(
      () => true,
      () => false,
    ),
  withLocalServer: (node, timeoutMs, read) =>
    withConnection(withTimeouts(localTarget(node), timeoutMs), (session) =>
      read(sessionReads(session)),
    ),
  // Read as the heartbeat role: whatever the table is, its code runs with no more rights than
  // that role has (readSupervisorRow also checks that the table is a superuser's).
  heartbeatRow: (config, node, timeoutMs) =>
    withConnection(
      withTimeouts(heartbeatDbTarget(config, node, 'heartbeat', 'socket'), timeoutMs),
      readSupervisorRow,
    ),
  writeBeat: async (config, node) => (await beat(config, node)).written,
  peerStatus: (config, peer, timeoutMs) =>
    withConnection(
      withTimeouts(heartbeatDbTarget(config, peer, 'heartbeat', 'tcp'), timeoutMs),
      readServerStatus,
    ),
  statusThroughPrimaryVip: (config, timeoutMs) => {
    const vip = config.vip.primary;
    if (vip === undefined) return Promise.reject(new Error('no primary VIP'));
    // The first node's port, TLS and password file stand for whichever node holds the VIP.
    const [first] = config.nodes;
    const target = { ...heartbeatDbTarget(config, first, 'heartbeat', 'tcp'), host: vip.host };
    return withConnection(withTimeouts(target, timeoutMs), readServerStatus);
  },
  // Both run in the probe helper's shell, not from here: see probe-helper.ts for the cost.
  // ping's own deadline is whole seconds (-w): the answer is the one that came within timeoutMs.
  pingGateway: (address, timeoutMs) =>
    probeHelper().pingAnswers(address, Math.max(1, Math.ceil(timeoutMs / 1000)), timeoutMs),
  vipHeldHere: (config, role) => {
    const vip = config.vip[role];
    if (vip === undefined) return Promise.resolve(false);
    const helper = probeHelper(config.vip.command_prefix ?? []);
    return helper.addressOnInterface(vip.interface, vip.host, config.heartbeat.timeout + 1000);
  },
  primaryVipStatus: (config) => vipStatus(config, 'primary'),
  systemIdentifierOnDisk,
  peerPoweredOff: async (peer) => (await fenceNode(peer, 'status')).power === 'off',
};

function sessionReads(session: PgSession): LocalServerReads {
  return {
    status: () => readServerStatus(session),
    walReceiver: (versionNum) => readWalReceiver(session, versionNum),
    replication: () => readReplication(session),
    syncStandbyNames: async () => {
      const [row] = await session.query<{ names: string }>(
        "select current_setting('synchronous_standby_names') as names",
      );
      return row?.names ?? '';
    },
  };
}
