// Every connection to the heartbeat database is built here, so which role reaches the heartbeat
// table, and by which route, is decided in one place (docs/security.md: the heartbeat role only
// writes the beat columns; pause, switchover and degrade state are written by the superuser).
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import {
  catalogOnlySearchPath,
  localTarget,
  remoteTarget,
  withConnection,
  type ConnectTarget,
  type PgSession,
} from '../pg/connect.js';
import { requireTrustedTable } from './table.js';

/**
 * Who logs in: `heartbeat` (heartbeat.user: the beat, and every read a superuser must not make),
 * `monitor` (heartbeat.monitor_user when set, else the heartbeat role: read-only commands, so a
 * monitoring host needs no password of a role that may write), `superuser` (postgres.superuser:
 * the operator state, and only through withTrustedTable).
 */
export type HeartbeatLogin = 'heartbeat' | 'monitor' | 'superuser';

/** `socket`: this node's Unix socket (its own host); `tcp`: its address, as a peer or client sees it. */
export type HeartbeatRoute = 'socket' | 'tcp';

/** The one builder of a connection to the heartbeat database of `node`. */
export function heartbeatDbTarget(
  config: ClusterConfig,
  node: NodeConfig,
  login: HeartbeatLogin,
  route: HeartbeatRoute,
): ConnectTarget {
  const { database, user, monitor_user: monitor } = config.heartbeat;
  const options =
    login === 'superuser'
      ? { database }
      : { database, user: login === 'monitor' ? (monitor ?? user) : user };
  const target = route === 'socket' ? localTarget(node, options) : remoteTarget(node, options);
  // An old install let the heartbeat role create objects here (it owned schema skypg, and
  // before PostgreSQL 15 anyone could create in public): the superuser resolves names in the
  // catalog only. The other roles keep their own search_path (skypg first, for the views).
  return login === 'superuser' ? { ...target, searchPath: catalogOnlySearchPath } : target;
}

/** Runs `work` on `target` (a superuser) once the table is proven trustworthy there. */
export function withTrustedTable<T>(
  target: ConnectTarget,
  node: NodeConfig,
  work: (session: PgSession) => Promise<T>,
): Promise<T> {
  return withConnection(target, async (session) => {
    await requireTrustedTable(session, node);
    return work(session);
  });
}

/**
 * Runs `work` as the superuser on a node's heartbeat database, once the table is proven
 * trustworthy: over TCP for the operator's commands (pause, switchover), through the socket for
 * the supervisor's own degrade record.
 */
export function withSuperuserSession<T>(
  config: ClusterConfig,
  node: NodeConfig,
  route: HeartbeatRoute,
  work: (session: PgSession) => Promise<T>,
): Promise<T> {
  return withTrustedTable(heartbeatDbTarget(config, node, 'superuser', route), node, work);
}
