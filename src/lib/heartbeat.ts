// The heartbeat: a one-row table on the primary, written every beat and read on both nodes
// (the standby reads its replicated copy). It carries the primary's liveness and the byte lag
// of the standby as the primary sees it. docs/monitoring.md documents the rules.
import type { ClusterConfig, NodeConfig } from './config/types.js';
import { peerOf } from './config/local-node.js';
import { SkypgError, messageOf } from './errors.js';
import {
  localTarget,
  remoteTarget,
  withConnection,
  type ConnectTarget,
  type PgSession,
} from './pg/connect.js';
import { quoteIdent, quoteLiteral } from './pg/sql.js';

export const heartbeatSchema = 'skypg';
const table = `${heartbeatSchema}.cluster_status`;

export interface HeartbeatInitResult {
  node: string;
  database: string;
  user: string;
  /** One sentence per object: created, or already there. */
  steps: string[];
}

/** What the beat writes: the heartbeat role may UPDATE these columns and nothing else. */
const beatColumns = [
  'last_alive',
  'writer',
  'timeline',
  'wal_lsn',
  'rep_lag',
  'replay_lag',
  'standby',
  'io_checked_at',
  'io_error',
];

/**
 * The replication views a role without pg_read_all_stats sees almost empty, each through a
 * SECURITY DEFINER function of the superuser that returns only that view (never
 * pg_stat_activity, so never another session's query text). A view of the same name in schema
 * skypg, first on the search_path of the heartbeat and monitoring roles in this database,
 * makes the unqualified `pg_stat_replication` of every skypg query read it.
 */
const statViews = ['pg_stat_replication', 'pg_stat_wal_receiver'];

/**
 * Functions doctor's disk check calls that pg_monitor used to allow, shadowed the same way
 * (signature, result, body): sizes and WAL file names only.
 */
const statFunctions = [
  [
    'pg_ls_waldir()',
    'table (name text, size bigint, modification timestamptz)',
    'select * from pg_catalog.pg_ls_waldir()',
  ],
  ['pg_database_size(oid)', 'bigint', 'select pg_catalog.pg_database_size($1)'],
] as const;

/**
 * Creates, idempotently, the heartbeat role (no superuser, no pg_monitor), the optional
 * read-only monitoring role, the database, and, owned by the superuser, schema skypg with the
 * one-row table that refuses DELETE and TRUNCATE. The heartbeat role may only update the beat
 * columns; switchover, pause and degrade state are written by the superuser (docs/security.md).
 * An older install, where the heartbeat role owned the schema, is rebuilt. Runs on the primary
 * as the local superuser; the standby gets it all by replication.
 */
