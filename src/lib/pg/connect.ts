// Connections to PostgreSQL with a connect timeout, a statement timeout (server side) and a
// query timeout (client side, for a server that stops answering), named application "skypg".
// The server must prove itself before any secret leaves: SCRAM-SHA-256 only (docs/security.md).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'pg';
import { nonEmpty } from '../common/env.js';
import type { NodeConfig, PostgresSettings } from '../config/types.js';
import { SkypgError } from '../common/errors.js';
import { classifyPgError, describeEndpoint, withPassfileHint, type PgEndpoint } from './errors.js';
import { osAccount } from '../process/os-user.js';
import { isRoot } from '../process/run-program.js';
import { lookupPassword } from './passfile.js';

export interface ConnectTarget extends PgEndpoint {
  passfile: string | undefined;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  /** A physical replication connection (as the walreceiver makes): replication commands only. */
  replication?: boolean;
  /** TLS settings; TCP only (like libpq, a Unix socket connection never uses TLS). */
  tls?: TlsSettings;
  /** The session's search_path, set at login (undefined: the role's own setting). */
  searchPath?: string;
}

/**
 * The search_path of a superuser session in a database where another role may have made
 * objects: only the catalog (and the session's own temp schema, last), so no unqualified name
 * can resolve to a function or operator that role planted (a better-matching format(), say).
 */
export const catalogOnlySearchPath = 'pg_catalog,pg_temp';

export type TlsSettings = Pick<
  PostgresSettings,
  'sslmode' | 'sslrootcert' | 'sslcert' | 'sslkey' | 'channel_binding'
>;

/** How the server proved who it is on this connection. */
export interface ServerProof {
  /** SCRAM-SHA-256 completed and the server's signature was checked (false: trusted socket). */
  scram: boolean;
  /** SCRAM-SHA-256-PLUS: the login is bound to this TLS channel, so no relay can sit between. */
  channelBinding: boolean;
  /** 'verified': the certificate chains to sslrootcert (and names the host for verify-full). */
  tls: 'none' | 'unverified' | 'verified-ca' | 'verified-full';
}

/** The small surface of a connection that the rest of skypg uses. */
export interface PgSession {
  query<Row extends object>(sql: string, params?: unknown[]): Promise<Row[]>;
  readonly proof: ServerProof;
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
    passfile: effectivePassfile(node),
    connectTimeoutMs: node.postgres.connect_timeout,
    statementTimeoutMs: node.postgres.statement_timeout,
  };
}

/** Over TCP to the node's address: the way a peer, a check or a client sees it. */
export function remoteTarget(
  node: NodeConfig,
  options: { database?: string; user?: string } = {},
): ConnectTarget {
  const { sslmode, sslrootcert, sslcert, sslkey, channel_binding } = node.postgres;
  return {
    ...localTarget(node, options),
    host: node.address,
    tls: { sslmode, sslrootcert, sslcert, sslkey, channel_binding },
  };
}

export function withTimeouts(target: ConnectTarget, timeoutMs: number): ConnectTarget {
  return { ...target, connectTimeoutMs: timeoutMs, statementTimeoutMs: timeoutMs };
}

/**
 * The password file skypg and the programs it runs use for this node: postgres.passfile, else
 * what libpq would pick (passfileOf), except that root with neither $PGPASSFILE nor a
 * ~/.pgpass of its own uses the os_user's ~/.pgpass, where a DBA who built the pair by hand
 * keeps its passwords (the walreceiver, running as that user, reads the same file).
 */
