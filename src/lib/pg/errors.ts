// PostgreSQL and socket errors, classified into skypg's typed errors with a hint each.
import { SkypgError, messageOf } from '../common/errors.js';

export interface PgEndpoint {
  host: string;
  port: number;
  user: string;
  database: string;
}

export function describeEndpoint(endpoint: PgEndpoint): string {
  const where = endpoint.host.startsWith('/')
    ? `socket ${endpoint.host}/.s.PGSQL.${endpoint.port}`
    : `${endpoint.host}:${endpoint.port}`;
  return `${where} (user ${endpoint.user}, database ${endpoint.database})`;
}

/** Maps an error from `pg` or the socket layer to a SkypgError. */
export function classifyPgError(
  error: unknown,
  endpoint: PgEndpoint,
  timeoutMs: number,
): SkypgError {
  if (error instanceof SkypgError) return error;
  const where = describeEndpoint(endpoint);
  const code = (error as { code?: unknown }).code;
  const message = messageOf(error);
  const options = { cause: error };
  const tls = tlsProblem(code, message);
  if (tls !== undefined) {
    return new SkypgError('PG_TLS', `TLS to PostgreSQL at ${where} failed: ${tls}`, {
      ...options,
      hint: tls.startsWith('the server has no TLS')
        ? "turn on ssl in the server's postgresql.conf, or lower postgres.sslmode"
        : "check postgres.sslrootcert (the CA that signed the server's certificate) and that the certificate names the node's address",
    });
  }
  switch (code) {
    case 'ECONNREFUSED':
    case 'ENOENT':
      return new SkypgError('PG_REFUSED', `PostgreSQL at ${where} refused the connection`, {
        ...options,
        hint: 'is the server running and listening on that address and port?',
      });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return new SkypgError('PG_REFUSED', `PostgreSQL at ${where} is unreachable (${code})`, {
        ...options,
        hint: 'check the network path to the host',
      });
    case 'ETIMEDOUT':
      return timeoutError(where, timeoutMs, error);
    case '28P01':
    case '28000':
      return new SkypgError('PG_AUTH', `PostgreSQL at ${where} rejected the login: ${message}`, {
        ...options,
        hint: 'check pg_hba.conf and the password file (postgres.passfile, ~/.pgpass or $PGPASSFILE)',
      });
    case '3D000':
    case '42704':
      return new SkypgError('PG_NOT_FOUND', `PostgreSQL at ${where}: ${message}`, {
        ...options,
        hint: 'create it, or fix the name in the configuration',
      });
    case '57P03':
    case '57P01':
      return new SkypgError(
        'PG_STARTING',
        `PostgreSQL at ${where} is not accepting connections now: ${message}`,
        {
          ...options,
          hint: 'it is starting, stopping or recovering; try again shortly',
        },
      );
    case '57014':
      return new SkypgError(
        'PG_TIMEOUT',
        `a query on ${where} was cancelled by the statement timeout`,
        options,
      );
    case '25006':
      return new SkypgError(
        'PG_IN_RECOVERY',
        `PostgreSQL at ${where} is a standby (read-only)`,
        options,
      );
    default:
      break;
  }
  if (/timeout|timed out/i.test(message)) return timeoutError(where, timeoutMs, error);
  if (/SCRAM-SERVER-FINAL|server signature/i.test(message)) {
    return new SkypgError(
      'PG_AUTH_METHOD',
      `the server at ${where} did not prove it knows the password (${message})`,
      {
        ...options,
        hint: 'this is not a genuine PostgreSQL server: check who answers at that address',
      },
    );
  }
  if (/SASL|password must be a string|password authentication/i.test(message)) {
    return new SkypgError('PG_AUTH', `PostgreSQL at ${where} wants a password and none was found`, {
      ...options,
      hint: 'add a line for this host, port, database and user to the password file (postgres.passfile or ~/.pgpass)',
    });
  }
  if (/Connection terminated|ECONNRESET|socket hang up/i.test(message)) {
    return new SkypgError(
      'PG_REFUSED',
      `PostgreSQL at ${where} closed the connection: ${message}`,
      options,
    );
  }
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    return new SkypgError(
      'PG_QUERY',
      `PostgreSQL at ${where}: ${message} (SQLSTATE ${code})`,
      options,
    );
  }
  return new SkypgError('PG_REFUSED', `cannot talk to PostgreSQL at ${where}: ${message}`, options);
}

const certificateCodes: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its certificate is not signed by the sslrootcert CA',
  UNABLE_TO_GET_ISSUER_CERT: 'its certificate is not signed by the sslrootcert CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its certificate is not signed by the sslrootcert CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'its certificate chains to a CA that is not sslrootcert',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its certificate is self-signed and not the sslrootcert CA',
  CERT_HAS_EXPIRED: 'its certificate has expired',
  CERT_NOT_YET_VALID: 'its certificate is not valid yet',
};

/** A TLS failure in words, or undefined when the error is not about TLS. */
function tlsProblem(code: unknown, message: string): string | undefined {
  if (/does not support SSL/.test(message)) return 'the server has no TLS (sslmode needs it)';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `its certificate does not name this host (${message})`;
  if (typeof code !== 'string') return undefined;
  const known = certificateCodes[code];
  if (known !== undefined) return `${known} (${code})`;
  return /^ERR_SSL_|^ERR_TLS_/.test(code) ? `${message} (${code})` : undefined;
}

/**
 * A refused login names the password file actually read (the operator's fix), and whether it
 * had a line for this connection at all.
 */
export function withPassfileHint(
  error: unknown,
  endpoint: PgEndpoint,
  passfile: string,
  hadEntry: boolean,
): unknown {
  if (!(error instanceof SkypgError) || error.code !== 'PG_AUTH') return error;
  const host = endpoint.host.startsWith('/') ? 'localhost' : endpoint.host;
  const line = `${host}:${endpoint.port}:${endpoint.database}:${endpoint.user}`;
  const hint = hadEntry
    ? `the password for ${endpoint.user} in ${passfile} is not the role's: fix the first line there matching ${line} (or the role's password), or check pg_hba.conf`
    : `add a line ${line}:PASSWORD to ${passfile} (mode 0600), or check pg_hba.conf`;
  return new SkypgError('PG_AUTH', error.message, { hint, cause: error.cause ?? error });
}

function timeoutError(where: string, timeoutMs: number, cause: unknown): SkypgError {
  return new SkypgError(
    'PG_TIMEOUT',
    `PostgreSQL at ${where} did not answer within ${timeoutMs}ms`,
    {
      cause,
      hint: 'the host may be down, frozen or cut off; a larger timeout only helps on a slow link',
    },
  );
}