export async function initHeartbeat(
  config: ClusterConfig,
  node: NodeConfig,
): Promise<HeartbeatInitResult> {
  const { database, user, monitor_user: monitor } = config.heartbeat;
  const readers = monitor === undefined ? [user] : [user, monitor];
  const privileged = [node.postgres.superuser, config.replication.user];
  const clash = readers.find((name) => privileged.includes(name));
  if (clash !== undefined || user === monitor) {
    throw new SkypgError(
      'REFUSED',
      `heartbeat.user and heartbeat.monitor_user must be roles of their own, and ${clash ?? user} is also used for another purpose`,
      { hint: 'name a separate role for each (defaults: sky_pg_cluster, and no monitoring role)' },
    );
  }
  const steps: string[] = [];
  await withConnection(localTarget(node), async (session) => {
    await requirePrimary(session, node, 'heartbeat init');
    for (const name of readers) await ensureLoginRole(session, name, steps);
    await dropExtraPrivileges(session, readers, steps);
    // doctor reads pg_settings as this role; no setting carries another session's data.
    await session.query(`grant pg_read_all_settings to ${quoteIdent(user)}`);
    const [existingDb] = await session.query('select 1 from pg_database where datname = $1', [
      database,
    ]);
    if (existingDb === undefined) {
      await session.query(`create database ${quoteIdent(database)}`);
      steps.push(`created database ${database}`);
    } else {
      steps.push(`database ${database} exists`);
    }
    // The manual procedure made the heartbeat role own the database (CREATE, and schema public).
    const [owner] = await session.query<{ owner: string; rolsuper: boolean }>(
      `select r.rolname as owner, r.rolsuper from pg_database d join pg_roles r on r.oid = d.datdba
        where d.datname = $1`,
      [database],
    );
    if (owner !== undefined && !owner.rolsuper) {
      await session.query(`alter database ${quoteIdent(database)} owner to current_user`);
      steps.push(`database ${database} taken over from ${owner.owner}`);
    }
    // PUBLIC gets CONNECT and TEMPORARY on a new database; here only our roles connect.
    const db = quoteIdent(database);
    await session.query(`revoke all on database ${db} from public`);
    for (const name of readers) {
      await session.query(`revoke all on database ${db} from ${quoteIdent(name)}`);
      await session.query(`grant connect on database ${db} to ${quoteIdent(name)}`);
    }
    steps.push(`${readers.join(', ')}: CONNECT on ${database}, no CREATE, no TEMPORARY`);
  });
  const kept = await readKeptFlags(config, node);
  await withConnection(localTarget(node, { database }), async (session) => {
    await session.query('begin');
    const foreign = await foreignObjects(session);
    if (foreign !== undefined) {
      // Anything there a non-superuser made may run its code in a superuser's session; the
      // schema holds only skypg's own objects, so it is rebuilt whole, in this transaction.
      await session.query(`drop schema ${heartbeatSchema} cascade`);
      steps.push(`rebuilt schema ${heartbeatSchema}: ${foreign}`);
    }
    await createObjects(session, config);
    await grantReaders(session, config, readers);
    const inserted = await session.query(
      `insert into ${table} (id, last_alive, writer, timeline, wal_lsn, paused_by, paused_at, sync_degraded_at)
       select 1, now(), $1, ${timelineSql}, pg_current_wal_lsn(), $2, $3, $4
       on conflict (id) do nothing returning id`,
      [node.name, kept?.paused_by ?? null, kept?.paused_at ?? null, kept?.sync_degraded_at ?? null],
    );
    await session.query('commit');
    steps.push(
      `schema ${heartbeatSchema}, table cluster_status and its DELETE/TRUNCATE guards ready, owned by ${node.postgres.superuser}`,
    );
    steps.push(
      `${user}: SELECT, UPDATE of the beat columns only; ${monitor === undefined ? 'no monitoring role (heartbeat.monitor_user)' : `${monitor}: SELECT only`}`,
    );
    steps.push(inserted.length > 0 ? 'heartbeat row written' : 'heartbeat row exists');
  });
  return { node: node.name, database, user, steps };
}

async function ensureLoginRole(session: PgSession, name: string, steps: string[]): Promise<void> {
  const [existing] = await session.query('select 1 from pg_roles where rolname = $1', [name]);
  if (existing === undefined) {
    await session.query(`create role ${quoteIdent(name)} login`);
    steps.push(`created role ${name} (login, no superuser)`);
  } else {
    steps.push(`role ${name} exists`);
  }
  await session.query(
    `alter role ${quoteIdent(name)} login nosuperuser nocreatedb nocreaterole noreplication nobypassrls`,
  );
}

/** Older installs granted pg_monitor (query text of every session) and CREATE on tablespaces. */
async function dropExtraPrivileges(
  session: PgSession,
  roles: string[],
  steps: string[],
): Promise<void> {
  const granted = await session.query<{ member: string; role: string }>(
    `select m.rolname as member, r.rolname as role
       from pg_auth_members a join pg_roles r on r.oid = a.roleid join pg_roles m on m.oid = a.member
      where m.rolname = any($1) and r.rolname <> 'pg_read_all_settings'`,
    [roles],
  );
  for (const { member, role } of granted) {
    await session.query(`revoke ${quoteIdent(role)} from ${quoteIdent(member)}`);
    steps.push(`revoked ${role} from ${member}`);
  }
  const spaces = await session.query<{ spcname: string }>(
    "select spcname from pg_tablespace where spcname not in ('pg_global', 'pg_default')",
  );
  for (const { spcname } of spaces) {
    for (const name of roles)
      await session.query(
        `revoke create on tablespace ${quoteIdent(spcname)} from ${quoteIdent(name)}`,
      );
  }
}

