// check-lag against a real pair: lag made by pausing replay on the standby while the primary
// writes; both the primary's and the standby's view; a stopped standby; an unreachable server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runSkypg, type CliRun } from '../support/cli.js';
import { useLoopbackLab } from '../support/lab.js';
import { labNode, sql, startServer, stopServer, writeWal } from '../support/lab-control.js';
import { waitUntil } from '../support/wait.js';

const thresholds = ['-w', '1MB', '-c', '4MB'];

describe('check-lag', () => {
  const lab = useLoopbackLab();
  const checkLag = (node: string, args: string[] = thresholds): Promise<CliRun> =>
    runSkypg(['check-lag', '--node', node, ...args], {
      env: { SKYPG_CONFIG: lab().state.configPath },
    });
  const untilExit = (node: string, code: number): Promise<CliRun> =>
    waitUntil(`check-lag on ${node} exits ${code}`, async () => {
      const run = await checkLag(node);
      return run.code === code ? run : undefined;
    });

  it('is OK with perfdata on a healthy pair, from both sides', async () => {
    for (const node of ['host1', 'host2']) {
      const run = await untilExit(node, 0);
      assert.match(
        run.stdout,
        /^SKYPG_LAG OK - .* \| lag_bytes=\d+B;1048576;4194304;0 lag_seconds=[\d.]+s;;;0\n$/,
      );
    }
  });

  it('goes OK -> WARNING -> CRITICAL as replay falls behind, and back to OK after resume', async () => {
    const primary = labNode(lab(), 'host1');
    const standby = labNode(lab(), 'host2');
    await sql(standby, 'select pg_wal_replay_pause()');
    try {
      await writeWal(primary, 2 * 1024 * 1024);
      const warnPrimary = await untilExit('host1', 1);
      assert.match(
        warnPrimary.stdout,
        /^SKYPG_LAG WARNING - standby host2 is [\d.]+MiB .*behind primary host1 \| lag_bytes=(\d+)B;/,
      );
      const warnStandby = await untilExit('host2', 1);
      assert.match(
        warnStandby.stdout,
        /^SKYPG_LAG WARNING - standby host2 has [\d.]+MiB received but not replayed.*replay is paused/,
      );

      await writeWal(primary, 4 * 1024 * 1024);
      const critPrimary = await untilExit('host1', 2);
      const bytes = Number(/lag_bytes=(\d+)B/.exec(critPrimary.stdout)?.[1]);
      assert.ok(bytes > 4 * 1024 * 1024, `lag_bytes ${bytes} should exceed the critical 4MB`);
      await untilExit('host2', 2);

      // Time thresholds judge the heartbeat age on the standby: it stops advancing while paused.
      await sql(
        primary,
        `update skypg.cluster_status set last_alive = now() where id = 1`,
        [],
        'sky_pg_cluster',
      );
      const timed = await checkLag('host2', [
        '-w',
        '1GB',
        '-c',
        '2GB',
        '--warning-time',
        '0.5',
        '--critical-time',
        '3600',
      ]);
      assert.equal(timed.code, 1, timed.stdout);
    } finally {
      await sql(standby, 'select pg_wal_replay_resume()');
    }
    await untilExit('host1', 0);
    await untilExit('host2', 0);
  });

  it('is CRITICAL on the primary when the standby is stopped, UNKNOWN on the stopped standby', async () => {
    await stopServer(lab(), 'host2');
    try {
      const primarySide = await untilExit('host1', 2);
      assert.match(
        primarySide.stdout,
        /^SKYPG_LAG CRITICAL - no standby is connected to primary host1 \(expected host2\) \| lag_bytes=U/,
      );
      const standbySide = await checkLag('host2');
      assert.equal(standbySide.code, 3);
      assert.match(
        standbySide.stdout,
        /^SKYPG_LAG UNKNOWN - PostgreSQL at socket .* refused the connection/,
      );
    } finally {
      await startServer(lab(), 'host2');
    }
    await untilExit('host1', 0);
  });

  it('is CRITICAL on the standby when its primary is gone (not streaming)', async () => {
    await stopServer(lab(), 'host1');
    try {
      const run = await untilExit('host2', 2);
      assert.match(
        run.stdout,
        /^SKYPG_LAG CRITICAL - standby host2 is not streaming from host1 \(wal receiver: /,
      );
    } finally {
      await startServer(lab(), 'host1');
    }
    await untilExit('host2', 0);
  });

  const badArguments: { name: string; args: string[]; expect: RegExp }[] = [
    {
      name: 'a malformed threshold',
      args: ['-w', 'abc'],
      expect: /^SKYPG_LAG UNKNOWN - --warning: "abc" is not a range/,
    },
    {
      name: 'warning above critical',
      args: ['-w', '32MB', '-c', '16MB'],
      expect: /^SKYPG_LAG UNKNOWN - --warning 32MB is above --critical 16MB/,
    },
    {
      name: 'a bad time threshold',
      args: ['--warning-time', 'soon'],
      expect: /^SKYPG_LAG UNKNOWN - --warning-time: "soon" is not a range/,
    },
    {
      name: 'an unknown node',
      args: ['--node', 'host3'],
      expect: /^SKYPG_LAG UNKNOWN - no node named "host3"/,
    },
    {
      name: 'an unknown flag',
      args: ['--frobnicate'],
      expect: /^SKYPG_LAG UNKNOWN - Nonexistent flag: --frobnicate/,
    },
  ];
  for (const { name, args, expect } of badArguments) {
    it(`answers ${name} with UNKNOWN (exit 3) and one line`, async () => {
      const withNode = args.includes('--node') ? args : ['--node', 'host1', ...args];
      const run = await runSkypg(['check-lag', ...withNode], {
        env: { SKYPG_CONFIG: lab().state.configPath },
      });
      assert.equal(run.code, 3);
      assert.match(run.stdout, expect);
      assert.equal(run.stdout.trim().split('\n').length, 1);
      assert.doesNotMatch(run.stdout + run.stderr, /\n\s+at /);
    });
  }
});
