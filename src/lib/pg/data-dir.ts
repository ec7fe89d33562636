// What PostgreSQL needs of its data directory to promote or to become a standby: the OS user it
// runs as can write it (standby.signal, the promote signal, postgresql.auto.conf), and pg_wal
// has room for new WAL (the end-of-recovery checkpoint, the new timeline's history file and
// first segment). promote and rebuild-standby refuse up front; doctor reports it in advance.
import { stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeConfig } from '../config/types.js';
import { effectiveOsUser, runProgram } from '../process/run-program.js';
import { withConnection, localTarget } from './connect.js';

/** PostgreSQL's default wal_segment_size, when the server cannot be asked. */
export const defaultWalSegmentBytes = 16 * 1024 ** 2;
/** WARN below this much free space, or below lowSpaceShare of a smaller filesystem. */
export const lowSpaceBytes = 256 * 1024 ** 2;
export const lowSpaceShare = 0.05;
/** FAIL below this many WAL segments free: a promotion writes at least a new segment. */
export const minFreeSegments = 2;

export interface SpaceReading {
  /** The directory read (pg_wal, followed through its link, or the data directory). */
  path: string;
  freeBytes: number;
  sizeBytes: number;
}

export interface SpaceVerdict {
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

export function formatMiB(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}

/**
 * The free-space rule (pure): FAIL below two WAL segments, WARN below 256 MiB or, on a
 * filesystem smaller than 5 GiB, below 5% of it (whichever is smaller), else OK.
 */
export function judgeSpace(reading: SpaceReading, walSegmentBytes: number): SpaceVerdict {
  const free = `${reading.path} has ${formatMiB(reading.freeBytes)} free`;
  const floor = minFreeSegments * walSegmentBytes;
  if (reading.freeBytes < floor) {
    return {
      status: 'fail',
      detail: `${free}, less than ${minFreeSegments} WAL segments (${formatMiB(floor)}): PostgreSQL cannot write the end-of-recovery checkpoint and the new timeline's files, nor take more WAL`,
    };
  }
  const low = Math.min(lowSpaceBytes, reading.sizeBytes * lowSpaceShare);
  if (reading.freeBytes < low) {
    return { status: 'warn', detail: `${free}, under ${formatMiB(low)}: it may fill soon` };
  }
  return { status: 'ok', detail: free };
}

/** Free space under pg_wal (through its link) and under the data directory, once per filesystem. */
export async function readDataDirSpace(dataDir: string): Promise<SpaceReading[]> {
  const readings: SpaceReading[] = [];
  const devices = new Set<number>();
  for (const path of [join(dataDir, 'pg_wal'), dataDir]) {
    const info = await stat(path).catch(() => undefined);
    if (info === undefined || devices.has(info.dev)) continue;
    devices.add(info.dev);
    const fs = await statfs(path);
    readings.push({ path, freeBytes: fs.bavail * fs.bsize, sizeBytes: fs.blocks * fs.bsize });
  }
  return readings;
}

/** The server's wal_segment_size (bytes), through the local socket; the default if it is down. */
export async function walSegmentBytes(node: NodeConfig): Promise<number> {
  const rows = await withConnection(localTarget(node), (session) =>
    session.query<{ bytes: string }>(
      "select setting as bytes from pg_settings where name = 'wal_segment_size'",
    ),
  ).catch(() => []);
  const bytes = Number(rows[0]?.bytes);
  return Number.isFinite(bytes) && bytes > 0 ? bytes : defaultWalSegmentBytes;
}

/**
 * Directories of the data directory the OS user cannot write (access(2) as that user, so a
 * read-only mount counts too), each as "DIR is not writable by USER".
 */
export async function unwritableDataDirs(node: NodeConfig): Promise<string[]> {
  const osUser = effectiveOsUser(node.postgres.os_user);
  const problems: string[] = [];
  // The trailing slash follows a pg_wal link to the directory it names.
  for (const [path, shown] of [
    [node.data_dir, node.data_dir],
    [`${join(node.data_dir, 'pg_wal')}/`, join(node.data_dir, 'pg_wal')],
  ] as const) {
    const exists = await stat(path).then(
      () => true,
      () => false,
    );
    if (!exists) continue;
    const result = await runProgram('test', ['-w', path], {
      asUser: osUser,
      allowFailure: true,
      timeoutMs: 5000,
    });
    if (result.exitCode !== 0) problems.push(`${shown} is not writable by ${osUser}`);
  }
  return problems;
}

/** The fix for unwritable directories: give the OS user write access back. */
export function writableFix(node: NodeConfig, problems: readonly string[]): string {
  const osUser = effectiveOsUser(node.postgres.os_user);
  const dirs = problems.map((problem) => problem.replace(/ is not writable by .*$/, ''));
  return `chmod u+w ${dirs.join(' ')} (owner ${osUser}), or remount its filesystem read-write`;
}

/** Everything that keeps this node's PostgreSQL from promoting, in words (empty: nothing). */
export async function promotionBlockers(
  node: NodeConfig,
): Promise<{ problems: string[]; fix: string | undefined }> {
  const unwritable = await unwritableDataDirs(node);
  const segment = await walSegmentBytes(node);
  const full = (await readDataDirSpace(node.data_dir))
    .map((reading) => ({ reading, verdict: judgeSpace(reading, segment) }))
    .filter(({ verdict }) => verdict.status === 'fail');
  const fixes = [
    ...(unwritable.length === 0 ? [] : [writableFix(node, unwritable)]),
    ...full.map(({ reading }) => `free space under ${reading.path}`),
  ];
  return {
    problems: [...unwritable, ...full.map(({ verdict }) => verdict.detail)],
    fix: fixes.length === 0 ? undefined : fixes.join('; '),
  };
}
