// pg_controldata: what a (stopped) data directory says about itself.
import { SkypgError } from '../common/errors.js';
import { runPgProgram, type PgProgramContext } from './programs.js';

export interface ControlData {
  systemIdentifier: string;
  /** "shut down", "shut down in recovery", "in production", "in archive recovery", ... */
  clusterState: string;
  checkpointLsn: string;
  checkpointTimeline: number;
  minRecoveryEndLsn: string;
  minRecoveryEndTimeline: number;
  walLogHints: boolean;
  dataChecksums: boolean;
}

/** Parses pg_controldata output (run with LC_ALL=C so the labels are English). */
export function parseControlData(text: string): ControlData {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  const get = (label: string): string => {
    const value = fields.get(label);
    if (value === undefined)
      throw new SkypgError('COMMAND_FAILED', `pg_controldata printed no "${label}"`);
    return value;
  };
  return {
    systemIdentifier: get('Database system identifier'),
    clusterState: get('Database cluster state'),
    checkpointLsn: get('Latest checkpoint location'),
    checkpointTimeline: Number(get("Latest checkpoint's TimeLineID")),
    minRecoveryEndLsn: get('Minimum recovery ending location'),
    minRecoveryEndTimeline: Number(get("Min recovery ending loc's timeline")),
    walLogHints: get('wal_log_hints setting') === 'on',
    dataChecksums: get('Data page checksum version') !== '0',
  };
}

/** A clean shutdown leaves no WAL after its checkpoint: the precondition of pg_rewind. */
export function isCleanShutdown(data: ControlData): boolean {
  return data.clusterState === 'shut down' || data.clusterState === 'shut down in recovery';
}

export async function readControlData(
  context: PgProgramContext,
  dataDir: string,
): Promise<ControlData> {
  const result = await runPgProgram(
    { ...context, env: { ...context.env, LC_ALL: 'C' } },
    'pg_controldata',
    [dataDir],
  );
  return parseControlData(result.stdout);
}
