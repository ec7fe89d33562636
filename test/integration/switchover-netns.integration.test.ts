// Planned switchover in the multi-host lab: refusals (standby stopped, too far behind, paused)
// with the supervisors off, then, with both supervisors running and a client writing through
// the primary VIP, a switchover and a switch back (nothing lost, never two primaries, no
// failover), and a switchover that fails after the old primary stopped and rolls back.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { execIn, type LabHostName, type NetnsLabState } from '../../src/lib/lab/netns-lab.js';
import {
  ClientAgent,
  readSupervisorLog,
  splitBrainSamples,
  startSupervisors,
  type AgentReport,
} from '../../src/lib/lab/lab-cluster.js';
import type { SwitchoverResult } from '../../src/lib/actions/switchover.js';
import { runSkypg, type CliRun } from '../support/cli.js';
import { holdsVip, printSupervisorLogs, psql, untilStates } from '../support/failover-scenario.js';
import { netnsLabSkipReason, useNetnsLab } from '../support/netns.js';
import { waitUntil } from '../support/wait.js';

const skip = await netnsLabSkipReason();

function on(state: NetnsLabState, host: LabHostName, args: string[]): Promise<CliRun> {
  return runSkypg([...args, '--node', host], {
    netns: state.netns[host],
    env: { SKYPG_CONFIG: state.configPath },
    timeoutMs: 120_000,
  });
}

async function pgCtl(state: NetnsLabState, host: LabHostName, action: 'stop' | 'start') {
  const server = state.hosts[host === 'host1' ? 0 : 1];
  await execIn(
    state,
    host,
    join(state.binDir, 'pg_ctl'),
    ['-D', server.dataDir, '-l', server.logFile, '-w', '-m', 'fast', action],
    { asUser: state.osUser },
  );
}

async function streams(state: NetnsLabState, standby: LabHostName): Promise<boolean> {
  return (await psql(state, standby, 'select status from pg_stat_wal_receiver')) === 'streaming';
}

function lostWrites(report: AgentReport, present: string): number[] {
  const rows = new Set(present.split('\n').filter(Boolean).map(Number));
  return report.acked.filter((id) => !rows.has(id));
}

/** The longest time between two acknowledged writes: the window a client saw. */
function longestGap(report: AgentReport, from: number): number {
  const times = report.acked
    .map((id) => report.ackTimes.get(id) ?? 0)
    .filter((t) => t >= from)
    .sort((a, b) => a - b);
  let gap = 0;
  for (let index = 1; index < times.length; index += 1)
    gap = Math.max(gap, (times[index] ?? 0) - (times[index - 1] ?? 0));
  return gap;
}

