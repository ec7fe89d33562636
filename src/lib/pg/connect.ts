// Connections to PostgreSQL with a connect timeout, a statement timeout (server side) and a
// query timeout (client side, for a server that stops answering), named application "skypg".
import { homedir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { nonEmpty } from '../env.js';
import type { NodeConfig } from '../config/types.js';
import { classifyPgError, type PgEndpoint } from './errors.js';
import { lookupPassword } from './passfile.js';

export interface ConnectTarget extends PgEndpoint {
  passfile: string | undefined;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  /** A physical replication connection (as the walreceiver makes): replication commands only. */
  replication?: boolean;
}

/** The small surface of a connection that the rest of skypg uses. */
export interface PgSession {
  query<Row extends object>(sql: string, params?: unknown[]): Promise<Row[]>;
}

/** Through the node's Unix socket directory: the way skypg talks to PostgreSQL on its own host. */
export function localTarget(
  node: NodeConfig,
  options: { database?: string; user?: string } = {},
): ConnectTarget {
  return {
    host: node.postgres.socket_dir,
    port: node.postgres.port,
    user: options.user ?? node.postgres.superuser,
    database: options.database ?? 'postgres',
    passfile: node.postgres.passfile,
    connectTimeoutMs: node.postgres.connect_timeout,
    statementTimeoutMs: node.postgres.statement_timeout,
  };
}

/** Over TCP to the node's address: the way a peer, a check or a client sees it. */
export function remoteTarget(
  node: NodeConfig,
  options: { database?: string; user?: string } = {},
): ConnectTarget {
  return { ...localTarget(node, options), host: node.address };
}

export function withTimeouts(target: ConnectTarget, timeoutMs: number): ConnectTarget {
  return { ...target, connectTimeoutMs: timeoutMs, statementTimeoutMs: timeoutMs };
}

/** Like libpq: the configured password file, else $PGPASSFILE, else ~/.pgpass. */
export function passfileOf(configured: string | undefined): string {
  return configured ?? nonEmpty(process.env['PGPASSFILE']) ?? join(homedir(), '.pgpass');
}

/** Opens a connection, runs `work`, and always closes it; errors come out classified. */
export async function withConnection<T>(
  target: ConnectTarget,
  work: (session: PgSession) => Promise<T>,
): Promise<T> {
  // A password is handed over only if the server asks; none found fails authentication with a hint.
  const found = await lookupPassword(passfileOf(target.passfile), target);
  const password = (): Promise<string> => Promise.resolve(found ?? '');
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user,
    database: target.database,
    password,
    application_name: 'skypg',
    connectionTimeoutMillis: target.connectTimeoutMs,
    statement_timeout: target.statementTimeoutMs,
    // The server-side timeout cannot fire on a frozen server; this one fires in the client.
    query_timeout: target.statementTimeoutMs + 500,
    keepAlive: true,
    // node-postgres sends `replication` in the startup packet; its types do not declare it.
    ...((target.replication === true ? { replication: 'true' } : {}) as object),
  });
  // A connection that dies between queries emits 'error'; the pending query reports it.
  client.on('error', () => undefined);
  const timeoutMs = Math.max(target.connectTimeoutMs, target.statementTimeoutMs);
  try {
    await client.connect();
  } catch (error) {
    void client.end().catch(() => undefined);
    throw classifyPgError(error, target, target.connectTimeoutMs);
  }
  const session: PgSession = {
    query: async <Row extends object>(sql: string, params: unknown[] = []): Promise<Row[]> => {
      try {
        const result = await client.query<Row>(sql, params);
        return result.rows;
      } catch (error) {
        throw classifyPgError(error, target, timeoutMs);
      }
    },
  };
  try {
    return await work(session);
  } finally {
    await client.end().catch(() => undefined);
  }
}