interface KeptFlags {
  paused_by: string | null;
  paused_at: string | null;
  sync_degraded_at: string | null;
}

/**
 * The pause and degrade state of an existing row, read as the heartbeat role (never as the
 * superuser: the object may not be what it claims), so a rebuild keeps them. Undefined when
 * there is no row or the role cannot log in yet.
 */
async function readKeptFlags(
  config: ClusterConfig,
  node: NodeConfig,
): Promise<KeptFlags | undefined> {
  return withConnection(heartbeatTarget(config, node), async (session) => {
    const [row] = await session.query<{ j: Record<string, string | null> }>(
      `select to_jsonb(s) as j from ${table} s where id = 1`,
    );
    const j = row?.j;
    return j === undefined
      ? undefined
      : {
          paused_by: j['paused_by'] ?? null,
          paused_at: j['paused_at'] ?? null,
          sync_degraded_at: j['sync_degraded_at'] ?? null,
        };
  }).catch(() => undefined);
}

/** Catalogs of what a schema holds: catalog, how an object is named, schema and owner columns. */
const ownedObjects = [
  ['pg_class', 'o.oid::regclass', 'relnamespace', 'relowner'],
  ['pg_proc', 'o.oid::regprocedure', 'pronamespace', 'proowner'],
  ['pg_type', "'type ' || o.oid::regtype", 'typnamespace', 'typowner'],
] as const;

/** What in schema skypg a non-superuser owns (or a cluster_status that is not a table). */
async function foreignObjects(session: PgSession): Promise<string | undefined> {
  const rows = await session.query<{ what: string }>(
    `select format('schema %s owned by %s', n.nspname, r.rolname) as what
       from pg_namespace n join pg_roles r on r.oid = n.nspowner
      where n.nspname = $1 and not r.rolsuper
     union all
     ${ownedObjects
       .map(
         ([catalog, nameOf, schemaColumn, ownerColumn]) =>
           `select format('%s owned by %s', ${nameOf}, r.rolname)
            from ${catalog} o join pg_namespace n on n.oid = o.${schemaColumn}
            join pg_roles r on r.oid = o.${ownerColumn}
           where n.nspname = $1 and not r.rolsuper
          union all`,
       )
       .join('\n')}
     select format('%s is not a table (relkind %s)', c.oid::regclass, c.relkind)
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relname = 'cluster_status' and c.relkind <> 'r'`,
    [heartbeatSchema],
  );
  if (rows.length === 0) return undefined;
  const shown = rows.slice(0, 3).map((row) => row.what);
  return rows.length > 3 ? `${shown.join(', ')} and ${rows.length - 3} more` : shown.join(', ');
}

