// Version-aware reads of a server's role, timeline, WAL positions and replication rows.
import { open } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { SkypgError } from '../common/errors.js';
import type { PgSession } from './connect.js';

export type ServerRole = 'primary' | 'standby';

export interface ServerStatus {
  versionNum: number;
  version: string;
  role: ServerRole;
  /** Primary: the timeline it writes. Standby: the timeline it receives (else last checkpoint's). */
  timeline: number;
  /** Primary only: pg_current_wal_lsn(). */
  currentLsn: string | undefined;
  /** Standby only: received and flushed to disk. */
  receiveLsn: string | undefined;
  /** Standby only: replayed. */
  replayLsn: string | undefined;
  /** Standby only: commit time (primary's clock) of the last replayed transaction. */
  lastReplayAt: Date | undefined;
  replayPaused: boolean;
  /** pg_control's database system identifier: the same on both servers of a pair. */
  systemIdentifier: string | undefined;
}

interface StatusRow {
  version_num: number;
  version: string;
  in_recovery: boolean;
  current_lsn: string | null;
  current_tli: number | null;
  receive_lsn: string | null;
  replay_lsn: string | null;
  last_replay_at: Date | null;
  received_tli: number | null;
  checkpoint_tli: number;
  replay_paused: boolean;
  system_identifier: string | null;
}

// One round trip; CASE keeps primary-only functions from running on a standby.
const statusSql = `
select current_setting('server_version_num')::int as version_num,
       current_setting('server_version') as version,
       pg_is_in_recovery() as in_recovery,
       case when not pg_is_in_recovery() then pg_current_wal_lsn()::text end as current_lsn,
       case when not pg_is_in_recovery()
            then ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end as current_tli,
       pg_last_wal_receive_lsn()::text as receive_lsn,
       pg_last_wal_replay_lsn()::text as replay_lsn,
       pg_last_xact_replay_timestamp() as last_replay_at,
       (select received_tli from pg_stat_wal_receiver) as received_tli,
       (select timeline_id from pg_control_checkpoint()) as checkpoint_tli,
       case when pg_is_in_recovery() then pg_is_wal_replay_paused() else false end as replay_paused,
       (select system_identifier::text from pg_control_system()) as system_identifier`;

export async function readServerStatus(session: PgSession): Promise<ServerStatus> {
  const [row] = await session.query<StatusRow>(statusSql);
  if (row === undefined) throw new Error('status query returned no row');
  const role: ServerRole = row.in_recovery ? 'standby' : 'primary';
  return {
    versionNum: row.version_num,
    version: row.version,
    role,
    timeline:
      role === 'primary'
        ? (row.current_tli ?? row.checkpoint_tli)
        : (row.received_tli ?? row.checkpoint_tli),
    currentLsn: row.current_lsn ?? undefined,
    receiveLsn: role === 'standby' ? (row.receive_lsn ?? undefined) : undefined,
    replayLsn: role === 'standby' ? (row.replay_lsn ?? undefined) : undefined,
    lastReplayAt: role === 'standby' ? (row.last_replay_at ?? undefined) : undefined,
    replayPaused: row.replay_paused,
    systemIdentifier: row.system_identifier ?? undefined,
  };
}

/**
 * A peer's answer counts only when it comes from this pair's other server: the same system
 * identifier as the local data directory. Anything else is an error (never proof of a role).
 */
export function checkSamePair(
  status: ServerStatus,
  expected: string | undefined,
  where: string,
): SkypgError | undefined {
  if (expected !== undefined && status.systemIdentifier === expected) return undefined;
  const theirs = status.systemIdentifier ?? 'none';
  return new SkypgError(
    'PG_NOT_PEER',
    expected === undefined
      ? `the answer of the server at ${where} cannot be checked: this node's own system identifier is unknown`
      : `the server at ${where} is not this pair's peer (system identifier ${theirs}, expected ${expected})`,
    {
      hint: 'check the node addresses in the configuration and who answers there; an answer from another cluster is ignored',
    },
  );
}

