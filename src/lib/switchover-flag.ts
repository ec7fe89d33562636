// The switchover record in the heartbeat row: written on the primary by `skypg switchover`, it
// reaches the standby by replication, and both supervisors stand aside while it is set (the old
// primary's supervisor also hands over when the phase says so). Like the pause flag, one row
// and one source of truth; docs/operations.md ("Planned switchover") explains the protocol.
import type { ClusterConfig, NodeConfig } from './config/types.js';
import { heartbeatSchema, withOperatorSession } from './heartbeat.js';
import type { PgSession } from './pg/connect.js';
import type { SwitchoverFlag } from './supervisor/types.js';

const table = `${heartbeatSchema}.cluster_status`;

/**
 * The flag as one JSON text, from the row aliased `s`. Read through to_jsonb so that a heartbeat
 * table made before these columns existed still reads (as "no switchover").
 */
export const switchoverFlagSql = `(select case when j ->> 'switchover_to' is null then null else jsonb_build_object(
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

export interface FlagRead {
  pausedBy: string | undefined;
  switchover: SwitchoverFlag | undefined;
  /** now() on that server, to judge the age of a flag by the clock that wrote it. */
  serverNow: number;
}

export async function readFlags(session: PgSession): Promise<FlagRead> {
  const [row] = await session.query<{
    paused_by: string | null;
    switchover: string | null;
    server_now: string;
  }>(
    `select paused_by, ${switchoverFlagSql} as switchover,
            floor(extract(epoch from now()) * 1000)::text as server_now
       from ${table} s where id = 1`,
  );
  return {
    pausedBy: row?.paused_by ?? undefined,
    switchover: parseSwitchoverFlag(row?.switchover),
    serverNow: Number(row?.server_now ?? Date.now()),
  };
}

/**
 * Writes the flag on the primary (as the operator: `heartbeat init` made the columns) and
 * returns the WAL position of the commit: the standby has seen the flag once it has replayed
 * that far.
 */
export async function writeSwitchoverFlag(
  session: PgSession,
  flag: Pick<SwitchoverFlag, 'to' | 'by' | 'timeoutMs' | 'phase'>,
): Promise<{ lsn: string; startedAt: number }> {
  const [row] = await session.query<{ started_at: string }>(
    `update ${table}
        set switchover_to = $1, switchover_by = $2, switchover_at = now(),
            switchover_timeout_ms = $3, switchover_phase = $4
      where id = 1
      returning floor(extract(epoch from switchover_at) * 1000)::text as started_at`,
    [flag.to, flag.by, flag.timeoutMs, flag.phase],
  );
  return { lsn: await currentLsn(session), startedAt: Number(row?.started_at ?? 0) };
}

export async function setSwitchoverPhase(
  session: PgSession,
  phase: SwitchoverFlag['phase'],
): Promise<void> {
  await session.query(`update ${table} set switchover_phase = $1 where id = 1`, [phase]);
}

export async function clearSwitchoverFlag(session: PgSession): Promise<void> {
  await session.query(
    `update ${table}
        set switchover_to = null, switchover_by = null, switchover_at = null,
            switchover_timeout_ms = null, switchover_phase = null
      where id = 1`,
  );
}

async function currentLsn(session: PgSession): Promise<string> {
  const [row] = await session.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
  return row?.lsn ?? '0/0';
}

/**
 * Runs `work` as the operator (postgres.superuser) on the node's heartbeat database: the
 * heartbeat role may not write the switchover record (docs/security.md).
 */
export function withFlagSession<T>(
  config: ClusterConfig,
  node: NodeConfig,
  work: (session: PgSession) => Promise<T>,
): Promise<T> {
  return withOperatorSession(config, node, work);
}
