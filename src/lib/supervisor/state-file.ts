// The supervisor's state file: JSON, replaced atomically after every loop, read by
// check-alive and status. Its shape is documented in docs/monitoring.md.
import { mkdir, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ClusterConfig } from '../config/types.js';
import { SkypgError, messageOf } from '../common/errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { readProcStat } from '../process/proc.js';

export interface SupervisorState {
  version: 1;
  cluster: string;
  node: string;
  pid: number;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22): with the
   * PID it identifies the process, so a reused PID is not mistaken for the supervisor. */
  pidStartTicks: number;
  startedAt: string;
  updatedAt: string;
  loops: number;
  /** State of the failover state machine, e.g. "primary", "standby", "paused". */
  state: string;
  /** One human sentence: what was decided in the last loop and why. */
  reason: string;
  paused: boolean;
  /** skypg version of the supervisor, the configuration's hash (config/hash.ts), and where the
   * data directory's pg_wal points (null: not a symlink); `skypg doctor` compares both nodes'. */
  skypgVersion?: string;
  configHash?: string;
  pgWal?: string | null;
  /** Actions started by a loop and still running: what, since when, and until when the
   * watchdog lets them run (ISO times). Absent when none runs. */
  action?: { name: string; since: string; deadline: string };
}

export function stateFilePath(config: ClusterConfig, nodeName: string): string {
  return config.supervisor.state_file
    .replaceAll('{cluster}', config.cluster)
    .replaceAll('{node}', nodeName);
}

/**
 * Why the state file's directory is unsafe, or undefined: anyone else who can write there can
 * plant links or forge the file (check-alive and doctor trust it). Sticky or not, g+w/o+w is out.
 */
export async function stateDirProblem(dir: string): Promise<string | undefined> {
  const info = await stat(dir).catch(() => undefined);
  if (info === undefined) return undefined; // created 0755 on the first write
  if ((info.mode & 0o022) === 0) return undefined;
  const mode = (info.mode & 0o7777).toString(8).padStart(4, '0');
  return `the state directory ${dir} is writable by group or others (mode ${mode}): chmod 0755 ${dir}, or set supervisor.state_file in a directory only the supervisor's user can write`;
}

export async function writeSupervisorState(path: string, state: SupervisorState): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o755 });
  const problem = await stateDirProblem(dirname(path));
  if (problem !== undefined) {
    throw new SkypgError('REFUSED', problem, {
      hint: 'the supervisor writes no state file there until this is fixed',
    });
  }
  await writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`);
}

/** Reads and checks the file; undefined when it does not exist. */
export async function readSupervisorState(path: string): Promise<SupervisorState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SkypgError(
      'COMMAND_FAILED',
      `cannot read the supervisor state file ${path}: ${messageOf(error)}`,
    );
  }
  return parseSupervisorState(text, path);
}

/** How far ahead of this host's clock `updatedAt` may be (two hosts' clocks, rounding). */
export const futureToleranceMs = 5_000;

/**
 * Checks the text of a state file (read here, or from the peer through PostgreSQL). A file
 * dated in the future is REFUSED: it would look fresh for as long as its author likes.
 */
export function parseSupervisorState(
  text: string,
  path: string,
  nowMs: number = Date.now(),
): SupervisorState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SkypgError('COMMAND_FAILED', `the supervisor state file ${path} is not JSON`, {
      hint: 'the supervisor rewrites it on its next loop; if it stays broken, remove it and restart the supervisor',
    });
  }
  if (!isSupervisorState(parsed)) {
    throw new SkypgError(
      'COMMAND_FAILED',
      `the supervisor state file ${path} has an unexpected shape`,
      {
        hint: 'was it written by another skypg version? restart the supervisor',
      },
    );
  }
  const updatedMs = Date.parse(parsed.updatedAt);
  if (!Number.isFinite(updatedMs) || updatedMs > nowMs + futureToleranceMs) {
    throw new SkypgError(
      'REFUSED',
      `the supervisor state file ${path} is invalid: updatedAt ${parsed.updatedAt} is ${Number.isFinite(updatedMs) ? 'in the future' : 'not a time'}`,
      {
        hint: 'a supervisor never writes that; check who can write the file and the clock, then remove it',
      },
    );
  }
  return parsed;
}

function isSupervisorState(value: unknown): value is SupervisorState {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    record['version'] === 1 &&
    typeof record['node'] === 'string' &&
    typeof record['pid'] === 'number' &&
    typeof record['pidStartTicks'] === 'number' &&
    typeof record['updatedAt'] === 'string' &&
    typeof record['state'] === 'string' &&
    typeof record['reason'] === 'string' &&
    typeof record['paused'] === 'boolean'
  );
}

/** Start time of a process in clock ticks since boot, or undefined if it does not exist. */
export async function processStartTicks(pid: number | 'self'): Promise<number | undefined> {
  const stat = await readProcStat(pid);
  if (stat === undefined || stat.state === 'Z' || !Number.isFinite(stat.startTicks))
    return undefined;
  return stat.startTicks;
}
