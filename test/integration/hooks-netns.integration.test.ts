// Event hooks for real. First, without a lab: a hook program gets exactly the documented
// environment (a secret in skypg's own environment does not reach it) and a hung one is killed
// at its timeout with what it started. Then one multi-host lab: a failover (host1 powered off)
// and a switchover back, with both supervisors running hooks that append their environment as
// JSON to a file; each event fires once with the documented environment, and an on_fence hook
// that hangs past hooks.timeout neither delays the promotion nor goes unlogged.
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { powerOff, type LabHostName, type NetnsLabState } from '../../src/lib/lab/netns-lab.js';
import { readSupervisorLog } from '../../src/lib/lab/lab-cluster.js';
import { hookEnvironment } from '../../src/lib/hooks/environment.js';
import { runHook } from '../../src/lib/hooks/run-hook.js';
import { runSkypg } from '../support/cli.js';
import { printSupervisorLogs, runScenario, untilStates } from '../support/failover-scenario.js';
import { netnsLabSkipReason, useNetnsLab } from '../support/netns.js';
import { waitUntil } from '../support/wait.js';

/** Every variable a hook is documented to get (docs/hooks.md), from the builder itself. */
const documented = Object.keys(
  hookEnvironment(
    { event: 'fence', role: 'standby', state: 'x', reason: '', detail: '', at: 0 },
    { cluster: 'c', node: 'n', peer: 'p' },
  ),
).sort();

/**
 * A hook that appends its whole environment as one JSON line to FILE-<node>.jsonl; as on_fence
 * (HANG=1 in its arguments) it then hangs, with a child of its own, far past any timeout.
 */
function recordingHook(recordFile: string): string {
  return [
    `#!${process.execPath}`,
    "const { appendFileSync } = require('node:fs');",
    "const { spawn } = require('node:child_process');",
    `appendFileSync(${JSON.stringify(recordFile)} + '-' + process.env.SKYPG_NODE + '.jsonl', JSON.stringify({ ...process.env, argv: process.argv.slice(2) }) + '\\n');`,
    "if (process.argv.includes('hang')) { spawn('sleep', ['300'], { stdio: 'ignore' }); setTimeout(() => {}, 300_000); }",
    '',
  ].join('\n');
}

type Recorded = Record<string, string> & { argv?: string[] };

async function recorded(recordFile: string, node: LabHostName): Promise<Recorded[]> {
  const text = await readFile(`${recordFile}-${node}.jsonl`, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Recorded);
}

/** A record without the arguments the hook was given: its environment alone. */
const environmentOf = (record: Recorded): Record<string, string> =>
  Object.fromEntries(Object.entries(record).filter(([name]) => name !== 'argv')) as Record<
    string,
    string
  >;

const eventsOf = (records: Recorded[]): string[] =>
  records.map((r) => `${r['SKYPG_EVENT'] ?? ''} ${r['SKYPG_DETAIL'] ?? ''}`);

/** The environment is exactly the documented one; role and names as expected. */
function assertEnvironment(record: Recorded, node: LabHostName, cluster: string): void {
  const env = environmentOf(record);
  // node itself may add nothing; anything beyond the list came from the supervisor.
  assert.deepEqual(Object.keys(env).sort(), documented, JSON.stringify(env));
  assert.equal(env['SKYPG_NODE'], node);
  assert.equal(env['SKYPG_PEER'], node === 'host1' ? 'host2' : 'host1');
  assert.equal(env['SKYPG_CLUSTER'], cluster);
  assert.ok(!Number.isNaN(Date.parse(env['SKYPG_TIME'] ?? '')), 'SKYPG_TIME is a time');
  assert.notEqual(env['SKYPG_REASON'], '', 'a reason is given');
}

