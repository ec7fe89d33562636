// What one node looks like right now: reachable, role, timeline, WAL positions, replication.
import { messageOf } from './errors.js';
import type { NodeConfig } from './config/types.js';
import { withConnection, type ConnectTarget } from './pg/connect.js';
import {
  readReplication,
  readServerStatus,
  readWalReceiver,
  type ReplicationRow,
  type ServerRole,
  type WalReceiverRow,
} from './pg/server-status.js';

export interface NodeStatus {
  name: string;
  address: string;
  port: number;
  reachable: boolean;
  error: string | undefined;
  role: ServerRole | undefined;
  timeline: number | undefined;
  /** Primary: current WAL position; standby: replayed position. */
  lsn: string | undefined;
  receiveLsn: string | undefined;
  /** Primary: one row per connected standby. */
  replication: ReplicationRow[];
  /** Standby: its WAL receiver, if one runs. */
  walReceiver: WalReceiverRow | undefined;
}

export async function readNodeStatus(node: NodeConfig, target: ConnectTarget): Promise<NodeStatus> {
  const base = { name: node.name, address: node.address, port: node.postgres.port };
  try {
    return await withConnection(target, async (session) => {
      const server = await readServerStatus(session);
      const replication = server.role === 'primary' ? await readReplication(session) : [];
      const walReceiver =
        server.role === 'standby' ? await readWalReceiver(session, server.versionNum) : undefined;
      return {
        ...base,
        reachable: true,
        error: undefined,
        role: server.role,
        timeline: server.timeline,
        lsn: server.role === 'primary' ? server.currentLsn : server.replayLsn,
        receiveLsn: server.receiveLsn,
        replication,
        walReceiver,
      };
    });
  } catch (error) {
    return {
      ...base,
      reachable: false,
      error: messageOf(error),
      role: undefined,
      timeline: undefined,
      lsn: undefined,
      receiveLsn: undefined,
      replication: [],
      walReceiver: undefined,
    };
  }
}
