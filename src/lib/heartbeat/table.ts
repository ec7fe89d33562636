// Every statement on the heartbeat row (skypg.cluster_status), each a named function over an
// open session; which role runs it is the caller's choice of target (targets.ts). The row
// carries the primary's liveness and the standby's lag (the beat, written by the heartbeat
// role), and the operator state: pause, switchover, sync degrade (written by the superuser).
// docs/monitoring.md and docs/security.md document the rules.
import type { NodeConfig } from '../config/types.js';
import { SkypgError, messageOf } from '../common/errors.js';
import type { PgSession } from '../pg/connect.js';
import { quoteIdent } from '../pg/sql.js';
import type { SwitchoverFlag } from '../supervisor/types.js';

export const heartbeatSchema = 'skypg';
export const clusterStatusTable = `${heartbeatSchema}.cluster_status`;

/** What the beat writes: the heartbeat role may UPDATE these columns and nothing else. */
export const beatColumns = [
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

/** Columns only the superuser writes: pause, degrade and switchover state. */
export const operatorColumns = [
  'paused_by',
  'paused_at',
  'sync_degraded_at',
  'switchover_to',
  'switchover_by',
  'switchover_at',
  'switchover_timeout_ms',
  'switchover_phase',
];

// ---------------------------------------------------------------- trust

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
    `${clusterStatusTable} on ${node.name} is not a table owned by a superuser, so skypg will not use it as one`,
    { hint: "run 'skypg heartbeat init' on the primary: it takes the schema back and rebuilds it" },
  );
}

/** Fails unless the heartbeat table may be read or written by this (superuser) session. */
export async function requireTrustedTable(session: PgSession, node: NodeConfig): Promise<void> {
  const [row] = await session.query<{ trusted: boolean }>(`select ${trustedTableSql} as trusted`);
  if (row?.trusted !== true) throw untrustedTable(node);
}

// ---------------------------------------------------------------- the beat

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

/** The timeline of the current WAL position, as an int. */
export const timelineSql = `('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int`;

/**
 * One beat: last_alive = now(), and the peer's lag as pg_stat_replication shows it (matched by
 * application_name = the peer's node name, else the only WAL sender). Undefined when there is
 * no row. Run on the primary as the heartbeat role.
 */
export async function writeBeat(
  session: PgSession,
  writer: string,
  peerName: string,
): Promise<HeartbeatRow | undefined> {
  const [written] = await session.query<HeartbeatSqlRow>(
    `with standby as (
     select application_name,
            pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint as flush_lag,
            pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint as replay_lag
       from pg_stat_replication
      where application_name = $2 or (select count(*) from pg_stat_replication) = 1
      order by application_name = $2 desc
      limit 1)
   update ${clusterStatusTable}
      set last_alive = now(), writer = $1, timeline = ${timelineSql},
          wal_lsn = pg_current_wal_lsn(),
          rep_lag = (select flush_lag from standby),
          replay_lag = (select replay_lag from standby),
          standby = (select application_name from standby)
    where id = 1
   returning ${rowColumns}`,
    [writer, peerName],
  );
  return written === undefined ? undefined : toRow(written);
}

/** Records the outcome of the tablespace I/O check (undefined: all well). */
export async function writeIoCheck(
  session: PgSession,
  ioError: string | undefined,
): Promise<HeartbeatRow | undefined> {
  const [after] = await session.query<HeartbeatSqlRow>(
    `update ${clusterStatusTable} set io_checked_at = now(), io_error = $1 where id = 1 returning ${rowColumns}`,
    [ioError ?? null],
  );
  return after === undefined ? undefined : toRow(after);
}

/** The I/O check's table in one tablespace (created by init, written by the beat). */
export function ioTable(spcname: string): string {
  return `${heartbeatSchema}.${quoteIdent(`io_${spcname}`)}`;
}

/**
 * Writes a small table in every tablespace and, where the role may call pg_stat_file, stats
 * its file: an update alone would stay in shared buffers and hide a broken filesystem until
 * the next checkpoint. Returns the first failure, or undefined.
 */
