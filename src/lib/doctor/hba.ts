// pg_hba evaluation: which rule of pg_hba_file_rules (PostgreSQL 10+) a connection skypg makes
// would meet, first match wins, the way the server picks it. Pure: rows in, verdict out.
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { SkypgError } from '../common/errors.js';

/** One row of pg_hba_file_rules (the columns we use). */
export interface HbaRule {
  line_number: number;
  type: string;
  database: string[] | null;
  user_name: string[] | null;
  address: string | null;
  netmask: string | null;
  auth_method: string | null;
  error: string | null;
}

/** A connection as pg_hba sees it. `address` undefined = Unix socket. */
export interface HbaConnection {
  /** Why skypg makes it, for messages. */
  purpose: string;
  database: string;
  user: string;
  address?: string;
  /** Physical replication (walreceiver, pg_basebackup): only the `replication` keyword matches. */
  replication: boolean;
  /** May the client use SSL (libpq sslmode=prefer does when the server has ssl=on)? */
  ssl: boolean;
}

export type HbaVerdict =
  | { kind: 'admitted'; line: number; method: string }
  | { kind: 'rejected'; line: number }
  | { kind: 'no-match' }
  /** A rule needs something we cannot evaluate (a host name, samenet) before any sure match. */
  | { kind: 'unknown'; line: number; why: string };

export interface HbaContext {
  /** Roles `user` is a member of (directly or not), for `+group` and samerole. */
  memberOf: (user: string, role: string) => boolean;
  /** Addresses of the server itself (samehost). */
  serverAddresses: readonly string[];
}

export function evaluateHba(
  rules: readonly HbaRule[],
  connection: HbaConnection,
  context: HbaContext,
): HbaVerdict {
  for (const rule of rules) {
    if (rule.error !== null) continue; // the server skips lines it cannot parse
    if (!typeMatches(rule.type, connection)) continue;
    if (!databaseMatches(rule.database ?? [], connection, context)) continue;
    if (!userMatches(rule.user_name ?? [], connection.user, context)) continue;
    if (connection.address !== undefined) {
      const address = addressMatches(rule, connection.address, context);
      if (address === 'unknown') {
        return { kind: 'unknown', line: rule.line_number, why: `address ${rule.address ?? ''}` };
      }
      if (!address) continue;
    }
    const method = rule.auth_method ?? '';
    return method === 'reject'
      ? { kind: 'rejected', line: rule.line_number }
      : { kind: 'admitted', line: rule.line_number, method };
  }
  return { kind: 'no-match' };
}

function typeMatches(type: string, connection: HbaConnection): boolean {
  if (connection.address === undefined) return type === 'local';
  switch (type) {
    case 'host':
    case 'hostnogssenc':
      return true;
    case 'hostssl':
      return connection.ssl;
    case 'hostnossl':
      return !connection.ssl;
    default:
      return false; // local, hostgssenc (skypg never uses GSSAPI encryption)
  }
}

/** A pg_hba value written as /regex (PostgreSQL 16+); POSIX and JS regexes agree on the basics. */
function regexMatches(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern.slice(1)).test(value);
  } catch {
    return false;
  }
}

function databaseMatches(
  databases: readonly string[],
  connection: HbaConnection,
  context: HbaContext,
): boolean {
  return databases.some((database) => {
    if (connection.replication) return database === 'replication';
    if (database === 'all') return true;
    if (database === 'sameuser') return connection.database === connection.user;
    if (database === 'samerole' || database === 'samegroup') {
      return context.memberOf(connection.user, connection.database);
    }
    if (database === 'replication') return false;
    if (database.startsWith('/')) return regexMatches(database, connection.database);
    return database === connection.database;
  });
}

function userMatches(users: readonly string[], user: string, context: HbaContext): boolean {
  return users.some((name) => {
    if (name === 'all') return true;
    if (name.startsWith('+')) return context.memberOf(user, name.slice(1));
    if (name.startsWith('/')) return regexMatches(name, user);
    return name === user;
  });
}

function addressMatches(rule: HbaRule, address: string, context: HbaContext): boolean | 'unknown' {
  const ruleAddress = rule.address ?? 'all';
  if (ruleAddress === 'all') return true;
  if (ruleAddress === 'samehost') return context.serverAddresses.includes(address);
  if (ruleAddress === 'samenet') return 'unknown';
  const value = ipv4ToNumber(address);
  const network = ipv4ToNumber(ruleAddress);
  if (network === undefined) {
    // An IPv6 rule never matches an IPv4 client; anything else is a host name.
    return ruleAddress.includes(':') ? false : 'unknown';
  }
  if (value === undefined) return 'unknown';
  const mask = ipv4ToNumber(rule.netmask ?? '255.255.255.255') ?? 0xffffffff;
  return (value & mask) >>> 0 === (network & mask) >>> 0;
}

export function ipv4ToNumber(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part))) return undefined;
  const bytes = parts.map(Number);
  if (bytes.some((byte) => byte > 255)) return undefined;
  return (
    (((bytes[0] ?? 0) << 24) |
      ((bytes[1] ?? 0) << 16) |
      ((bytes[2] ?? 0) << 8) |
      (bytes[3] ?? 0)) >>>
    0
  );
}

/** `10.0.0.5/24` -> `10.0.0.5`. */
export const addressOnly = (address: string): string => address.split('/')[0] ?? address;