export function effectivePassfile(node: NodeConfig): string | undefined {
  if (node.postgres.passfile !== undefined) return node.postgres.passfile;
  if (!isRoot() || nonEmpty(process.env['PGPASSFILE']) !== undefined) return undefined;
  if (existsSync(join(homedir(), '.pgpass'))) return undefined;
  const home = osAccount(node.postgres.os_user)?.home;
  if (home === undefined || home === '') return undefined;
  const theirs = join(home, '.pgpass');
  return existsSync(theirs) ? theirs : undefined;
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
  const passfile = passfileOf(target.passfile);
  const found = await lookupPassword(passfile, target);
  const tls = target.host.startsWith('/') ? undefined : target.tls;
  const sslmode = tls?.sslmode ?? 'disable';
  let opened: Opened;
  try {
    try {
      opened = await open(target, found, sslmode === 'disable' ? undefined : tls);
    } catch (error) {
      // prefer: a server without TLS gets a plain connection, as with libpq (and proves nothing more).
      const noTls = error instanceof SkypgError && /does not support SSL/.test(String(error.cause));
      if (sslmode !== 'prefer' || !noTls) throw error;
      opened = await open(target, found, undefined);
    }
  } catch (error) {
    throw withPassfileHint(error, target, passfile, found !== undefined);
  }
  const { client, proof } = opened;
  const timeoutMs = Math.max(target.connectTimeoutMs, target.statementTimeoutMs);
  const session: PgSession = {
    proof,
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

interface Opened {
  client: Client;
  proof: ServerProof;
}

async function open(
  target: ConnectTarget,
  found: string | undefined,
  tls: TlsSettings | undefined,
): Promise<Opened> {
  const channelBinding = tls !== undefined && tls.channel_binding !== 'disable';
  const pg = await loadPg();
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user,
    database: target.database,
    // A password is handed over only inside SCRAM; none found fails authentication with a hint.
    // (called only during connect(), after `guard` below exists)
    password: () => guard.password(found),
    application_name: 'skypg',
    connectionTimeoutMillis: target.connectTimeoutMs,
    statement_timeout: target.statementTimeoutMs,
    // The server-side timeout cannot fire on a frozen server; this one fires in the client.
    query_timeout: target.statementTimeoutMs + 500,
    keepAlive: true,
    ...(target.searchPath === undefined ? {} : { options: `-c search_path=${target.searchPath}` }),
    ...(tls === undefined
      ? {}
      : { ssl: await tlsOptions(tls), enableChannelBinding: channelBinding }),
    // node-postgres sends `replication` in the startup packet; its types do not declare it.
    ...((target.replication === true ? { replication: 'true' } : {}) as object),
  });
  const guard = guardAuthentication(client, target, tls);
  // A connection that dies between queries emits 'error'; the pending query reports it.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    void client.end().catch(() => undefined);
    throw error instanceof SkypgError
      ? error
      : classifyPgError(error, target, target.connectTimeoutMs);
  }
  return { client, proof: guard.proof() };
}

let pgLoading: Promise<typeof import('pg').default> | undefined;

/**
 * pg, loaded on the first connection: modules that only build targets or read passfiles (and
 * commands that never connect) do not pay for it.
 *
 * While it loads, pg asks whether it runs in a Cloudflare Worker; on Node 20, which has no
 * `navigator`, it finds out by constructing a fetch Response, and that loads Node's whole fetch
 * implementation (about a third of pg's load time, for a class skypg never uses). A `navigator`
 * that says Node.js, there only while pg loads, answers the question without it (Node 21 and
 * later have a navigator of their own, and then nothing is added).
 */
function loadPg(): Promise<typeof import('pg').default> {
  pgLoading ??= (async () => {
    const shimmed = !('navigator' in globalThis);
    if (shimmed) {
      Object.defineProperty(globalThis, 'navigator', {
        value: { userAgent: 'Node.js' },
        configurable: true,
      });
    }
    try {
      return (await import('pg')).default;
    } finally {
      if (shimmed) Reflect.deleteProperty(globalThis, 'navigator');
    }
  })();
  return pgLoading;
}

async function tlsOptions(tls: TlsSettings): Promise<object> {
  const read = (path: string | undefined): Promise<Buffer | undefined> =>
    path === undefined
      ? Promise.resolve(undefined)
      : readFile(path).catch((error: unknown) => {
          throw new SkypgError('PG_TLS', `cannot read ${path}: ${String(error)}`, {
            hint: 'fix postgres.sslrootcert / sslcert / sslkey in the configuration',
          });
        });
  const [ca, cert, key] = await Promise.all([
    read(tls.sslrootcert),
    read(tls.sslcert),
    read(tls.sslkey),
  ]);
  // Like libpq, require with a root certificate verifies the chain (as verify-ca).
  const verify =
    tls.sslmode === 'verify-ca' ||
    tls.sslmode === 'verify-full' ||
    (tls.sslmode === 'require' && ca !== undefined);
  return {
    rejectUnauthorized: verify,
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    // verify-full keeps Node's host name check; every other mode skips it.
    ...(tls.sslmode === 'verify-full' ? {} : { checkServerIdentity: () => undefined }),
  };
}