export async function checkTablespaces(session: PgSession): Promise<string | undefined> {
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

// ---------------------------------------------------------------- reading the row

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
       from ${clusterStatusTable} s left join pg_stat_wal_receiver r on true
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

/**
 * The flag as one JSON text, from the row aliased `s`. Read through to_jsonb so that a heartbeat
 * table made before these columns existed still reads (as "no switchover").
 */
const switchoverFlagSql = `(select case when j ->> 'switchover_to' is null then null else jsonb_build_object(
    'to', j ->> 'switchover_to', 'by', j ->> 'switchover_by',
    'startedAt', floor(extract(epoch from (j ->> 'switchover_at')::timestamptz) * 1000),
    'timeoutMs', (j ->> 'switchover_timeout_ms')::bigint, 'phase', j ->> 'switchover_phase')::text end
  from (select to_jsonb(s) as j) as flag)`;

export function parseSwitchoverFlag(text: string | null | undefined): SwitchoverFlag | undefined {
  if (text === null || text === undefined) return undefined;
  const raw = JSON.parse(text) as Record<string, unknown>;
  const phase = raw['phase'] === 'handover' ? 'handover' : 'prepare';
  return {
    to: String(raw['to']),
    by: typeof raw['by'] === 'string' ? raw['by'] : 'unknown',
    startedAt: Number(raw['startedAt']),
    timeoutMs: Number(raw['timeoutMs']),
    phase,
  };
}

/** What a supervisor loop reads of the row: liveness, lag, and the operator state. */
export interface SupervisorRowRead {
  lastAlive: number;
  writer: string;
  repLag: number | undefined;
  syncDegradedAt: number | undefined;
  pausedBy: string | undefined;
  switchover: SwitchoverFlag | undefined;
}

/**
 * The row for the supervisor; undefined when there is none, or when the table is not a
 * superuser's (trustedTableSql): another owner could write the pause and switchover columns.
 */
export async function readSupervisorRow(
  session: PgSession,
): Promise<SupervisorRowRead | undefined> {
  const [row] = await session.query<{
    last_alive: Date;
    writer: string;
    rep_lag: string | null;
    paused_by: string | null;
    sync_degraded_at: Date | null;
    switchover: string | null;
    trusted: boolean;
  }>(
    `select last_alive, writer, rep_lag::text, paused_by, sync_degraded_at, ${switchoverFlagSql} as switchover,
            ${trustedTableSql} as trusted
       from ${clusterStatusTable} s where id = 1`,
  );
  if (row?.trusted !== true) return undefined;
  return {
    lastAlive: row.last_alive.getTime(),
    writer: row.writer,
    repLag: row.rep_lag === null ? undefined : Number(row.rep_lag),
    syncDegradedAt: row.sync_degraded_at?.getTime(),
    pausedBy: row.paused_by ?? undefined,
    switchover: parseSwitchoverFlag(row.switchover),
  };
}

export interface FlagRead {
  pausedBy: string | undefined;
  switchover: SwitchoverFlag | undefined;
  /** now() on that server, to judge the age of a flag by the clock that wrote it. */
  serverNow: number;
}

/** Pause and switchover flags, with the server's clock. */
export async function readFlags(session: PgSession): Promise<FlagRead> {
  const [row] = await session.query<{
    paused_by: string | null;
    switchover: string | null;
    server_now: string;
  }>(
    `select paused_by, ${switchoverFlagSql} as switchover,
            floor(extract(epoch from now()) * 1000)::text as server_now
       from ${clusterStatusTable} s where id = 1`,
  );
  return {
    pausedBy: row?.paused_by ?? undefined,
    switchover: parseSwitchoverFlag(row?.switchover),
    serverNow: Number(row?.server_now ?? Date.now()),
  };
}

/** The operator state `heartbeat init` keeps when it rebuilds the table. */
export interface KeptFlags {
  paused_by: string | null;
  paused_at: string | null;
  sync_degraded_at: string | null;
}

/**
 * The pause and degrade state of an existing row, read through to_jsonb so that a table of any
 * release reads. Undefined when there is no row.
 */
export async function readKeptFlags(session: PgSession): Promise<KeptFlags | undefined> {
  const [row] = await session.query<{ j: Record<string, string | null> }>(
    `select to_jsonb(s) as j from ${clusterStatusTable} s where id = 1`,
  );
  const j = row?.j;
  return j === undefined
    ? undefined
    : {
        paused_by: j['paused_by'] ?? null,
        paused_at: j['paused_at'] ?? null,
        sync_degraded_at: j['sync_degraded_at'] ?? null,
      };
}

// ---------------------------------------------------------------- operator state (superuser)

/** Sets (`by` given) or clears the pause flag. */
export async function writePauseFlag(session: PgSession, by: string | undefined): Promise<void> {
  await session.query(
    `update ${clusterStatusTable} set paused_by = $1, paused_at = case when $1::text is null then null else now() end where id = 1`,
    [by ?? null],
  );
}

/**
 * Writes the switchover flag on the primary and returns the WAL position of the commit: the
 * standby has seen the flag once it has replayed that far.
 */
export async function writeSwitchoverFlag(
  session: PgSession,
  flag: Pick<SwitchoverFlag, 'to' | 'by' | 'timeoutMs' | 'phase'>,
): Promise<{ lsn: string; startedAt: number }> {
  const [row] = await session.query<{ started_at: string }>(
    `update ${clusterStatusTable}
        set switchover_to = $1, switchover_by = $2, switchover_at = now(),
            switchover_timeout_ms = $3, switchover_phase = $4
      where id = 1
      returning floor(extract(epoch from switchover_at) * 1000)::text as started_at`,
    [flag.to, flag.by, flag.timeoutMs, flag.phase],
  );
  const [position] = await session.query<{ lsn: string }>(
    'select pg_current_wal_lsn()::text as lsn',
  );
  return { lsn: position?.lsn ?? '0/0', startedAt: Number(row?.started_at ?? 0) };
}

export async function setSwitchoverPhase(
  session: PgSession,
  phase: SwitchoverFlag['phase'],
): Promise<void> {
  await session.query(`update ${clusterStatusTable} set switchover_phase = $1 where id = 1`, [
    phase,
  ]);
}

export async function clearSwitchoverFlag(session: PgSession): Promise<void> {
  await session.query(
    `update ${clusterStatusTable}
        set switchover_to = null, switchover_by = null, switchover_at = null,
            switchover_timeout_ms = null, switchover_phase = null
      where id = 1`,
  );
}

/**
 * Records that the primary dropped to async, committed locally (sync commit would wait for the
 * absent standby): the standby reads it once it returns and knows it is no longer a candidate.
 */
export async function recordSyncDegrade(session: PgSession): Promise<void> {
  await session.query('begin');
  await session.query('set local synchronous_commit = local');
  await session.query(`update ${clusterStatusTable} set sync_degraded_at = now() where id = 1`);
  await session.query('commit');
}

export async function clearSyncDegrade(session: PgSession): Promise<void> {
  await session.query(`update ${clusterStatusTable} set sync_degraded_at = null where id = 1`);
}