/** Schema, table, guards, replication views and I/O tables, all owned by the superuser. */
async function createObjects(session: PgSession, config: ClusterConfig): Promise<void> {
  await session.query(`create schema if not exists ${heartbeatSchema}`);
  await session.query(`
    create table if not exists ${table} (
      id int primary key default 1 check (id = 1),
      last_alive timestamptz not null,
      writer text not null,
      timeline int not null,
      wal_lsn pg_lsn not null,
      rep_lag bigint,
      replay_lag bigint,
      standby text,
      io_checked_at timestamptz,
      io_error text
    )`);
  // Columns added after the first release: added in place, so init also upgrades.
  await session.query(`
    alter table ${table}
      add column if not exists paused_by text,
      add column if not exists paused_at timestamptz,
      add column if not exists sync_degraded_at timestamptz,
      add column if not exists switchover_to text,
      add column if not exists switchover_by text,
      add column if not exists switchover_at timestamptz,
      add column if not exists switchover_timeout_ms bigint,
      add column if not exists switchover_phase text`);
  await session.query(`
    create or replace function ${heartbeatSchema}.refuse_removal() returns trigger
    language plpgsql set search_path = pg_catalog, pg_temp as $$
    begin
      raise exception 'skypg: % on %.% is refused: the heartbeat table keeps exactly one row',
        tg_op, tg_table_schema, tg_table_name;
    end $$`);
  for (const [name, timing] of [
    ['refuse_delete', 'before delete on ' + table + ' for each row'],
    ['refuse_truncate', 'before truncate on ' + table + ' for each statement'],
  ] as const) {
    const [present] = await session.query(
      'select 1 from pg_trigger where tgname = $1 and tgrelid = $2::regclass',
      [name, table],
    );
    if (present === undefined) {
      await session.query(
        `create trigger ${name} ${timing} execute function ${heartbeatSchema}.refuse_removal()`,
      );
    }
  }
  for (const view of statViews) {
    const fn = `${heartbeatSchema}.read_${view}`;
    await session.query(
      `create or replace function ${fn}() returns setof pg_catalog.${view}
       language sql stable security definer set search_path = pg_catalog, pg_temp
       as 'select * from pg_catalog.${view}'`,
    );
    await session.query(`revoke all on function ${fn}() from public`);
    await session.query(
      `create or replace view ${heartbeatSchema}.${view} as select * from ${fn}()`,
    );
  }
  for (const [signature, returns, body] of statFunctions) {
    await session.query(
      `create or replace function ${heartbeatSchema}.${signature} returns ${returns}
       language sql stable security definer set search_path = pg_catalog, pg_temp
       as ${quoteLiteral(body)}`,
    );
    await session.query(`revoke all on function ${heartbeatSchema}.${signature} from public`);
  }
  if (config.heartbeat.io_check) {
    const spaces = await session.query<{ spcname: string }>(
      "select spcname from pg_tablespace where spcname <> 'pg_global' order by spcname",
    );
    for (const { spcname } of spaces) {
      await session.query(
        `create table if not exists ${ioTable(spcname)} (id int primary key, checked_at timestamptz) tablespace ${quoteIdent(spcname)}`,
      );
    }
  }
}

/** The I/O check's table in one tablespace (created by init, written by the beat). */
function ioTable(spcname: string): string {
  return `${heartbeatSchema}.${quoteIdent(`io_${spcname}`)}`;
}

async function grantReaders(
  session: PgSession,
  config: ClusterConfig,
  readers: string[],
): Promise<void> {
  const { database, user } = config.heartbeat;
  const role = quoteIdent(user);
  const all = readers.map(quoteIdent).join(', ');
  // Before PostgreSQL 15 every role may create in schema public; nothing of skypg lives there.
  await session.query('revoke create on schema public from public');
  await session.query(`revoke all on schema ${heartbeatSchema} from public, ${all}`);
  await session.query(`grant usage on schema ${heartbeatSchema} to ${all}`);
  await session.query(`revoke all on all tables in schema ${heartbeatSchema} from public, ${all}`);
  await session.query(`grant select on ${table} to ${all}`);
  await session.query(`grant update (${beatColumns.join(', ')}) on ${table} to ${role}`);
  for (const view of statViews) {
    await session.query(`grant select on ${heartbeatSchema}.${view} to ${all}`);
    await session.query(`grant execute on function ${heartbeatSchema}.read_${view}() to ${all}`);
  }
  for (const [signature] of statFunctions)
    await session.query(`grant execute on function ${heartbeatSchema}.${signature} to ${role}`);
  const ioTables = await session.query<{ name: string }>(
    `select c.oid::regclass::text as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind = 'r' and c.relname like 'io\\_%'`,
    [heartbeatSchema],
  );
  for (const { name } of ioTables)
    await session.query(`grant select, insert, update on ${name} to ${role}`);
  for (const name of readers) {
    await session.query(
      `alter role ${quoteIdent(name)} in database ${quoteIdent(database)} set search_path = ${heartbeatSchema}, pg_catalog, public`,
    );
  }
}

