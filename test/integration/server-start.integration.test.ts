// Starting PostgreSQL with the keys the example configuration has: no postgres.log_file. pg_ctl
// without -l hands the postmaster its stdout and stderr, and a supervisor that waited for those
// pipes to close hung for good after its first start (seen by a user after a kill -9).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { NodeConfig } from '../../src/lib/config/types.js';
import { localTarget, withConnection } from '../../src/lib/pg/connect.js';
import { parseLockFile } from '../../src/lib/pg/programs.js';
import {
  programContext,
  runningPostmaster,
  serverLogFile,
  startServer,
  stopServer,
} from '../../src/lib/pg/server-control.js';
import { readProcStat, shmAttachments } from '../../src/lib/process/proc.js';
import { runSkypg } from '../support/cli.js';
import { useLoopbackLab } from '../support/lab.js';
import { waitUntil } from '../support/wait.js';

describe('starting PostgreSQL without postgres.log_file', () => {
  const lab = useLoopbackLab();

  it('supervisor --once starts the stopped standby and exits; the server log goes to the data directory', async () => {
    const { state, config } = lab();
    const host2 = config.nodes[1];
    assert.ok(host2);
    const withLog = await readFile(state.configPath, 'utf8');
    const withoutLog = withLog.replace(/, log_file: [^ }]+/g, '');
    assert.notEqual(withoutLog, withLog, 'the lab config should have had log_file keys');
    const configPath = join(state.dir, 'skypg-no-log-file.yaml');
    await writeFile(configPath, withoutLog, { mode: 0o644 });

    await stopServer(host2, 'immediate');
    assert.equal(await runningPostmaster(host2), undefined);
    // The CLI helper waits for the process's output pipes to close, like a shell or cron does:
    // with the bug this ran into its timeout (exit code null).
    const run = await runSkypg(['supervisor', '--once', '--node', 'host2', '-c', configPath], {
      timeoutMs: 90_000,
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout + run.stderr, /start-standby/);
    assert.ok((await runningPostmaster(host2)) !== undefined, 'the standby should be running');
    const noLogNode = { ...host2, postgres: { ...host2.postgres, log_file: undefined } };
    const logFile = serverLogFile(noLogNode);
    assert.equal(logFile, join(host2.data_dir, 'log', 'skypg-server.log'));
    assert.ok((await stat(logFile)).size > 0, `${logFile} should hold the server's first lines`);
  });
});

/** postmaster.pid as it is now (undefined when there is none). */
async function lockFileOf(node: NodeConfig): Promise<{ pid: number; shmid?: number } | undefined> {
  const text = await readFile(join(node.data_dir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseLockFile(text);
}

/**
 * The node's server started by a parent that never reaps its children (a shell that became
 * `sleep`), as in a container whose init does not reap: once killed, its postmaster stays a
 * zombie until the test kills the parent. Resolves when the server accepts connections.
 */
async function startUnderNonReapingParent(node: NodeConfig): Promise<ChildProcess> {
  const { binDir, osUser } = await programContext(node);
  const parent = spawn(
    'setpriv',
    [
      `--reuid=${osUser ?? 'postgres'}`,
      `--regid=${osUser ?? 'postgres'}`,
      '--init-groups',
      'sh',
      '-c',
      '"$1" -D "$2" >>"$3" 2>&1 & exec sleep 600',
      'never-reaps',
      join(binDir, 'postgres'),
      node.postgres.config_dir ?? node.data_dir,
      serverLogFile(node),
    ],
    { stdio: 'ignore', cwd: '/' },
  );
  await waitUntil(
    'the server to accept connections',
    async () =>
      (await runningPostmaster(node)) !== undefined &&
      (await withConnection(localTarget(node), () => Promise.resolve(true)).catch(() => false)),
    30_000,
  );
  return parent;
}

/** Kills the postmaster with SIGKILL; resolves when it is a zombie and nothing is attached. */
async function killPostmaster(node: NodeConfig, attachedMayStay = false): Promise<number> {
  const lock = await lockFileOf(node);
  assert.ok(lock?.shmid !== undefined, 'postmaster.pid should name its shared memory segment');
  process.kill(lock.pid, 'SIGKILL');
  await waitUntil(
    'the killed postmaster to be a zombie',
    async () =>
      (await readProcStat(lock.pid))?.state === 'Z' &&
      (attachedMayStay || (await shmAttachments(lock.shmid ?? -1)) === 0),
    10_000,
  );
  return lock.pid;
}

describe('starting PostgreSQL after its postmaster was killed and is not reaped', () => {
  const lab = useLoopbackLab();

  it('starts at once: the zombie’s lock file goes once nothing is attached to its shared memory', async () => {
    const host2 = lab().config.nodes[1];
    assert.ok(host2);
    await stopServer(host2, 'fast');
    const parent = await startUnderNonReapingParent(host2);
    try {
      const zombie = await killPostmaster(host2);
      // Before, the start waited 5 s for the reaping, then pg_ctl failed: "lock file exists".
      await startServer(host2, 30_000);
      const started = await runningPostmaster(host2);
      assert.ok(started !== undefined && started !== zombie, `started: ${String(started)}`);
      assert.equal((await readProcStat(zombie))?.state, 'Z', 'the zombie was not reaped meanwhile');
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('never while a process of the old server is attached: the lock file stays, the start fails', async () => {
    const host2 = lab().config.nodes[1];
    assert.ok(host2);
    await stopServer(host2, 'fast');
    const parent = await startUnderNonReapingParent(host2);
    // A backend busy in a loop that never waits on a latch: it does not notice the postmaster's
    // death (a backend checks for it only when it waits).
    const busy = withConnection(localTarget(host2), (session) =>
      session.query('do $$ begin loop perform 1; end loop; end $$ /* skypg-test-busy */'),
    ).catch(() => undefined);
    let backend: number | undefined;
    try {
      await waitUntil(
        'the busy backend',
        async () => {
          backend = await withConnection(localTarget(host2), async (session) => {
            const rows = await session.query<{ pid: number }>(
              "select pid from pg_stat_activity where query like '%skypg-test-busy%' and pid <> pg_backend_pid()",
            );
            return rows[0]?.pid;
          });
          return backend !== undefined;
        },
        10_000,
      );
      const zombie = await killPostmaster(host2, true);
      await assert.rejects(startServer(host2, 10_000));
      assert.equal((await lockFileOf(host2))?.pid, zombie, 'the lock file must stay');
    } finally {
      if (backend !== undefined) process.kill(backend, 'SIGKILL');
      parent.kill('SIGKILL');
      await busy;
    }
    // The old server is gone for good now: the next start is an ordinary one.
    await startServer(host2, 30_000);
    assert.ok((await runningPostmaster(host2)) !== undefined);
  });
});