describe('skypg switchover in the multi-host lab', { skip }, () => {
  const lab = useNetnsLab();

  it('is refused when the standby is stopped, too far behind, or the cluster is paused', async () => {
    const state = lab().state;
    // No supervisors yet: nothing restarts a stopped server behind the test's back.
    await pgCtl(state, 'host2', 'stop');
    const stopped = await on(state, 'host2', ['switchover']);
    assert.equal(stopped.code, 1, stopped.stdout);
    assert.match(
      stopped.stderr,
      /not switching over to host2: host2 is a streaming standby: its PostgreSQL does not answer/,
    );
    await pgCtl(state, 'host2', 'start');
    await waitUntil('host2 streams again', () => streams(state, 'host2'), 30_000);

    await psql(state, 'host2', 'select pg_wal_replay_pause()');
    await psql(
      state,
      'host1',
      "create table ballast as select repeat('x', 1000) as filler from generate_series(1, 3000)",
    );
    const behind = await on(state, 'host2', ['switchover', '--timeout', '2s']);
    await psql(state, 'host2', 'select pg_wal_replay_resume()');
    assert.equal(behind.code, 1);
    assert.match(behind.stdout, /waiting for host2 to catch up: .* behind/);
    assert.match(behind.stderr, /lag below 1MiB: .* not replayed after 2s/);

    const paused = await on(state, 'host1', ['pause', '--reason', 'maintenance']);
    assert.equal(paused.code, 0, paused.stderr);
    const refused = await on(state, 'host2', ['switchover', '--json']);
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /"code": "REFUSED"/);
    assert.match(refused.stdout, /the cluster is not paused: paused by .*maintenance/);
    assert.equal(await on(state, 'host1', ['resume']).then((run) => run.code), 0);

    const dry = await on(state, 'host2', ['switchover', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(
      dry.stdout,
      /dry run: switchover from host1 to host2 is possible; nothing was changed/,
    );
    assert.equal(await psql(state, 'host1', 'select pg_is_in_recovery()'), 'f');
  });

  it('switches over and back with a writer on the VIP: nothing lost, one primary, no failover', async (t: TestContext) => {
    const state = lab().state;
    await startSupervisors(state);
    let agent: ClientAgent | undefined;
    try {
      await untilStates(state, { host1: 'primary', host2: 'standby' }, 30_000);
      await waitUntil('host1 holds the primary VIP', () => holdsVip(state, 'host1'), 10_000);
      agent = await ClientAgent.start(state);
      const rounds: [LabHostName, LabHostName][] = [
        ['host1', 'host2'],
        ['host2', 'host1'],
      ];
      for (const [from, to] of rounds) {
        await untilStates(
          state,
          from === 'host1'
            ? { host1: 'primary', host2: 'standby' }
            : { host1: 'standby', host2: 'primary' },
          60_000,
        );
        await waitUntil('the client writes through the VIP', () => {
          const report = agent?.report();
          return Promise.resolve(
            report?.acked.some((id) => (report.ackTimes.get(id) ?? 0) > Date.now() - 200),
          );
        });
        const startedAt = Date.now();
        const run = await on(state, to, ['switchover', '--to', to, '--json']);
        assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
        const result = JSON.parse(run.stdout) as SwitchoverResult;
        assert.equal(result.final?.primary, to);
        assert.equal(result.final.standbyStreaming, true);
        assert.equal(await holdsVip(state, to), true, `${to} holds the primary VIP`);
        assert.equal(await holdsVip(state, from), false);
        const endedAt = Date.now();
        await waitUntil('a write is acknowledged after the switchover', () => {
          const report = agent?.report();
          return Promise.resolve(
            report?.acked.some((id) => (report.ackTimes.get(id) ?? 0) > endedAt),
          );
        });
        t.diagnostic(
          `${from} -> ${to}: writes refused ${String(result.writesRefusedMs)}ms (command), longest gap between acknowledged writes ${longestGap(agent.report(), startedAt)}ms (client); total ${result.totalMs}ms`,
        );
        for (const step of result.steps) t.diagnostic(`  ${step.ms}ms ${step.step}`);
      }
      await untilStates(state, { host1: 'primary', host2: 'standby' }, 60_000);
      await waitUntil('host2 streams from host1', () => streams(state, 'host2'), 30_000);
      const report = await agent.stop();
      agent = undefined;
      assert.deepEqual(splitBrainSamples(report), [], 'never two writable primaries');
      assert.deepEqual(
        lostWrites(report, await psql(state, 'host1', 'select id from agent_writes')),
        [],
        'acknowledged writes missing',
      );
      assert.ok(report.acked.length > 50);
      for (const host of ['host1', 'host2'] as const) {
        const log = await readSupervisorLog(state, host);
        const failover = log.filter(
          (line) =>
            (line.event === 'decision' && line.rule === 'standby-promote') ||
            (line.event === 'action' && /^(promote|fence|rebuild)/.test(line.action ?? '')),
        );
        assert.deepEqual(failover, [], `${host} recorded no failover`);
        assert.ok(
          log.some((line) => line.rule === 'switchover-stand-aside'),
          `${host} stood aside`,
        );
      }
    } catch (error) {
      await printSupervisorLogs(state);
      throw error;
    } finally {
      await agent?.stop();
    }
  });

  it('rolls back to the old primary when the standby has not replayed its shutdown checkpoint', async () => {
    const state = lab().state;
    let agent: ClientAgent | undefined;
    try {
      await untilStates(state, { host1: 'primary', host2: 'standby' }, 60_000);
      agent = await ClientAgent.start(state);
      // Replay on host2 lags 15 s behind: it sees the flag late, and after host1 has stopped it
      // cannot reach the shutdown checkpoint within the swap's replay bound (5 s).
      await psql(state, 'host2', "alter system set recovery_min_apply_delay = '15s'");
      await psql(state, 'host2', 'select pg_reload_conf()');
      const run = await on(state, 'host2', ['switchover', '--timeout', '45s']);
      assert.equal(run.code, 1, run.stdout);
      assert.match(
        run.stderr,
        /switchover to host2 failed before its promotion \(host2 did not replay past the shutdown checkpoint .*\); rolled back: host1 is the primary again \(timeline \d+\)/,
      );
      assert.match(run.stderr, /roll back: promote host1 again/);
      assert.equal(await psql(state, 'host1', 'select pg_is_in_recovery()'), 'f');
      assert.equal(await psql(state, 'host2', 'select pg_is_in_recovery()'), 't');
      await waitUntil('host1 takes the primary VIP back', () => holdsVip(state, 'host1'), 15_000);
      await psql(state, 'host2', 'alter system reset recovery_min_apply_delay');
      await psql(state, 'host2', 'select pg_reload_conf()');
      await untilStates(state, { host1: 'primary', host2: 'standby' }, 60_000);
      await waitUntil('host2 streams from host1', () => streams(state, 'host2'), 30_000);
      const report = await agent.stop();
      agent = undefined;
      assert.deepEqual(splitBrainSamples(report), []);
      assert.deepEqual(
        lostWrites(report, await psql(state, 'host1', 'select id from agent_writes')),
        [],
      );
    } catch (error) {
      await printSupervisorLogs(state);
      throw error;
    } finally {
      await agent?.stop();
    }
  });
});