describe('a hook program run for real, without a lab', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skypg-hooks-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gets only the documented environment: an inherited PGPASSWORD does not reach it', async () => {
    const hook = join(dir, 'record');
    await writeFile(hook, recordingHook(join(dir, 'events')), { mode: 0o755 });
    process.env['PGPASSWORD'] = 'secret-of-the-supervisor';
    try {
      const env = hookEnvironment(
        {
          event: 'demote',
          role: 'demoted',
          state: 'demoted',
          reason: 'why',
          detail: 'fast',
          at: 0,
        },
        { cluster: 'c', node: 'host1', peer: 'host2' },
      );
      const run = await runHook({ path: hook, args: ['one', 'two words'] }, env, 10_000);
      assert.deepEqual([run.exitCode, run.timedOut], [0, false]);
    } finally {
      delete process.env['PGPASSWORD'];
    }
    const [record] = await recorded(join(dir, 'events'), 'host1');
    assert.ok(record !== undefined);
    assert.deepEqual(record.argv, ['one', 'two words']);
    assert.deepEqual(Object.keys(environmentOf(record)).sort(), documented);
    assert.ok(!JSON.stringify(record).includes('secret-of-the-supervisor'));
  });

  it('a hung hook is killed at its timeout, with the child it started', async () => {
    const hook = join(dir, 'record');
    const env = hookEnvironment(
      { event: 'fence', role: 'standby', state: 'promoting', reason: 'r', detail: 'd', at: 0 },
      { cluster: 'c', node: 'host2', peer: 'host1' },
    );
    const started = Date.now();
    const run = await runHook({ path: hook, args: ['hang'] }, env, 1500);
    const tookMs = Date.now() - started;
    assert.equal(run.timedOut, true);
    assert.ok(tookMs < 5000, `returned ${tookMs}ms after it started`);
  });
});

const skip = await netnsLabSkipReason();

