// `heartbeat beat` and `heartbeat show`: one beat on the primary, and the row as this node
// sees it, both as the heartbeat role through the local socket. docs/monitoring.md.
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { peerOf } from '../config/local-node.js';
import { SkypgError } from '../common/errors.js';
import { withConnection } from '../pg/connect.js';
import {
  checkTablespaces,
  readHeartbeat,
  writeBeat,
  writeIoCheck,
  type HeartbeatRow,
  type HeartbeatView,
} from './table.js';
import { heartbeatDbTarget } from './targets.js';

export type BeatResult =
  | { node: string; written: true; row: HeartbeatRow; ioChecked: boolean }
  | { node: string; written: false; reason: 'standby' };

/**
 * One beat on the primary: the beat columns, and at io_check_interval the tablespace I/O
 * check. On a standby it writes nothing.
 */
export async function beat(config: ClusterConfig, node: NodeConfig): Promise<BeatResult> {
  const peer = peerOf(config, node.name);
  return withConnection(heartbeatDbTarget(config, node, 'heartbeat', 'socket'), async (session) => {
    const [role] = await session.query<{ standby: boolean }>(
      'select pg_is_in_recovery() as standby',
    );
    if (role?.standby === true) return { node: node.name, written: false, reason: 'standby' };
    // The beat proves this server can write; in sync mode it must not wait for the standby, or
    // a missing standby would make a healthy primary look dead (and block the sync degrade).
    await session.query('set synchronous_commit = local');
    const written = await writeBeat(session, node.name, peer.name).catch((error: unknown) => {
      throw notInitialized(error, config, node);
    });
    if (written === undefined) throw notInitialized(undefined, config, node);
    let ioChecked = false;
    let row = written;
    if (config.heartbeat.io_check && ioCheckDue(row, config.heartbeat.io_check_interval)) {
      row = (await writeIoCheck(session, await checkTablespaces(session))) ?? row;
      ioChecked = true;
    }
    return { node: node.name, written: true, row, ioChecked };
  });
}

function ioCheckDue(row: HeartbeatRow, intervalMs: number): boolean {
  return (
    row.ioCheckedAt === undefined ||
    row.lastAlive.getTime() - row.ioCheckedAt.getTime() >= intervalMs
  );
}

/** Missing database, schema or table all mean "not initialized"; other errors pass through. */
function notInitialized(error: unknown, config: ClusterConfig, node: NodeConfig): unknown {
  const sqlState =
    error instanceof SkypgError ? (error.cause as { code?: unknown } | undefined)?.code : undefined;
  if (error !== undefined && !['42P01', '3F000', '3D000'].includes(String(sqlState))) return error;
  return new SkypgError(
    'PG_NOT_FOUND',
    `the heartbeat is not set up in database ${config.heartbeat.database} on ${node.name}`,
    { hint: "run 'skypg heartbeat init' on the primary", cause: error },
  );
}

/** `heartbeat show` on this node. */
export async function showHeartbeat(
  config: ClusterConfig,
  node: NodeConfig,
): Promise<HeartbeatView> {
  return withConnection(heartbeatDbTarget(config, node, 'heartbeat', 'socket'), (session) =>
    readHeartbeat(session, node),
  ).catch((error: unknown) => {
    throw notInitialized(error, config, node);
  });
}
