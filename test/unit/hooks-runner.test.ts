// The hook runner and watcher over a recording fake of the program adapter (RunHook): the loop
// never waits, each hook runs its events in order while different hooks run side by side, a
// failing or hung hook is logged and counted and the next event still runs, a full queue drops
// its oldest event out loud, and stopping drops what waits (logged) and waits for what runs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exampleConfig } from '../../src/lib/config/example.js';
import { checkConfigText } from '../../src/lib/config/load.js';
import type { ClusterConfig, HookCommand, HookEventName } from '../../src/lib/config/types.js';
import type { HookRun } from '../../src/lib/hooks/run-hook.js';
import { HookRunner } from '../../src/lib/hooks/runner.js';
import { createHookWatcher } from '../../src/lib/hooks/watcher.js';
import type { LogEntry } from '../../src/lib/supervisor/log.js';
import { initialMemory } from '../../src/lib/supervisor/types.js';
import { NOW, primaryView } from '../support/observations.js';

/** A RunHook whose runs end only when the test says, each recorded with what it was given. */
function controlledRun() {
  const runs: {
    path: string;
    env: Record<string, string>;
    timeoutMs: number;
    end: (outcome: HookRun | Error) => void;
  }[] = [];
  const run = (command: HookCommand, env: Record<string, string>, timeoutMs: number) =>
    new Promise<HookRun>((resolve, reject) => {
      runs.push({
        path: command.path,
        env,
        timeoutMs,
        end: (outcome) => {
          if (outcome instanceof Error) reject(outcome);
          else resolve(outcome);
        },
      });
    });
  return { run, runs };
}

const ok: HookRun = { exitCode: 0, timedOut: false, said: undefined };
const settle = () => new Promise((resolve) => setImmediate(resolve));

type Runs = ReturnType<typeof controlledRun>['runs'];

/** Ends the runs one after another (each start waits for the one before), with these outcomes. */
async function endInTurn(runs: Runs, outcomes: (HookRun | Error)[]): Promise<void> {
  for (const [index, outcome] of outcomes.entries()) {
    runs[index]?.end(outcome);
    await settle();
  }
}

const detailsOf = (runs: Runs): (string | undefined)[] => runs.map((r) => r.env['SKYPG_DETAIL']);

function runnerWith(events: HookEventName[], maxQueued?: number) {
  const { run, runs } = controlledRun();
  const lines: LogEntry[] = [];
  const commands = Object.fromEntries(
    events.map((event) => [event, { path: `/hooks/${event}`, args: [] }]),
  );
  const runner = new HookRunner(commands, {
    node: 'host1',
    timeoutMs: 30_000,
    log: { write: (entry) => lines.push(entry) },
    run,
    now: () => NOW,
    ...(maxQueued === undefined ? {} : { maxQueued }),
  });
  const item = (event: HookEventName, detail: string) => ({
    event,
    env: { SKYPG_DETAIL: detail, SKYPG_TIME: 't' },
  });
  return { runner, runs, lines, item };
}