/** The configured VIPs, without prefix length. */
export function vipAddresses(config: ClusterConfig): string[] {
  return [config.vip.primary, config.vip.standby].flatMap((vip) =>
    vip === undefined ? [] : [addressOnly(vip.address)],
  );
}

/** Every address a connection to a node may come from: both nodes and both VIPs (the seed's rule). */
export function clientAddresses(config: ClusterConfig): string[] {
  return [...config.nodes.map((node) => node.address), ...vipAddresses(config)];
}

/**
 * The connections skypg (and the walreceiver it configures) makes to `node`: replication and
 * the heartbeat from every client address, the peer's superuser (pg_rewind, checkpoint) from
 * the peer's addresses, and the local administration through the Unix socket.
 */
export function connectionsTo(config: ClusterConfig, node: NodeConfig): HbaConnection[] {
  const { heartbeat, replication } = config;
  const superuser = node.postgres.superuser;
  const peer = config.nodes.find((candidate) => candidate !== node);
  const vips = vipAddresses(config);
  const connections: HbaConnection[] = [];
  for (const address of clientAddresses(config)) {
    connections.push(
      {
        purpose: 'replication',
        database: 'replication',
        user: replication.user,
        address,
        replication: true,
        ssl: false,
      },
      {
        purpose: 'heartbeat',
        database: heartbeat.database,
        user: heartbeat.user,
        address,
        replication: false,
        ssl: false,
      },
    );
  }
  for (const address of [...(peer === undefined ? [] : [peer.address]), ...vips]) {
    connections.push({
      purpose: 'rebuild from this node (pg_rewind)',
      database: 'postgres',
      user: superuser,
      address,
      replication: false,
      ssl: false,
    });
  }
  connections.push(
    {
      purpose: 'local administration',
      database: 'postgres',
      user: superuser,
      replication: false,
      ssl: false,
    },
    {
      purpose: 'local administration',
      database: heartbeat.database,
      user: superuser,
      replication: false,
      ssl: false,
    },
    {
      purpose: 'heartbeat beat',
      database: heartbeat.database,
      user: heartbeat.user,
      replication: false,
      ssl: false,
    },
  );
  return connections;
}

const hbaKeywords = new Set(['all', 'sameuser', 'samerole', 'samegroup', 'replication']);

/**
 * A database or role name as a pg_hba.conf field: bare when it is plain, else in double quotes
 * (spaces, commas, '#', a leading '+' or '/', or a keyword would change its meaning). A name
 * with a double quote or a control character is refused: it has no safe spelling there.
 */
export function hbaName(name: string, what: string): string {
  if (name === '' || /["\p{Cc}]/u.test(name)) {
    throw new SkypgError(
      'REFUSED',
      `${what} ${JSON.stringify(name)} cannot be written in pg_hba.conf (empty, a double quote or a control character)`,
      { hint: `rename the ${what}, or add its pg_hba.conf line by hand` },
    );
  }
  return /^[A-Za-z0-9_.-]+$/.test(name) && !hbaKeywords.has(name) ? name : `"${name}"`;
}

/** The pg_hba.conf line that admits a connection: exactly that address (/32, or /128 for IPv6). */
export function hbaLineFor(connection: HbaConnection, method: string): string {
  // Physical replication needs the keyword itself, unquoted.
  const database = connection.replication
    ? 'replication'
    : hbaName(connection.database, 'database');
  const user = hbaName(connection.user, 'role');
  if (connection.address === undefined) {
    return `local  ${database}  ${user}  ${method}`;
  }
  const prefix = connection.address.includes(':') ? 128 : 32;
  return `host  ${database}  ${user}  ${connection.address}/${prefix}  ${method}`;
}

export const hbaBlockBegin =
  '# BEGIN skypg doctor --fix: connections skypg makes (docs/operations.md)';
export const hbaBlockEnd = '# END skypg doctor --fix';

/**
 * The pg_hba.conf text with skypg's block holding `lines` (and any it held before): the block
 * is replaced where it is, or put above the first rule (first match wins). Pure and
 * idempotent: the same lines give back the same text.
 */
export function withHbaBlock(text: string, lines: readonly string[]): string {
  const all = text.split('\n');
  const begin = all.indexOf(hbaBlockBegin);
  const end = begin === -1 ? -1 : all.indexOf(hbaBlockEnd, begin);
  const normal = (line: string): string => line.trim().replace(/\s+/g, ' ');
  const kept = begin === -1 || end === -1 ? [] : all.slice(begin + 1, end);
  const known = new Set(kept.map(normal));
  const block = [
    hbaBlockBegin,
    ...kept,
    ...lines.filter((line) => !known.has(normal(line))),
    hbaBlockEnd,
  ];
  if (begin !== -1 && end !== -1) {
    all.splice(begin, end - begin + 1, ...block);
  } else {
    const firstRule = all.findIndex((line) => line.trim() !== '' && !line.trim().startsWith('#'));
    all.splice(firstRule === -1 ? all.length : firstRule, 0, ...block);
  }
  return all.join('\n');
}

export function describeConnection(connection: HbaConnection): string {
  const from = connection.address === undefined ? 'the Unix socket' : connection.address;
  return `${connection.purpose} (${connection.database}/${connection.user} from ${from})`;
}