/**
 * One expression, true when skypg.cluster_status is a plain table that a superuser owns in a
 * schema a superuser owns. Nothing else may be read or written by a superuser session: a view,
 * trigger or rule of another role would run its code with the superuser's rights.
 */
export const trustedTableSql = `coalesce((select c.relkind = 'r' and cr.rolsuper and nr.rolsuper
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    join pg_catalog.pg_roles cr on cr.oid = c.relowner
    join pg_catalog.pg_roles nr on nr.oid = n.nspowner
   where n.nspname = '${heartbeatSchema}' and c.relname = 'cluster_status'), false)`;

export function untrustedTable(node: NodeConfig): SkypgError {
  return new SkypgError(
    'REFUSED',
    `${table} on ${node.name} is not a table owned by a superuser, so skypg will not use it as one`,
    { hint: "run 'skypg heartbeat init' on the primary: it takes the schema back and rebuilds it" },
  );
}

/** Fails unless the heartbeat table may be read or written by this (superuser) session. */
export async function requireTrustedTable(session: PgSession, node: NodeConfig): Promise<void> {
  const [row] = await session.query<{ trusted: boolean }>(`select ${trustedTableSql} as trusted`);
  if (row?.trusted !== true) throw untrustedTable(node);
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
 * Runs `work` as the operator (postgres.superuser) on a node's heartbeat database over TCP:
 * the only way pause and switchover state is written.
 */
export function withOperatorSession<T>(
  config: ClusterConfig,
  node: NodeConfig,
  work: (session: PgSession) => Promise<T>,
): Promise<T> {
  return withTrustedTable(remoteTarget(node, { database: config.heartbeat.database }), node, work);
}

const timelineSql = `('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int`;

async function requirePrimary(session: PgSession, node: NodeConfig, what: string): Promise<void> {
  const [row] = await session.query<{ standby: boolean }>('select pg_is_in_recovery() as standby');
  if (row?.standby === true) {
    throw new SkypgError(
      'PG_IN_RECOVERY',
      `${node.name} is a standby; ${what} runs on the primary`,
      {
        hint: 'run it on the primary: the standby receives the heartbeat by replication',
      },
    );
  }
}

export interface HeartbeatRow {
  lastAlive: Date;
  writer: string;
  timeline: number;
  walLsn: string;
  /** Bytes between the primary's WAL position and what the standby has flushed, at the beat. */
  repLag: number | undefined;
  /** Bytes between the primary's WAL position and what the standby has replayed, at the beat. */
  replayLag: number | undefined;
  standby: string | undefined;
  ioCheckedAt: Date | undefined;
  ioError: string | undefined;
}

interface HeartbeatSqlRow {
  last_alive: Date;
  writer: string;
  timeline: number;
  wal_lsn: string;
  rep_lag: string | null;
  replay_lag: string | null;
  standby: string | null;
  io_checked_at: Date | null;
  io_error: string | null;
}

const rowColumns =
  'last_alive, writer, timeline, wal_lsn::text, rep_lag::text, replay_lag::text, standby, io_checked_at, io_error';

function toRow(row: HeartbeatSqlRow): HeartbeatRow {
  return {
    lastAlive: row.last_alive,
    writer: row.writer,
    timeline: row.timeline,
    walLsn: row.wal_lsn,
    repLag: row.rep_lag === null ? undefined : Number(row.rep_lag),
    replayLag: row.replay_lag === null ? undefined : Number(row.replay_lag),
    standby: row.standby ?? undefined,
    ioCheckedAt: row.io_checked_at ?? undefined,
    ioError: row.io_error ?? undefined,
  };
}

export type BeatResult =
  | { node: string; written: true; row: HeartbeatRow; ioChecked: boolean }
  | { node: string; written: false; reason: 'standby' };

/** Connection the heartbeat user makes to its database on this node (through the socket). */
export function heartbeatTarget(config: ClusterConfig, node: NodeConfig) {
  return localTarget(node, { database: config.heartbeat.database, user: config.heartbeat.user });
}

/**
 * The role read-only commands (`status`, `check-lag`) log in as: heartbeat.monitor_user when it
 * is set, so a monitoring host needs no password of a role that may write; else the heartbeat role.
 */
export function readerTarget(config: ClusterConfig, node: NodeConfig): ConnectTarget {
  return {
    ...heartbeatTarget(config, node),
    user: config.heartbeat.monitor_user ?? config.heartbeat.user,
  };
}

/**
 * One beat on the primary: last_alive = now(), the peer's lag as pg_stat_replication shows it
 * (matched by application_name = the peer's node name, else the only WAL sender), and at
 * io_check_interval the tablespace I/O check. On a standby it writes nothing.
 */
export async function beat(config: ClusterConfig, node: NodeConfig): Promise<BeatResult> {
  const peer = peerOf(config, node.name);
  return withConnection(heartbeatTarget(config, node), async (session) => {
    const [role] = await session.query<{ standby: boolean }>(
      'select pg_is_in_recovery() as standby',
    );
    if (role?.standby === true) return { node: node.name, written: false, reason: 'standby' };
    // The beat proves this server can write; in sync mode it must not wait for the standby, or
    // a missing standby would make a healthy primary look dead (and block the sync degrade).
    await session.query('set synchronous_commit = local');
    const rows = await session
      .query<HeartbeatSqlRow>(
        `with standby as (
         select application_name,
                pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint as flush_lag,
                pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint as replay_lag
           from pg_stat_replication
          where application_name = $2 or (select count(*) from pg_stat_replication) = 1
          order by application_name = $2 desc
          limit 1)
       update ${table}
          set last_alive = now(), writer = $1, timeline = ${timelineSql},
              wal_lsn = pg_current_wal_lsn(),
              rep_lag = (select flush_lag from standby),
              replay_lag = (select replay_lag from standby),
              standby = (select application_name from standby)
        where id = 1
       returning ${rowColumns}`,
        [node.name, peer.name],
      )
      .catch((error: unknown) => {
        throw notInitialized(error, config, node);
      });
    const [written] = rows;
    if (written === undefined) throw notInitialized(undefined, config, node);
    let ioChecked = false;
    let row = toRow(written);
    if (config.heartbeat.io_check && ioCheckDue(row, config.heartbeat.io_check_interval)) {
      const ioError = await checkTablespaces(session);
      const [after] = await session.query<HeartbeatSqlRow>(
        `update ${table} set io_checked_at = now(), io_error = $1 where id = 1 returning ${rowColumns}`,
        [ioError ?? null],
      );
      if (after) row = toRow(after);
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

/**
 * Writes a small table in every tablespace and, where the role may call pg_stat_file, stats
 * its file: an update alone would stay in shared buffers and hide a broken filesystem until
 * the next checkpoint. Returns the first failure, or undefined.
 */
async function checkTablespaces(session: PgSession): Promise<string | undefined> {
  const spaces = await session.query<{ spcname: string }>(
    "select spcname from pg_tablespace where spcname <> 'pg_global' order by spcname",
  );
  const [privilege] = await session.query<{ can_stat: boolean }>(
    "select has_function_privilege('pg_stat_file(text)', 'execute') as can_stat",
  );
  for (const { spcname } of spaces) {
    // The tables are made by `heartbeat init` (this role may create nothing): a tablespace
    // added since then reports "does not exist" until init runs again.
    const name = ioTable(spcname);
    try {
      await session.query(
        `insert into ${name} values (1, now()) on conflict (id) do update set checked_at = excluded.checked_at`,
      );
      if (privilege?.can_stat === true) {
        await session.query(`select pg_stat_file(pg_relation_filepath($1))`, [name]);
      }
    } catch (error) {
      return `tablespace ${spcname}: ${messageOf(error)}`;
    }
  }
  return undefined;
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

export interface HeartbeatView {
  node: string;
  role: 'primary' | 'standby';
  row: HeartbeatRow;
  /** Seconds since the beat, by the rule in docs/monitoring.md. */
  ageSeconds: number;
  /** False when a standby had no WAL receiver to correct for clock skew with. */
  clockSkewCorrected: boolean;
}

interface ViewSqlRow extends HeartbeatSqlRow {
  standby_role: boolean;
  raw_age: number;
  corrected_age: number | null;
}

/**
 * Reads the row on either node. On the primary the age is now() - last_alive (one clock).
 * On a standby, last_alive is the primary's clock, so the age is measured on each clock
 * separately: (standby now - last message received) + (that message's send time - last_alive).
 */
export async function readHeartbeat(session: PgSession, node: NodeConfig): Promise<HeartbeatView> {
  const rows = await session.query<ViewSqlRow>(
    `select ${rowColumns}, pg_is_in_recovery() as standby_role,
            extract(epoch from now() - s.last_alive)::float8 as raw_age,
            extract(epoch from greatest(now() - r.last_msg_receipt_time, interval '0')
                             + greatest(r.last_msg_send_time - s.last_alive, interval '0'))::float8 as corrected_age
       from ${table} s left join pg_stat_wal_receiver r on true
      where s.id = 1`,
  );
  const [row] = rows;
  if (row === undefined)
    throw new SkypgError('PG_NOT_FOUND', `the heartbeat row is missing on ${node.name}`, {
      hint: "run 'skypg heartbeat init' on the primary",
    });
  const standby = row.standby_role;
  const corrected = standby && row.corrected_age !== null;
  return {
    node: node.name,
    role: standby ? 'standby' : 'primary',
    row: toRow(row),
    ageSeconds: Math.max(0, corrected ? (row.corrected_age ?? 0) : row.raw_age),
    clockSkewCorrected: !standby || corrected,
  };
}

/** `heartbeat show` on this node. */
export async function showHeartbeat(
  config: ClusterConfig,
  node: NodeConfig,
): Promise<HeartbeatView> {
  return withConnection(heartbeatTarget(config, node), (session) =>
    readHeartbeat(session, node),
  ).catch((error: unknown) => {
    throw notInitialized(error, config, node);
  });
}

export interface PauseResult {
  paused: boolean;
  /** The primary the flag was written on; the standby gets it by replication. */
  writtenOn: string;
  by: string | undefined;
}

/**
 * Sets or clears the cluster-wide pause flag in the heartbeat row, on whichever node is the
 * primary (the standby reads it from its replicated copy), as the operator (postgres.superuser):
 * the heartbeat role may not write it.
 */
export async function setPause(
  config: ClusterConfig,
  by: string | undefined,
): Promise<PauseResult> {
  const errors: string[] = [];
  for (const node of config.nodes) {
    try {
      const written = await withOperatorSession(config, node, async (session) => {
        const [role] = await session.query<{ standby: boolean }>(
          'select pg_is_in_recovery() as standby',
        );
        if (role?.standby !== false) return false;
        await session.query(
          `update ${table} set paused_by = $1, paused_at = case when $1::text is null then null else now() end where id = 1`,
          [by ?? null],
        );
        return true;
      });
      if (written) return { paused: by !== undefined, writtenOn: node.name, by };
      errors.push(`${node.name} is a standby`);
    } catch (error) {
      if (error instanceof SkypgError && error.code === 'REFUSED') throw error;
      errors.push(`${node.name}: ${messageOf(error)}`);
    }
  }
  throw new SkypgError(
    'REFUSED',
    `no primary answered, so the pause flag could not be ${by === undefined ? 'cleared' : 'set'} (${errors.join('; ')})`,
    {
      hint: 'the flag lives in the heartbeat table on the primary; with no primary, stop the supervisors instead (systemctl stop skypg)',
    },
  );
}
