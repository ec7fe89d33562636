// `heartbeat init`: the heartbeat and monitoring roles, the database, and schema skypg with the
// one-row table, its guards and the replication views, all owned by the superuser; and the
// audit of those roles doctor runs. What each role may do is docs/security.md.
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { SkypgError } from '../common/errors.js';
import { localTarget, withConnection, type PgSession } from '../pg/connect.js';
import { quoteIdent, quoteLiteral } from '../pg/sql.js';
import {
  beatColumns,
  clusterStatusTable as table,
  heartbeatSchema,
  ioTable,
  operatorColumns,
  readKeptFlags,
  timelineSql,
  trustedTableSql,
} from './table.js';
import { heartbeatDbTarget } from './targets.js';

export interface HeartbeatInitResult {
  node: string;
  database: string;
  user: string;
  /** One sentence per object: created, or already there. */
  steps: string[];
}

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
  // Read as the heartbeat role, never as the superuser (the object may not be what it claims),
  // so a rebuild keeps the degrade state; none when the role cannot log in yet.
  const kept = await withConnection(
    heartbeatDbTarget(config, node, 'heartbeat', 'socket'),
    readKeptFlags,
  ).catch(() => undefined);
  await withConnection(heartbeatDbTarget(config, node, 'superuser', 'socket'), async (session) => {
    await session.query('begin');
    const foreign = await foreignObjects(session);
    let pause = { by: kept?.paused_by ?? null, at: kept?.paused_at ?? null };
    if (foreign !== undefined) {
      // Anything there a non-superuser made may run its code in a superuser's session; the
      // schema holds only skypg's own objects, so it is rebuilt whole, in this transaction.
      await session.query(`drop schema ${heartbeatSchema} cascade`);
      steps.push(`rebuilt schema ${heartbeatSchema}: ${foreign}`);
      // The role could write the old table's pause flag, and a pause never ends by itself. The
      // degrade record is kept: at worst it keeps a standby from promoting until sync is back.
      if (pause.by !== null) {
        steps.push(
          "the pause flag of the old table is not kept (the heartbeat role could write it there): run 'skypg pause' again if the cluster should stay paused",
        );
      }
      pause = { by: null, at: null };
    }
    const leftovers = await ownedByReaders(session, readers);
    if (leftovers.length > 0) {
      // These roles own nothing in the model; what they made may be picked by a superuser's
      // unqualified name elsewhere. DROP OWNED also takes their grants here, given back below.
      await session.query(`drop owned by ${readers.map(quoteIdent).join(', ')}`);
      steps.push(`dropped what ${readers.join(', ')} made in ${database}: ${summary(leftovers)}`);
    }
    await createObjects(session, config);
    await grantReaders(session, config, readers);
    const inserted = await session.query(
      `insert into ${table} (id, last_alive, writer, timeline, wal_lsn, paused_by, paused_at, sync_degraded_at)
       select 1, now(), $1, ${timelineSql}, pg_current_wal_lsn(), $2, $3, $4
       on conflict (id) do nothing returning id`,
      [node.name, pause.by, pause.at, kept?.sync_degraded_at ?? null],
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
  return rows.length === 0 ? undefined : summary(rows.map((row) => row.what));
}

/** The first three, and how many more. */
function summary(items: string[]): string {
  const shown = items.slice(0, 3).join(', ');
  return items.length > 3 ? `${shown} and ${items.length - 3} more` : shown;
}

/**
 * What the reader roles own in this database (the owner entries DROP OWNED acts on), named.
 * An old install let the heartbeat role create here: schema skypg was its own, and before
 * PostgreSQL 15 any role could create in schema public.
 */
async function ownedByReaders(session: PgSession, readers: string[]): Promise<string[]> {
  const rows = await session.query<{ what: string }>(
    `select pg_describe_object(d.classid, d.objid, d.objsubid) || ' of ' || r.rolname as what
       from pg_shdepend d join pg_roles r on r.oid = d.refobjid
      where d.dbid = (select oid from pg_database where datname = current_database())
        and d.deptype = 'o' and r.rolname = any($1)
      order by 1`,
    [readers],
  );
  return rows.map((row) => row.what);
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
  await session.query(`grant connect on database ${quoteIdent(database)} to ${all}`);
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

/** What doctor finds of one heartbeat or monitoring role, against the model init grants. */
export interface ReaderRoleAudit {
  rolname: string;
  /** Member of pg_read_all_stats: may read other sessions' query text. */
  stats: boolean;
  owns: boolean;
  temp: boolean;
  /** Operator columns of the table this role may UPDATE. */
  writes: string[];
}

/**
 * The privileges of `readers` beyond docs/security.md, and whether the table is still a plain
 * table a superuser owns. Run as the superuser on the heartbeat database (catalogs only).
 */
export async function auditReaderRoles(
  session: PgSession,
  readers: string[],
): Promise<{ roles: ReaderRoleAudit[]; trusted: boolean }> {
  const roles = await session.query<ReaderRoleAudit>(
    `select r.rolname, pg_has_role(r.oid, 'pg_read_all_stats', 'member') as stats,
            exists (select 1 from pg_class where relowner = r.oid)
              or exists (select 1 from pg_namespace where nspowner = r.oid)
              or exists (select 1 from pg_proc where proowner = r.oid)
              or exists (select 1 from pg_database where datdba = r.oid) as owns,
            has_database_privilege(r.oid, current_database(), 'TEMPORARY') as temp,
            array(select a.attname::text from pg_attribute a
                   where a.attrelid = to_regclass('${table}')
                     and a.attname = any($2) and not a.attisdropped
                     and has_column_privilege(r.oid, a.attrelid, a.attnum, 'UPDATE')) as writes
       from pg_roles r where r.rolname = any($1)`,
    [readers, operatorColumns],
  );
  const [row] = await session.query<{ trusted: boolean }>(`select ${trustedTableSql} as trusted`);
  return { roles, trusted: row?.trusted === true };
}
