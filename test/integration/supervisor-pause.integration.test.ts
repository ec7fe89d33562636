// pause/resume and one supervisor loop on the loopback pair: the flag travels through the
// heartbeat row to the standby, the supervisor stands aside, check-alive says so.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runningPostmaster } from '../../src/lib/pg/server-control.js';
import { skypgBin } from '../support/cli.js';
import { runSkypg } from '../support/cli.js';
import { useLoopbackLab } from '../support/lab.js';
import { waitUntil } from '../support/wait.js';

describe('supervisor --once, pause and resume', () => {
  const lab = useLoopbackLab();
  const skypg = (...args: string[]) =>
    runSkypg(args, { env: { SKYPG_CONFIG: lab().state.configPath } });

  it('one loop on each node reports its role and writes the state file check-alive reads', async () => {
    const primary = await skypg('supervisor', '--once', '--node', 'host1', '--json');
    assert.equal(primary.code, 0, primary.stderr);
    assert.match(primary.stdout, /"state": "primary"/);
    const standby = await skypg('supervisor', '--once', '--dry-run', '--node', 'host2');
    assert.match(
      standby.stdout,
      /"event":"decision","node":"host2","state":"standby","rule":"standby-following"/,
    );
    assert.match(standby.stdout, /host2: standby: host2 follows primary host1/);
  });

  it('pause is seen by the standby through replication; the supervisor stands aside; resume undoes it', async () => {
    const paused = await skypg('pause', '--reason', 'kernel update');
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /cluster lab paused \(flag written on host1\)/);
    await waitUntil('host2 replays the pause flag', async () => {
      const run = await skypg('supervisor', '--once', '--node', 'host2');
      return /"state":"paused","rule":"paused"/.test(run.stdout) ? run : undefined;
    });
    const alive = await runSkypg([
      'check-alive',
      '--node',
      'host2',
      '--config',
      lab().state.configPath,
      '--max-age',
      '1h',
    ]);
    assert.equal(alive.code, 2, 'the one-shot supervisor has exited, so its PID is gone');
    assert.match(alive.stdout, /not running/);
    const status = await skypg('status');
    assert.match(status.stdout, /host2 .* not running/);

    const resumed = await skypg('resume');
    assert.equal(resumed.code, 0, resumed.stderr);
    await waitUntil('host2 sees the pause lifted', async () => {
      const run = await skypg('supervisor', '--once', '--node', 'host2');
      return /"rule":"standby-following"/.test(run.stdout) ? run : undefined;
    });
  });

  it('runs in the foreground: SIGHUP reopens the log file, SIGTERM stops it and leaves PostgreSQL running', async () => {
    const log = join(lab().state.dir, 'supervisor.log');
    const child = spawn(
      process.execPath,
      [skypgBin, 'supervisor', '--node', 'host1', '--log-file', log],
      {
        env: { ...process.env, SKYPG_CONFIG: lab().state.configPath },
        stdio: 'ignore',
      },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await waitUntil('the supervisor logs its first decision', async () =>
        (await readFile(log, 'utf8').catch(() => '')).includes('"event":"decision"'),
      );
      await rename(log, `${log}.1`);
      child.kill('SIGHUP');
      await waitUntil(
        'a new log file is written after SIGHUP',
        async () => (await readFile(log, 'utf8').catch(() => '')).length > 0,
        10_000,
      );
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      const lines = (await readFile(log, 'utf8')).trim().split('\n');
      assert.match(
        lines.at(-1) ?? '',
        /"event":"stop".*PostgreSQL and the VIPs are left as they are/,
      );
      assert.ok(
        (await runningPostmaster(lab().config.nodes[0])) !== undefined,
        'PostgreSQL still runs',
      );
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