type Asked = 'nothing' | 'cleartext' | 'md5' | 'sasl';

interface AuthenticationGuard {
  password(found: string | undefined): Promise<string>;
  proof(): ServerProof;
}

/**
 * Watches the authentication messages on pg's connection (listeners put before pg's own) and
 * lets the password out only into a SCRAM exchange; refuses a server that skips SCRAM's last
 * message (its signature, checked by pg) or, over TCP without a verified certificate, asks
 * nothing at all.
 */
function guardAuthentication(
  client: Client,
  target: ConnectTarget,
  tls: TlsSettings | undefined,
): AuthenticationGuard {
  const connection = client.connection;
  const where = describeEndpoint(target);
  const tcp = !target.host.startsWith('/');
  // channel_binding: require holds even with sslmode: disable (then no login can satisfy it).
  const requireBinding = tcp && target.tls?.channel_binding === 'require';
  let asked: Asked = 'nothing';
  let mechanisms: string[] = [];
  let saslFinal = false;
  const refuse = (message: string, hint: string): SkypgError =>
    new SkypgError('PG_AUTH_METHOD', `${message} (${where})`, { hint });
  const abort = (error: SkypgError): void => {
    connection.emit('error', error);
    connection.stream.destroy();
  };
  const tlsProof = (): ServerProof['tls'] => {
    const stream = connection.stream as { encrypted?: boolean; authorized?: boolean };
    if (tls === undefined || stream.encrypted !== true) return 'none';
    if (stream.authorized !== true) return 'unverified';
    return tls.sslmode === 'verify-full' ? 'verified-full' : 'verified-ca';
  };
  const scramHint =
    "set the role's password with password_encryption = scram-sha-256 and use scram-sha-256 in pg_hba.conf";
  connection.prependListener('authenticationCleartextPassword', () => (asked = 'cleartext'));
  connection.prependListener('authenticationMD5Password', () => (asked = 'md5'));
  connection.prependListener('authenticationSASL', (message: { mechanisms?: string[] }) => {
    asked = 'sasl';
    mechanisms = message.mechanisms ?? [];
  });
  connection.prependListener('authenticationSASLFinal', () => (saslFinal = true));
  connection.prependListener('authenticationOk', () => {
    if (asked === 'sasl' && !saslFinal) {
      abort(
        refuse(
          'the server ended SCRAM without proving it knows the password',
          'this is not a genuine PostgreSQL server: check who answers at that address',
        ),
      );
    } else if (asked === 'nothing' && tcp && !tlsProof().startsWith('verified')) {
      abort(
        refuse(
          'the server let skypg in over TCP without any authentication, so nothing proves who it is',
          `use scram-sha-256 for this host in pg_hba.conf (or sslmode verify-full); ${scramHint}`,
        ),
      );
    } else if (asked === 'nothing' && requireBinding) {
      abort(
        refuse(
          'channel_binding is require but the server asked for no SCRAM login',
          'use scram-sha-256 for this host in pg_hba.conf, or set postgres.channel_binding to prefer',
        ),
      );
    }
  });
  return {
    password: (found) => {
      if (asked === 'cleartext' || asked === 'md5') {
        const method = asked === 'md5' ? 'an MD5' : 'a cleartext';
        return Promise.reject(
          refuse(
            `server asked for ${method} password; skypg only uses SCRAM-SHA-256 and sent nothing`,
            scramHint,
          ),
        );
      }
      if (requireBinding && (tls === undefined || !mechanisms.includes('SCRAM-SHA-256-PLUS'))) {
        return Promise.reject(
          refuse(
            'channel_binding is require but the server offers no SCRAM-SHA-256-PLUS (no TLS, or a relay in between)',
            'turn on ssl in the server, or set postgres.channel_binding to prefer',
          ),
        );
      }
      return Promise.resolve(found ?? '');
    },
    proof: () => ({
      scram: saslFinal,
      // pg picks SCRAM-SHA-256-PLUS whenever binding is enabled on TLS and the server offers it.
      channelBinding:
        saslFinal &&
        tls !== undefined &&
        tls.channel_binding !== 'disable' &&
        tlsProof() !== 'none' &&
        mechanisms.includes('SCRAM-SHA-256-PLUS'),
      tls: tlsProof(),
    }),
  };
}