/** The system identifier in a data directory's pg_control (its first 8 bytes), without a server. */
export async function systemIdentifierOnDisk(dataDir: string): Promise<string> {
  const file = await open(join(dataDir, 'global', 'pg_control'), 'r');
  try {
    const { buffer } = await file.read(Buffer.alloc(8), 0, 8, 0);
    return String(endianness() === 'LE' ? buffer.readBigUInt64LE(0) : buffer.readBigUInt64BE(0));
  } finally {
    await file.close();
  }
}

export interface ReplicationRow {
  applicationName: string;
  clientAddr: string | undefined;
  state: string;
  syncState: string;
  sentLsn: string | undefined;
  writeLsn: string | undefined;
  flushLsn: string | undefined;
  replayLsn: string | undefined;
  /** Bytes between the primary's current WAL position and what the standby replayed / flushed. */
  replayLagBytes: number | undefined;
  flushLagBytes: number | undefined;
  replayLagSeconds: number | undefined;
  replyTime: Date | undefined;
}

interface ReplicationSqlRow {
  application_name: string;
  client_addr: string | null;
  state: string;
  sync_state: string;
  sent_lsn: string | null;
  write_lsn: string | null;
  flush_lsn: string | null;
  replay_lsn: string | null;
  replay_lag_bytes: string | null;
  flush_lag_bytes: string | null;
  replay_lag_seconds: number | null;
  reply_time: Date | null;
}

/** pg_stat_replication on a primary (in full for a superuser, pg_read_all_stats, or skypg's roles). */
export async function readReplication(session: PgSession): Promise<ReplicationRow[]> {
  const rows = await session.query<ReplicationSqlRow>(`
    select application_name, host(client_addr) as client_addr, state, sync_state,
           sent_lsn::text, write_lsn::text, flush_lsn::text, replay_lsn::text,
           pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::text as replay_lag_bytes,
           pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::text as flush_lag_bytes,
           extract(epoch from replay_lag)::float8 as replay_lag_seconds,
           reply_time
      from pg_stat_replication
     order by application_name`);
  return rows.map((row) => ({
    applicationName: row.application_name,
    clientAddr: row.client_addr ?? undefined,
    state: row.state,
    syncState: row.sync_state,
    sentLsn: row.sent_lsn ?? undefined,
    writeLsn: row.write_lsn ?? undefined,
    flushLsn: row.flush_lsn ?? undefined,
    replayLsn: row.replay_lsn ?? undefined,
    replayLagBytes: toNumber(row.replay_lag_bytes),
    flushLagBytes: toNumber(row.flush_lag_bytes),
    replayLagSeconds: row.replay_lag_seconds ?? undefined,
    replyTime: row.reply_time ?? undefined,
  }));
}

export interface WalReceiverRow {
  status: string;
  /** Received and flushed (PostgreSQL 13+: flushed_lsn; 12: received_lsn). */
  flushedLsn: string | undefined;
  receivedTimeline: number | undefined;
  senderHost: string | undefined;
  senderPort: number | undefined;
  slotName: string | undefined;
  lastMessageAt: Date | undefined;
}

interface WalReceiverSqlRow {
  status: string;
  flushed_lsn: string | null;
  received_tli: number | null;
  sender_host: string | null;
  sender_port: number | null;
  slot_name: string | null;
  last_msg_receipt_time: Date | null;
}

/** pg_stat_wal_receiver on a standby: one row while a WAL receiver runs, else undefined. */
export async function readWalReceiver(
  session: PgSession,
  versionNum: number,
): Promise<WalReceiverRow | undefined> {
  const flushed = versionNum >= 130000 ? 'flushed_lsn' : 'received_lsn';
  const [row] = await session.query<WalReceiverSqlRow>(`
    select status, ${flushed}::text as flushed_lsn, received_tli, sender_host, sender_port,
           slot_name, last_msg_receipt_time
      from pg_stat_wal_receiver`);
  if (row === undefined) return undefined;
  return {
    status: row.status,
    flushedLsn: row.flushed_lsn ?? undefined,
    receivedTimeline: row.received_tli ?? undefined,
    senderHost: row.sender_host ?? undefined,
    senderPort: row.sender_port ?? undefined,
    slotName: row.slot_name ?? undefined,
    lastMessageAt: row.last_msg_receipt_time ?? undefined,
  };
}

function toNumber(text: string | null): number | undefined {
  return text === null ? undefined : Number(text);
}
