// Fence levels in the multi-host lab: a blackout (the host and its BMC lose power together)
// with only the BMC to fence through (no promotion, a loud CRITICAL, never two primaries), and
// with a second level, the simulated PDU (failover). Also: which fence agent leaks the BMC
// password onto a command line while it runs.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ClientAgent,
  readSupervisorLog,
  splitBrainSamples,
  startSupervisors,
  supervisorState,
} from '../../src/lib/lab/lab-cluster.js';
import { ipmitoolArgs } from '../../src/lib/fence/fence.js';
import { blackout, execIn, type NetnsLabState } from '../../src/lib/lab/netns-lab.js';
import { healLab } from '../../src/lib/lab/sandbox.js';
import { runSkypgOn } from '../support/cli.js';
import {
  printSupervisorLogs,
  psql,
  runScenario,
  untilStates,
} from '../support/failover-scenario.js';
import { netnsLabSkipReason, useNetnsLab } from '../support/netns.js';
import { waitUntil } from '../support/wait.js';

const skip = await netnsLabSkipReason();

const on = runSkypgOn;

/**
 * Runs `work` while watching every process's command line; the BMC is frozen meanwhile
 * (SIGSTOP), so each ipmitool lives seconds instead of milliseconds and cannot be missed.
 */
async function watchCommandLines(
  state: NetnsLabState,
  work: () => Promise<unknown>,
): Promise<string[]> {
  const bmc = state.hosts[0].bmc.pid;
  assert.ok(bmc !== undefined);
  const seen = new Set<string>();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      for (const pid of await readdir('/proc').catch(() => [] as string[])) {
        if (!/^\d+$/.test(pid)) continue;
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (cmdline.includes('ipmitool ') || cmdline.includes('ipmitool\0'))
          seen.add(cmdline.replaceAll('\0', ' '));
      }
      await sleep(10);
    }
  })();
  process.kill(bmc, 'SIGSTOP');
  try {
    await work();
  } finally {
    process.kill(bmc, 'SIGCONT');
    watching = false;
    await watcher;
  }
  return [...seen];
}