describe('HookRunner', () => {
  it('enqueue returns while the hook runs; one hook runs its events in order, one at a time', async () => {
    const { runner, runs, item } = runnerWith(['fence', 'promote']);
    runner.enqueue(item('fence', 'first'));
    runner.enqueue(item('fence', 'second'));
    runner.enqueue(item('promote', 'other'));
    assert.deepEqual(
      detailsOf(runs),
      ['first', 'other'],
      'another hook runs beside it; the second fence waits',
    );
    assert.deepEqual(runner.stats(), {
      started: 2,
      succeeded: 0,
      failed: 0,
      timedOut: 0,
      dropped: 0,
      running: 2,
      queued: 1,
    });
    await endInTurn(runs, [ok]);
    assert.deepEqual(detailsOf(runs), ['first', 'other', 'second']);
  });

  it('a hung hook (killed at its timeout) and a failing one are logged and counted; the next event runs', async () => {
    const { runner, runs, lines, item } = runnerWith(['fence']);
    for (const detail of ['a', 'b', 'c']) runner.enqueue(item('fence', detail));
    await endInTurn(runs, [
      { exitCode: -1, timedOut: true, said: undefined },
      { exitCode: 2, timedOut: false, said: 'no route to the pager' },
      new Error('spawn failed'),
    ]);
    assert.equal(runs.length, 3);
    assert.equal(runs[0]?.timeoutMs, 30_000);
    assert.deepEqual(
      lines.map((line) => [line.event, line.action, line.result]),
      [
        ['hook', 'on_fence /hooks/fence', 'failed'],
        ['hook', 'on_fence /hooks/fence', 'failed'],
        ['hook', 'on_fence /hooks/fence', 'failed'],
      ],
    );
    assert.match(lines[0]?.detail ?? '', /^a at t: timed out after 30s \(hooks.timeout\): killed/);
    assert.match(lines[1]?.detail ?? '', /exit 2: no route to the pager$/);
    assert.match(lines[2]?.detail ?? '', /could not be run: spawn failed$/);
    const stats = runner.stats();
    assert.deepEqual([stats.started, stats.timedOut, stats.failed, stats.running], [3, 1, 2, 0]);
  });

  it('a success is logged too', async () => {
    const { runner, runs, lines, item } = runnerWith(['demote']);
    runner.enqueue(item('demote', 'fast'));
    runs[0]?.end({ exitCode: 0, timedOut: false, said: 'paged' });
    await settle();
    assert.equal(lines[0]?.result, 'ok');
    assert.match(lines[0]?.detail ?? '', /fast at t: exit 0: paged/);
    assert.equal(runner.stats().succeeded, 1);
  });

  it('events without a hook are not queued', () => {
    const { runner, runs, item } = runnerWith(['fence']);
    runner.enqueue(item('promote', 'x'));
    assert.equal(runs.length, 0);
    assert.equal(runner.stats().queued, 0);
  });

  it('a full queue drops its oldest waiting event, and logs it', async () => {
    const { runner, runs, lines, item } = runnerWith(['role_change'], 2);
    for (const detail of ['running', 'w1', 'w2', 'w3']) runner.enqueue(item('role_change', detail));
    assert.equal(runner.stats().dropped, 1);
    assert.match(
      lines[0]?.detail ?? '',
      /^dropped the w1 event of t: its queue is full \(2 waiting/,
    );
    await endInTurn(runs, [ok, ok]);
    assert.deepEqual(detailsOf(runs), ['running', 'w2', 'w3']);
  });

  it('close drops what waits (logged) and resolves once the running hook ends', async () => {
    const { runner, runs, lines, item } = runnerWith(['fence']);
    runner.enqueue(item('fence', 'running'));
    runner.enqueue(item('fence', 'waiting'));
    let closed = false;
    const closing = runner.close().then(() => {
      closed = true;
    });
    await settle();
    assert.equal(closed, false, 'waits for the running hook');
    assert.match(lines[0]?.detail ?? '', /^dropped the waiting event .*the supervisor is stopping/);
    runs[0]?.end(ok);
    await closing;
    assert.equal(runs.length, 1, 'nothing more starts');
    runner.enqueue(item('fence', 'late'));
    assert.equal(runner.stats().dropped, 2);
  });
});

const loaded = await checkConfigText(
  `${exampleConfig}\nhooks:\n  on_role_change: [/hooks/role, --verbose]\n  timeout: 2s\n`,
  'example.yaml',
);
const config: ClusterConfig = loaded.config ?? assert.fail(JSON.stringify(loaded.problems));
const host1 = config.nodes[0];

describe('createHookWatcher', () => {
  const roleChange = (watcher: ReturnType<typeof createHookWatcher>) => {
    const decided = (state: 'standby' | 'primary') => ({
      startedAt: NOW,
      endedAt: NOW,
      observation: primaryView(),
      decision: {
        state,
        rule: `r-${state}`,
        reason: `now ${state}`,
        actions: [],
        memory: initialMemory,
      },
    });
    watcher.loopEnded?.(decided('standby'));
    watcher.loopEnded?.(decided('primary'));
  };

  /** A watcher over the fakes, told of a standby loop, then a primary one. */
  const watchRoleChange = (dryRun: boolean) => {
    const { run, runs } = controlledRun();
    const lines: LogEntry[] = [];
    const watcher = createHookWatcher(
      config,
      host1,
      { write: (entry) => lines.push(entry) },
      { dryRun },
      { run, now: () => NOW },
    );
    roleChange(watcher);
    return { runs, lines, watcher };
  };

  it('runs the event hook with its environment and fixed arguments, and returns at once', async () => {
    const { runs, watcher } = watchRoleChange(false);
    assert.equal(runs.length, 1);
    assert.equal(runs[0]?.path, '/hooks/role');
    assert.equal(runs[0]?.timeoutMs, 2000);
    assert.deepEqual(runs[0]?.env, {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      SKYPG_EVENT: 'role_change',
      SKYPG_CLUSTER: 'demo',
      SKYPG_NODE: 'host1',
      SKYPG_PEER: 'host2',
      SKYPG_ROLE: 'primary',
      SKYPG_PREVIOUS_ROLE: 'standby',
      SKYPG_STATE: 'primary',
      SKYPG_RULE: 'r-primary',
      SKYPG_DETAIL: 'standby-to-primary',
      SKYPG_REASON: 'now primary',
      SKYPG_TIMELINE: '1',
      SKYPG_TIME: new Date(NOW).toISOString(),
    });
    runs[0]?.end(ok);
    await watcher.close();
    assert.equal(watcher.stats().succeeded, 1);
  });

  it('in a dry run logs the event instead of running the hook', () => {
    const { runs, lines } = watchRoleChange(true);
    assert.equal(runs.length, 0);
    assert.deepEqual(lines, [
      {
        event: 'hook',
        node: 'host1',
        action: 'on_role_change',
        detail: 'dry run: not run (standby-to-primary)',
      },
    ]);
  });
});
