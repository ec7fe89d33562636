// The heartbeat: a one-row table on the primary, written every beat and read on both nodes
// (the standby reads its replicated copy). It carries the primary's liveness and the byte lag
// of the standby as the primary sees it. docs/monitoring.md documents the rules.
import type { ClusterConfig, NodeConfig } from './config/types.js';
import { peerOf } from './config/local-node.js';
import { SkypgError, messageOf } from './errors.js';
import { localTarget, remoteTarget, withConnection, type PgSession } from './pg/connect.js';
import { quoteIdent } from './pg/sql.js';

export const heartbeatSchema = 'skypg';
const table = `${heartbeatSchema}.cluster_status`;

export interface HeartbeatInitResult {
  node: string;
  database: string;
  user: string;
  /** One sentence per object: created, or already there. */
  steps: string[];
}

/**
 * Creates, idempotently, the heartbeat role (pg_monitor, no superuser), database, schema
 * (owned by the role), the one-row table that refuses DELETE and TRUNCATE, and its row.
 * Runs on the primary as the local superuser; the standby gets it all by replication.
 */
export async function initHeartbeat(
  config: ClusterConfig,
  node: NodeConfig,
): Promise<HeartbeatInitResult> {
  const { database, user } = config.heartbeat;
  const role = quoteIdent(user);
  const steps: string[] = [];
  await withConnection(localTarget(node), async (session) => {
    await requirePrimary(session, node, 'heartbeat init');
    const [existingRole] = await session.query('select 1 from pg_roles where rolname = $1', [user]);
    if (existingRole === undefined) {
      await session.query(`create role ${role} login nosuperuser nocreatedb nocreaterole`);
      steps.push(`created role ${user} (login, no superuser)`);
    } else {
      steps.push(`role ${user} exists`);
    }
    await session.query(`grant pg_monitor to ${role}`);
    steps.push(`granted pg_monitor to ${user}`);
    const [existingDb] = await session.query('select 1 from pg_database where datname = $1', [
      database,
    ]);
    if (existingDb === undefined) {
      await session.query(`create database ${quoteIdent(database)}`);
      steps.push(`created database ${database}`);
    } else {
      steps.push(`database ${database} exists`);
    }
    await session.query(`grant connect, temporary on database ${quoteIdent(database)} to ${role}`);
    if (config.heartbeat.io_check) {
      const spaces = await session.query<{ spcname: string }>(
        "select spcname from pg_tablespace where spcname not in ('pg_global', 'pg_default')",
      );
      for (const { spcname } of spaces) {
        await session.query(`grant create on tablespace ${quoteIdent(spcname)} to ${role}`);
        steps.push(`granted create on tablespace ${spcname} (I/O check)`);
      }
    }
  });
  await withConnection(localTarget(node, { database }), async (session) => {
    await session.query(`create schema if not exists ${heartbeatSchema} authorization ${role}`);
    // Objects are created as the role so that it owns them and needs no superuser later.
    await session.query(`set role ${role}`);
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
        add column if not exists sync_degraded_at timestamptz`);
    await session.query(`
      create or replace function ${heartbeatSchema}.refuse_removal() returns trigger
      language plpgsql as $$
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
    const inserted = await session.query(
      `insert into ${table} (id, last_alive, writer, timeline, wal_lsn)
       select 1, now(), $1, ${timelineSql}, pg_current_wal_lsn()
       on conflict (id) do nothing returning id`,
      [node.name],
    );
    await session.query('reset role');
    steps.push(
      `schema ${heartbeatSchema}, table cluster_status and its DELETE/TRUNCATE guards ready`,
    );
    steps.push(inserted.length > 0 ? 'heartbeat row written' : 'heartbeat row exists');
  });
  return { node: node.name, database, user, steps };
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
    const name = `${heartbeatSchema}.${quoteIdent(`io_${spcname}`)}`;
    try {
      await session.query(
        `create table if not exists ${name} (id int primary key, checked_at timestamptz) tablespace ${quoteIdent(spcname)}`,
      );
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
 * primary (the standby reads it from its replicated copy).
 */
export async function setPause(
  config: ClusterConfig,
  by: string | undefined,
): Promise<PauseResult> {
  const errors: string[] = [];
  for (const node of config.nodes) {
    const target = remoteTarget(node, {
      database: config.heartbeat.database,
      user: config.heartbeat.user,
    });
    try {
      const written = await withConnection(target, async (session) => {
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
