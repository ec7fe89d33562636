// Starting and stopping the PostgreSQL server of a configured node on this host, as its OS
// user, with pg_ctl; and whether it is running (verified PID, not just a pid file).
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeConfig } from '../config/types.js';
import { effectiveOsUser, runProgram } from '../process/run-program.js';
import { effectivePassfile } from './connect.js';
import {
  findPgBinDir,
  isPostmasterOf,
  readPostmasterPid,
  runPgProgram,
  type PgProgramContext,
} from './programs.js';
import { readProcStat } from '../process/proc.js';

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
  await waitForDeadPostmaster(node, 5000);
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
 * A killed postmaster stays a zombie until its parent reaps it (seen here: up to 2 s), and
 * pg_ctl refuses to start while the PID in postmaster.pid still exists. Wait for it to go.
 */
async function waitForDeadPostmaster(node: NodeConfig, timeoutMs: number): Promise<void> {
  const pid = await readPostmasterPid(node.data_dir);
  if (pid === undefined) return;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const exists = (await readProcStat(pid)) !== undefined;
    if (!exists || (await isPostmasterOf(pid, node.data_dir))) return;
    await sleep(50);
  }
}
