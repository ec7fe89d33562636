// Finding and running PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup...).
import { access, readdir, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { SkypgError } from '../common/errors.js';
import { runProgram, type ProgramResult } from '../process/run-program.js';
import { isLiveProcess, readCmdline } from '../process/proc.js';

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The configured bin_dir, else `pg_config --bindir` when it holds the server programs
 * (Debian's libpq-dev pg_config points at /usr/bin, which does not), else the newest
 * /usr/lib/postgresql/N/bin.
 */
export async function findPgBinDir(configured?: string): Promise<string> {
  if (configured !== undefined) {
    if (await isExecutable(join(configured, 'pg_ctl'))) return configured;
    throw new SkypgError('PG_BINARIES_NOT_FOUND', `postgres.bin_dir ${configured} has no pg_ctl`, {
      hint: "point bin_dir at the directory holding initdb, pg_ctl and postgres (try 'pg_config --bindir')",
    });
  }
  const fromPgConfig = await runProgram('pg_config', ['--bindir'], { allowFailure: true }).catch(
    () => undefined,
  );
  const candidate = fromPgConfig?.exitCode === 0 ? fromPgConfig.stdout.trim() : undefined;
  if (candidate && (await isExecutable(join(candidate, 'initdb')))) return candidate;
  const versions = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  const sorted = versions
    .filter((name) => /^\d+$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of sorted) {
    const dir = `/usr/lib/postgresql/${version}/bin`;
    if (await isExecutable(join(dir, 'initdb'))) return dir;
  }
  throw new SkypgError(
    'PG_BINARIES_NOT_FOUND',
    'PostgreSQL server programs (initdb, pg_ctl) not found',
    {
      hint: 'install them (Debian: apt-get install postgresql-15) or set postgres.bin_dir',
    },
  );
}

export interface PgProgramContext {
  binDir: string;
  osUser: string;
  /** Working directory the OS user can enter (runuser keeps ours, which it may not). */
  cwd: string;
  env?: Record<string, string>;
  /** Network namespace the program runs in (the multi-host lab). */
  netns?: string;
}

export function runPgProgram(
  context: PgProgramContext,
  program: string,
  args: string[],
  timeoutMs = 120_000,
): Promise<ProgramResult> {
  return runProgram(join(context.binDir, program), args, {
    asUser: context.osUser,
    netns: context.netns,
    cwd: context.cwd,
    env: context.env,
    timeoutMs,
  });
}

/** The postmaster PID from postmaster.pid, if the file exists. */
export async function readPostmasterPid(dataDir: string): Promise<number | undefined> {
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseLockFile(text)?.pid;
}

export interface PostmasterLock {
  pid: number;
  /** Line 4. */
  port?: number;
  /** Line 5: the first Unix socket directory (empty when it has none). */
  socketDir?: string;
  /** Line 7, "KEY ID": the System V segment's ID. */
  shmid?: number;
}

/** postmaster.pid's fields skypg uses: PID (line 1), port, socket directory, segment ID. */
export function parseLockFile(text: string): PostmasterLock | undefined {
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const lock: PostmasterLock = { pid };
  const port = Number(lines[3]);
  if (lines[3] !== undefined && lines[3] !== '' && Number.isInteger(port) && port > 0)
    lock.port = port;
  const socketDir = lines[4]?.trim();
  if (socketDir !== undefined && socketDir !== '') lock.socketDir = socketDir;
  const segment = (lines[6] ?? '').trim().split(/\s+/);
  const shmid = Number(segment[1]);
  if (segment.length === 2 && Number.isInteger(shmid) && shmid >= 0) lock.shmid = shmid;
  return lock;
}

/** True when `pid` is alive and is a postgres postmaster serving `dataDir` (not a reused PID). */
export async function isPostmasterOf(pid: number, dataDir: string): Promise<boolean> {
  const cmdline = await readCmdline(pid);
  return (
    (await isLiveProcess(pid)) &&
    /postgres$|postmaster$/.test(cmdline[0] ?? '') &&
    cmdline.includes(dataDir)
  );
}
