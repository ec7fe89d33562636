// Starting and stopping the PostgreSQL server of a configured node on this host, as its OS
// user, with pg_ctl; and whether it is running (verified PID, not just a pid file).
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeConfig } from '../config/types.js';
import { effectiveOsUser, runProgram } from '../process/run-program.js';
import { effectivePassfile } from './connect.js';
import {
  findPgBinDir,
  isPostmasterOf,
  parseLockFile,
  readPostmasterPid,
  runPgProgram,
  type PostmasterLock,
  type PgProgramContext,
} from './programs.js';
import { readProcStat, shmAttachments } from '../process/proc.js';

export async function programContext(node: NodeConfig): Promise<PgProgramContext> {
  const env: Record<string, string> = {};
  const passfile = effectivePassfile(node);
  if (passfile !== undefined) env['PGPASSFILE'] = passfile;
  return {
    binDir: await findPgBinDir(node.postgres.bin_dir),
    osUser: effectiveOsUser(node.postgres.os_user),
    // The OS user may not be able to enter our working directory; the data dir's parent it can.
    cwd: dirname(node.data_dir),
    env,
  };
}

/** The running postmaster's PID, verified in /proc; undefined when the server is down. */
export async function runningPostmaster(node: NodeConfig): Promise<number | undefined> {
  const pid = await readPostmasterPid(node.data_dir);
  if (pid === undefined) return undefined;
  return (await isPostmasterOf(pid, node.data_dir)) ||
    (await isPostmasterOf(pid, node.postgres.config_dir ?? node.data_dir))
    ? pid
    : undefined;
}

export async function startServer(node: NodeConfig, timeoutMs = 60_000): Promise<void> {
  await clearDeadPostmaster(node, 5000);
  const context = await programContext(node);
  const args = [
    '-D',
    node.postgres.config_dir ?? node.data_dir,
    '-w',
    '-t',
    String(Math.ceil(timeoutMs / 1000)),
  ];
  // Always -l: without it the postmaster inherits pg_ctl's stdout and stderr, which are our
  // pipes, and they would never close (the supervisor hung for good on the first start).
  const logFile = serverLogFile(node);
  if (node.postgres.log_file === undefined) {
    await runProgram('mkdir', ['-p', '-m', '0700', dirname(logFile)], {
      asUser: context.osUser,
      timeoutMs: 5000,
    });
  }
  args.push('-l', logFile);
  await runPgProgram(context, 'pg_ctl', [...args, 'start'], timeoutMs + 5000);
}

/**
 * Where pg_ctl sends the server's own output: postgres.log_file, else PostgreSQL's default
 * log directory in the data directory (with logging_collector on, only the first lines of a
 * start land there; off, the whole server log does).
 */
export function serverLogFile(node: NodeConfig): string {
  return node.postgres.log_file ?? join(node.data_dir, 'log', 'skypg-server.log');
}

export async function stopServer(
  node: NodeConfig,
  mode: 'smart' | 'fast' | 'immediate' = 'fast',
  timeoutMs = 60_000,
): Promise<void> {
  const context = await programContext(node);
  await runPgProgram(
    context,
    'pg_ctl',
    ['-D', node.data_dir, '-m', mode, '-w', '-t', String(Math.ceil(timeoutMs / 1000)), 'stop'],
    timeoutMs + 5000,
  );
}

/**
 * A killed postmaster stays a zombie until whatever adopted it reaps it, and PostgreSQL refuses
 * to start while the PID in postmaster.pid, or in a socket's lock file, exists (a zombie does,
 * to kill(pid, 0)). systemd reaps at once; a container's init may take seconds (this machine's:
 * 1.7-1.8 s, every time) or never reap. So: wait until the old postmaster is gone or a zombie,
 * and remove a zombie's lock files once no process of the old server is attached to the shared
 * memory segment postmaster.pid names (its backends exit on their own after the postmaster
 * died; PostgreSQL itself refuses to start while one is attached, so two servers never share
 * the data directory). Without the segment in the file, or /proc/sysvipc/shm, the zombie's
 * reaping is waited for, as before.
 */
async function clearDeadPostmaster(node: NodeConfig, timeoutMs: number): Promise<void> {
  const lockFile = join(node.data_dir, 'postmaster.pid');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(lockFile, 'utf8').catch(() => undefined);
    const lock = text === undefined ? undefined : parseLockFile(text);
    if (lock === undefined) return;
    const stat = await readProcStat(lock.pid);
    // Gone: PostgreSQL removes a stale file itself. Alive: pg_ctl says what runs there.
    if (stat === undefined || (stat.state !== 'Z' && stat.state !== 'X')) return;
    if (stat.comm === 'postgres' && lock.shmid !== undefined) {
      if ((await shmAttachments(lock.shmid)) === 0) {
        await removeSocketLocks(node, lock);
        // Only the file read above: a server that started meanwhile keeps its own.
        const now = await readFile(lockFile, 'utf8').catch(() => undefined);
        if (now === text) await rm(lockFile, { force: true });
        return;
      }
    }
    if (Date.now() >= deadline) return;
    await sleep(20);
  }
}

/**
 * Each socket directory's `.s.PGSQL.PORT.lock` that names the dead postmaster: the directory
 * postmaster.pid names (the first), postgres.socket_dir, and every unix_socket_directories
 * entry the server's configuration gives (`postgres -C`; RHEL's packages set two).
 */
async function removeSocketLocks(node: NodeConfig, lock: PostmasterLock): Promise<void> {
  const port = lock.port ?? node.postgres.port;
  const configured = await programContext(node)
    .then((context) =>
      runPgProgram(
        context,
        'postgres',
        ['-C', 'unix_socket_directories', '-D', node.postgres.config_dir ?? node.data_dir],
        10_000,
      ),
    )
    .then((result) => socketDirectoriesOf(result.stdout))
    .catch(() => []);
  const directories = new Set(
    [lock.socketDir, node.postgres.socket_dir, ...configured].filter(
      (dir): dir is string => dir !== undefined && dir !== '',
    ),
  );
  for (const dir of directories) {
    const path = join(dir, `.s.PGSQL.${port}.lock`);
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text !== undefined && Number(text.split('\n')[0]) === lock.pid)
      await rm(path, { force: true });
  }
}

/** unix_socket_directories as `postgres -C` prints it: a comma-separated list, maybe quoted. */
export function socketDirectoriesOf(setting: string): string[] {
  return (
    setting
      .trim()
      .split(',')
      .map((entry) => entry.trim().replace(/^"(.*)"$/, '$1'))
      // "@name" is an abstract socket: it has no lock file.
      .filter((entry) => entry !== '' && !entry.startsWith('@'))
  );
}
