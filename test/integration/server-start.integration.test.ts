// Starting PostgreSQL with the keys the example configuration has: no postgres.log_file. pg_ctl
// without -l hands the postmaster its stdout and stderr, and a supervisor that waited for those
// pipes to close hung for good after its first start (seen by a user after a kill -9).
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runningPostmaster, serverLogFile, stopServer } from '../../src/lib/pg/server-control.js';
import { runSkypg } from '../support/cli.js';
import { useLoopbackLab } from '../support/lab.js';

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