describe('blackout of the primary with one fence level (its BMC)', { skip }, () => {
  const lab = useNetnsLab({ fenceLevels: 1 });

  it("fence_ipmilan puts the BMC password on ipmitool's command line; agent ipmitool (the lab's default) never does", async () => {
    const state = lab().state;
    const password = (await readFile(state.hosts[0].bmc.passwordFile, 'utf8')).split('\n')[0];
    assert.ok(password !== undefined && password.length > 8);
    const text = await readFile(state.configPath, 'utf8');
    assert.match(text, /agent: ipmitool/);
    // fence_ipmilan runs ipmitool with `-P PASSWORD`; ipmitool overwrites its own argv copy
    // microseconds after it starts, too soon for a poll to see. So ipmitool_path points at a
    // pause before the real ipmitool: the very argv fence_ipmilan passed stays in /proc a while.
    const slowIpmitool = join(state.dir, 'slow-ipmitool');
    await writeFile(slowIpmitool, '#!/bin/bash\nsleep 0.5\nexec ipmitool "$@"\n', { mode: 0o700 });
    const ipmilanConfig = join(state.dir, 'fence-ipmilan.yaml');
    await writeFile(
      ipmilanConfig,
      text
        .replaceAll('agent: ipmitool', 'agent: fence_ipmilan')
        .replaceAll(
          '{ lanplus: 1, cipher: 3 }',
          `{ lanplus: 1, cipher: 3, ipmitool_path: ${slowIpmitool} }`,
        ),
    );

    const viaIpmilan = await watchCommandLines(state, () =>
      on(state, 'host2', ['fence', 'host1', '--action', 'status'], ipmilanConfig),
    );
    assert.ok(
      viaIpmilan.some((line) => line.includes(password)),
      `fence_ipmilan's ipmitool had the password in argv (the finding); saw: ${viaIpmilan.join(' | ')}`,
    );

    const viaIpmitool = await watchCommandLines(state, () =>
      on(state, 'host2', ['fence', 'host1', '--action', 'status']),
    );
    assert.ok(
      viaIpmitool.some((line) => / -f \S+bmc-host1\.password /.test(line)),
      'the watcher saw ipmitool run with -f (so it would have seen a password)',
    );
    assert.deepEqual(
      viaIpmitool.filter((line) => line.includes(password)),
      [],
    );
    const status = await on(state, 'host2', ['fence', 'host1', '--action', 'status']);
    assert.equal(status.code, 0, status.stderr);

    // doctor: every level answers; fence_ipmilan is a WARN with the fix, ipmitool is OK.
    type FenceCheck = { id: string; node?: string; status: string; found: string; fix?: string };
    const fenceCheck = async (configPath: string): Promise<FenceCheck | undefined> => {
      const run = await on(state, 'host2', ['doctor', '--json'], configPath);
      const report = JSON.parse(run.stdout) as { results: FenceCheck[] };
      return report.results.find((result) => result.id === 'fence' && result.node === 'host1');
    };
    const warned = await fenceCheck(ipmilanConfig);
    assert.equal(warned?.status, 'warn', JSON.stringify(warned));
    assert.match(warned?.found ?? '', /level 1 ipmi \(10\.231\.0\.101\) answers status ON/);
    assert.match(
      warned?.found ?? '',
      /fence_ipmilan, which puts the password on ipmitool's command line/,
    );
    assert.match(warned?.fix ?? '', /use agent: ipmitool with password_file/);
    assert.equal((await fenceCheck(state.configPath))?.status, 'ok');
    assert.match(status.stdout, /host1 is powered ON \(level 1 ipmi \(10\.231\.0\.101\)/);
  });

  it('no promotion, check-alive CRITICAL naming host1 and why, the supervisor retries every loop, never two writable primaries', async (t: TestContext) => {
    const state = lab().state;
    await startSupervisors(state);
    try {
      await untilStates(state, { host1: 'primary', host2: 'standby' }, 30_000);
      const agent = await ClientAgent.start(state);
      await sleep(1000);
      const faultAt = Date.now();
      await blackout(state, 'host1');
      await waitUntil(
        'host2 reports fence-failed',
        async () => (await supervisorState(state, 'host2'))?.state === 'fence-failed',
        60_000,
        250,
      );
      // By hand, as an operator would: one line, each level and why.
      const query = await on(state, 'host2', ['fence', 'host1', '--action', 'status']);
      assert.equal(query.code, 1, query.stdout);
      assert.equal(query.stderr.trim().split('\n').length, 1, query.stderr);
      assert.match(
        query.stderr,
        /^skypg: cannot query the power of host1: level 1 ipmi \(10\.231\.0\.101\): status did not answer within 2000ms \(hint: /,
      );
      // What ipmitool's own -N 1 -R 1 gives against the vanished BMC, without skypg's deadline.
      const started = performance.now();
      const bare = await execIn(
        state,
        'host2',
        'ipmitool',
        ipmitoolArgs(lab().config.nodes[0].fence[0] ?? assert.fail('no level 1'), 'status'),
        { allowFailure: true, timeoutMs: 30_000 },
      );
      t.diagnostic(
        `skypg fence status of the blacked-out host1: ${Math.round(query.ms)} ms (node start-up included); bare ipmitool -N 1 -R 1 gave up after ${Math.round(performance.now() - started)} ms (exit ${bare.exitCode})`,
      );
      await sleep(10_000);
      assert.equal(
        await psql(state, 'host2', 'select pg_is_in_recovery()'),
        't',
        'host2 did not promote',
      );
      assert.equal((await supervisorState(state, 'host2'))?.state, 'fence-failed');

      // Sampled across several loops: a slow promote must never make the loop look stuck.
      for (let sample = 0; sample < 6; sample += 1) {
        const alive = await on(state, 'host2', ['check-alive', '--node', 'host2']);
        if (sample === 0) t.diagnostic(`check-alive printed: ${alive.stdout.trim()}`);
        assert.equal(alive.code, 2, alive.stdout + alive.stderr);
        assert.match(
          alive.stdout,
          /^SKYPG_ALIVE CRITICAL - failover blocked: not promoting host2: cannot (query the power of|fence) host1.*: level 1 ipmi \(10\.231\.0\.101\): status did not answer within 2000ms/,
        );
        await sleep(450);
      }
      const status = await on(state, 'host2', ['status', '--timeout', '1500ms']);
      assert.match(status.stdout, /host2: failover blocked: .*level 1 ipmi/);

      const failedPromotes = (await readSupervisorLog(state, 'host2')).filter(
        (line) =>
          line.event === 'action' &&
          line.action === 'fence-peer' &&
          line.result === 'failed' &&
          Date.parse(line.time) > faultAt,
      );
      assert.ok(failedPromotes.length >= 3, `retried every loop: ${failedPromotes.length} tries`);
      assert.match(failedPromotes.at(-1)?.detail ?? '', /level 1 ipmi/);
      const report = await agent.stop();
      assert.ok(report.samples.length > 20);
      assert.deepEqual(splitBrainSamples(report), [], 'never two writable primaries at one sample');
      assert.deepEqual(
        state.hosts.filter((host) => report.samples.at(-1)?.roles[host.address] === 'primary'),
        [],
        'nobody writable after the blackout',
      );

      // The BMC and the host come back: host1 boots (its supervisor starts it as a standby),
      // and the pair has a primary again.
      const healed = await healLab(state);
      assert.ok(healed.did.some((line) => line.includes('reconnected the BMC of host1')));
      await waitUntil(
        'host2 is no longer fence-failed',
        async () => (await supervisorState(state, 'host2'))?.state !== 'fence-failed',
        60_000,
        250,
      );
    } catch (error) {
      await printSupervisorLogs(state);
      throw error;
    }
  });
});

describe('blackout of the primary with two fence levels (BMC, then PDU)', { skip }, () => {
  const lab = useNetnsLab({ fenceLevels: 2 });
  it('the PDU level fences host1, host2 promotes and takes writes through the VIP; host1 rejoins', async (t: TestContext) => {
    const state = lab().state;
    const result = await runScenario(state, t, {
      fault: (lab) => blackout(lab, 'host1'),
      heal: async (lab) => {
        await healLab(lab);
      },
      expectPrimary: 'host2',
    });
    assert.ok(result.timeToWritableMs !== undefined);
    const pduLog = await readFile(join(state.pduDir ?? '', 'pdu.log'), 'utf8');
    assert.match(pduLog, / off host1\n/, 'the PDU powered host1 off');
    const host2Log = await readSupervisorLog(state, 'host2');
    const fenced = host2Log.find(
      (line) => line.event === 'action' && line.action === 'fence-peer' && line.result === 'ok',
    );
    assert.match(fenced?.detail ?? '', /fence host1 \(power off, verified\)/);
    const promoted = host2Log.find(
      (line) => line.event === 'action' && line.action === 'promote' && line.result === 'ok',
    );
    assert.match(promoted?.detail ?? '', /promoted host2/);
  });
});
