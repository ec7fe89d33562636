// Human text for the heartbeat commands.
import { formatSize } from '../config/units.js';
import type { BeatResult } from '../heartbeat/beat.js';
import type { HeartbeatRow, HeartbeatView } from '../heartbeat/table.js';

function lag(bytes: number | undefined): string {
  return bytes === undefined ? 'no standby connected' : formatSize(bytes);
}

function rowLines(row: HeartbeatRow): string[] {
  return [
    `  last_alive   ${row.lastAlive.toISOString()}  (written by ${row.writer}, timeline ${row.timeline}, WAL ${row.walLsn})`,
    `  rep_lag      ${lag(row.repLag)}${row.standby === undefined ? '' : ` (standby ${row.standby}; replay ${lag(row.replayLag)})`}`,
    ...(row.ioCheckedAt === undefined
      ? []
      : [`  io check     ${row.ioCheckedAt.toISOString()}: ${row.ioError ?? 'ok'}`]),
  ];
}

export function formatBeat(result: BeatResult): string[] {
  if (!result.written) return [`${result.node} is a standby: nothing to write`];
  const io = result.ioChecked ? ` (I/O check: ${result.row.ioError ?? 'ok'})` : '';
  return [`beat written on ${result.node}${io}`, ...rowLines(result.row)];
}

export function formatHeartbeatView(view: HeartbeatView): string[] {
  const skew = view.clockSkewCorrected ? '' : ' (no WAL receiver: not corrected for clock skew)';
  return [
    `heartbeat on ${view.node} (${view.role}): ${view.ageSeconds.toFixed(1)}s old${skew}`,
    ...rowLines(view.row),
  ];
}