describe('event hooks in a failover and a switchover (multi-host lab)', { skip }, () => {
  const lab = useNetnsLab();
  const hookTimeoutMs = 4000;
  let recordFile = '';

  before(async () => {
    const state = lab().state;
    recordFile = join(state.dir, 'hook-events');
    const hook = join(state.dir, 'record-hook');
    await writeFile(hook, recordingHook(recordFile), { mode: 0o755 });
    const events = ['role_change', 'promote', 'demote', 'failover_blocked', 'rejoin', 'switchover'];
    await appendFile(
      state.configPath,
      [
        'hooks:',
        `  timeout: ${hookTimeoutMs}ms`,
        `  on_fence: [${hook}, hang]`,
        ...events.map((event) => `  on_${event}: ${hook}`),
        '',
      ].join('\n'),
    );
  });

  it('a failover: fence (hung past its timeout, logged), promote and role change fire once each; the old primary rejoins', async (t: TestContext) => {
    const state = lab().state;
    const cluster = lab().config.cluster;
    await runScenario(state, t, {
      fault: (lab: NetnsLabState) => powerOff(lab, 'host1'),
      expectPrimary: 'host2',
    });
    try {
      const host2 = await waitUntil(
        'host2 recorded its fence, promote and role change',
        async () => {
          const records = await recorded(recordFile, 'host2');
          return eventsOf(records).some((e) => e.startsWith('role_change')) ? records : undefined;
        },
        30_000,
      );
      const host2Events = eventsOf(host2);
      t.diagnostic(`host2 hooks: ${host2Events.join(', ')}`);
      const byEvent = (name: string) => host2.find((r) => r['SKYPG_EVENT'] === name);
      // The power-off left host1's BMC saying off: found off, or powered off by the fence.
      const cleared = byEvent('fence')?.['SKYPG_DETAIL'] ?? '?';
      assert.match(cleared, /^(powered-off|already-off)$/);
      // fence and promote start side by side (two hooks): their lines may come in either order.
      assert.deepEqual([...host2Events].sort(), [
        `fence ${cleared}`,
        `promote ${cleared}`,
        'role_change standby-to-primary',
      ]);
      for (const record of host2) assertEnvironment(record, 'host2', cluster);
      assert.equal(byEvent('promote')?.['SKYPG_ROLE'], 'primary');
      assert.match(byEvent('promote')?.['SKYPG_TIMELINE'] ?? '', /^\d+$/);
      assert.equal(byEvent('role_change')?.['SKYPG_PREVIOUS_ROLE'], 'standby');
      assert.deepEqual(byEvent('fence')?.argv, ['hang']);
      assert.match(
        byEvent('fence')?.['SKYPG_REASON'] ?? '',
        /^host1 (fenced \(power off, verified\)|cannot write: host1 is powered off)/,
      );

      // The hung on_fence held nothing up: pg_promote() ran in the same action set (the hook
      // was only handed the fence's outcome), and the next loops went on, deciding primary and
      // running on_role_change, while on_fence still hung; it was killed at hooks.timeout.
      const log = await waitUntil('host2 logged on_fence timing out', async () => {
        const lines = await readSupervisorLog(state, 'host2');
        return lines.some((line) => line.action?.startsWith('on_fence') === true)
          ? lines
          : undefined;
      });
      const hookLine = (event: string) =>
        log.find((line) => line.event === 'hook' && line.action?.startsWith(`on_${event} `));
      const fenceLine = hookLine('fence');
      assert.equal(fenceLine?.result, 'failed');
      assert.match(fenceLine?.detail ?? '', /timed out after 4s \(hooks.timeout\): killed/);
      assert.ok((fenceLine?.durationMs ?? 0) >= hookTimeoutMs);
      const fencedAt = Date.parse(byEvent('fence')?.['SKYPG_TIME'] ?? '');
      const primaryAt = Date.parse(byEvent('role_change')?.['SKYPG_TIME'] ?? '');
      const roleHookEndedAt = Date.parse(hookLine('role_change')?.time ?? '');
      const fenceHookEndedAt = Date.parse(fenceLine?.time ?? '');
      t.diagnostic(
        `decided primary ${primaryAt - fencedAt}ms after the fence, on_role_change done ${roleHookEndedAt - fencedAt}ms after, on_fence killed ${fenceHookEndedAt - fencedAt}ms after`,
      );
      assert.ok(primaryAt - fencedAt < hookTimeoutMs, 'the loop did not wait for on_fence');
      assert.ok(roleHookEndedAt < fenceHookEndedAt, 'on_role_change ran while on_fence hung');

      // host1, powered back on, started a new supervisor: it rejoined; its first role is no change.
      const host1 = await recorded(recordFile, 'host1');
      t.diagnostic(`host1 hooks: ${eventsOf(host1).join(', ')}`);
      assert.equal(eventsOf(host1).filter((e) => e.startsWith('rejoin')).length, 1);
      assert.ok(!eventsOf(host1).some((e) => e.startsWith('role_change')));
      for (const record of host1) assertEnvironment(record, 'host1', cluster);
      for (const record of [...host1, ...host2]) {
        assert.ok(!('PGPASSFILE' in record), 'the supervisor environment is not inherited');
        assert.ok(!('NODE_OPTIONS' in record));
      }
    } catch (error) {
      await printSupervisorLogs(state);
      throw error;
    }
  });

  it('a switchover back to host1: started and finished on both, handed-over on host2, one role change each', async (t: TestContext) => {
    const state = lab().state;
    const cluster = lab().config.cluster;
    const before = {
      host1: (await recorded(recordFile, 'host1')).length,
      host2: (await recorded(recordFile, 'host2')).length,
    };
    const run = await runSkypg(['switchover', '--to', 'host1', '--node', 'host1'], {
      netns: state.netns.host1,
      env: { SKYPG_CONFIG: state.configPath },
      timeoutMs: 120_000,
    });
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    try {
      await untilStates(state, { host1: 'primary', host2: 'standby' }, 60_000);
      const wanted: Record<LabHostName, string[]> = {
        host1: ['role_change standby-to-primary', 'switchover finished', 'switchover started'],
        host2: [
          'role_change primary-to-standby',
          'switchover finished',
          'switchover handed-over',
          'switchover started',
        ],
      };
      for (const host of ['host1', 'host2'] as const) {
        const since = await waitUntil(
          `${host} recorded the switchover's end`,
          async () => {
            const records = (await recorded(recordFile, host)).slice(before[host]);
            const events = eventsOf(records);
            return events.includes('switchover finished') &&
              events.some((e) => e.startsWith('role_change'))
              ? records
              : undefined;
          },
          30_000,
        );
        t.diagnostic(`${host} hooks: ${eventsOf(since).join(', ')}`);
        assert.deepEqual(eventsOf(since).sort(), wanted[host]);
        for (const record of since) assertEnvironment(record, host, cluster);
        const roleChange = since.find((r) => r['SKYPG_EVENT'] === 'role_change');
        assert.equal(roleChange?.['SKYPG_ROLE'], host === 'host1' ? 'primary' : 'standby');
      }
    } catch (error) {
      await printSupervisorLogs(state);
      throw error;
    }
  });
});
