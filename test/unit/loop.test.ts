// The supervisor loop (supervisor/loop.ts) on recording fakes: the real loop and the real
// decide(), a virtual clock, scripted observations and actions. Each case reads the journal of
// effects in order, or the state files and log lines the loop wrote.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConfigText } from '../../src/lib/config/load.js';
import { exampleConfig } from '../../src/lib/config/example.js';
import type { NodeConfig } from '../../src/lib/config/types.js';
import {
  describeAction,
  runSupervisor,
  type LoopSummary,
  type LoopWatcher,
} from '../../src/lib/supervisor/loop.js';
import type { Observation } from '../../src/lib/supervisor/types.js';
import { actionWaitMs, observeDeadlineMs } from '../../src/lib/supervisor/watchdog.js';
import { Waker } from '../../src/lib/supervisor/waker.js';
import { LoopFakes } from '../support/loop-fakes.js';
import { primaryView, standbyView } from '../support/observations.js';

const loaded = await checkConfigText(exampleConfig, 'example.yaml');
if (loaded.config === undefined) throw new Error('example config invalid');
const config = loaded.config;
const nodeNamed = (name: string): NodeConfig => {
  const found = config.nodes.find((node) => node.name === name);
  if (found === undefined) throw new Error(`no node ${name} in the example config`);
  return found;
};
const host1 = nodeNamed('host1');
const host2 = nodeNamed('host2');

// host1's views (it is the primary) and host2's (it is the standby), at the fake clock's time.
const primaryHealthy = (now: number): Observation => primaryView({ now });
const primaryWithoutVip = (now: number): Observation =>
  primaryView({ now, primaryVip: { heldHere: false } });
const twoPrimaries = (now: number): Observation =>
  primaryView({ now, primaryVip: { heldHere: false }, peerServer: { role: 'primary' } });
const primaryGone = (now: number): Observation =>
  standbyView({
    now,
    peerServer: { answering: false, role: undefined, timeline: undefined, lsn: undefined },
    primaryVip: { answeredByOtherPrimary: false, heldElsewhere: false },
    local: { receiver: undefined },
  });

async function run(
  fakes: LoopFakes,
  node: NodeConfig,
  flags: { once?: boolean; dryRun?: boolean; waker?: Waker } = {},
): Promise<LoopSummary> {
  return runSupervisor(
    config,
    node,
    {
      once: flags.once ?? false,
      dryRun: flags.dryRun ?? false,
      log: fakes.log,
      signal: fakes.stop.signal,
      version: '0.0.0-test',
      ...(flags.waker === undefined ? {} : { waker: flags.waker }),
    },
    fakes.deps,
  );
}

const timeOf = (iso: string | undefined): number => Date.parse(iso ?? '');

describe('loop order', () => {
  it('observes, decides, acts, then writes the state file; --once finishes its action', async () => {
    const fakes = new LoopFakes({
      observe: (_loop, now) => primaryWithoutVip(now),
      act: () => ({ ms: 5 * actionWaitMs(config) }),
      loops: 1,
    });
    const summary = await run(fakes, host1, { once: true });
    assert.deepEqual(fakes.journal, [
      'observe 1',
      'decision primary-healthy',
      'act take-vip primary',
      'state primary running take-vip primary',
      'acted take-vip primary',
      'action take-vip primary: done',
      'state primary',
    ]);
    assert.equal(summary.loops, 1);
    assert.equal(summary.lastDecision?.rule, 'primary-healthy');
    assert.equal(fakes.logs.at(-1)?.event, 'stop');
    const [before, after] = fakes.states;
    assert.equal(timeOf(after?.updatedAt) - timeOf(before?.updatedAt), 5 * actionWaitMs(config));
    assert.equal(after?.reason, 'host1 is the primary and healthy; host2 streaming (async)');
  });

  it('every loop observes anew, and logs a decision only when it changes or acts', async () => {
    const fakes = new LoopFakes({ observe: (_loop, now) => primaryHealthy(now), loops: 3 });
    const summary = await run(fakes, host1);
    assert.deepEqual(fakes.journal, [
      'observe 1',
      'decision primary-healthy',
      'state primary',
      'observe 2',
      'state primary',
      'observe 3',
      'state primary',
    ]);
    assert.equal(summary.loops, 3);
    // One heartbeat.interval apart, on the loop's clock.
    const [first, second] = fakes.states;
    assert.equal(timeOf(second?.updatedAt) - timeOf(first?.updatedAt), config.heartbeat.interval);
    assert.equal(second?.loops, 2);
    assert.equal(second?.pidStartTicks, 4242);
    assert.equal(second?.skypgVersion, '0.0.0-test');
  });
});

describe('state file around a slow action', () => {
  it('is written before the action wait and again after it, so it never goes stale', async () => {
    // A 5-wait action (a fence timeout): the file must show it while it runs (git log 77092cd).
    const actionMs = 5 * actionWaitMs(config);
    const fakes = new LoopFakes({
      observe: (loop, now) => (loop === 1 ? primaryWithoutVip(now) : primaryHealthy(now)),
      act: () => ({ ms: actionMs }),
      loops: 6,
    });
    await run(fakes, host1);
    const writes = fakes.states.map((state) => ({
      at: timeOf(state.updatedAt) - timeOf(fakes.states[0]?.updatedAt),
      running: state.action?.name,
    }));
    const wait = actionWaitMs(config);
    const pause = 50; // the loop overran its interval: it looks again after a moment
    assert.deepEqual(writes.slice(0, 4), [
      { at: 0, running: 'take-vip primary' },
      { at: wait, running: 'take-vip primary' },
      { at: wait + pause, running: 'take-vip primary' },
      { at: 2 * wait + pause, running: 'take-vip primary' },
    ]);
    // No two writes further apart than one wait and one pause while the action ran.
    for (let i = 1; i < writes.length; i += 1) {
      const gap = (writes[i]?.at ?? 0) - (writes[i - 1]?.at ?? 0);
      assert.ok(gap <= wait + config.heartbeat.interval, `gap ${gap}ms before write ${i}`);
    }
    // When it ends, the next write says so at once, without the running action.
    const ended = fakes.states.find((state) => state.action === undefined);
    assert.equal(timeOf(ended?.updatedAt) - timeOf(fakes.states[0]?.updatedAt), actionMs);
    const first = fakes.states[0];
    assert.ok(first?.action !== undefined);
    assert.equal(timeOf(first.action.deadline) - timeOf(first.action.since), 20_000);
  });
});

describe('observation failures', () => {
  it('an observation that throws is logged; nothing is decided, done or written', async () => {
    const fakes = new LoopFakes({
      observe: () => {
        throw new Error('socket hang up');
      },
      loops: 2,
    });
    const summary = await run(fakes, host2);
    const eachLoop = (loop: number) => [
      `observe ${loop}`,
      'error observation failed: socket hang up',
    ];
    assert.deepEqual(fakes.journal, [...eachLoop(1), ...eachLoop(2)]);
    assert.equal(summary.lastDecision, undefined);
    assert.equal(fakes.states.length, 0);
  });

  it('an observation past its deadline is abandoned as failed, and the loop goes on', async () => {
    const deadline = observeDeadlineMs(config);
    const fakes = new LoopFakes({
      observe: async (loop, now, clock) => {
        if (loop === 1) await clock.sleep(10 * deadline);
        return primaryHealthy(now);
      },
      loops: 2,
    });
    await run(fakes, host1);
    assert.deepEqual(fakes.journal.slice(0, 4), [
      'observe 1',
      `error observation failed: the observation did not finish within ${deadline}ms`,
      'observe 2',
      'decision primary-healthy',
    ]);
  });

  it('a primary that has not observed for isolation_timeout demotes itself', async () => {
    const iso = config.failover.isolation_timeout;
    let firstAt = 0;
    const fakes: LoopFakes = new LoopFakes({
      observe: (loop, now) => {
        if (loop === 1) {
          firstAt = now;
          return primaryHealthy(now);
        }
        throw new Error('connect ETIMEDOUT');
      },
      act: () => {
        fakes.stop.abort();
        return {};
      },
      loops: 100,
    });
    await run(fakes, host1);
    const blind = fakes.logs.find((entry) => entry.rule === 'watchdog-blind-primary-demote');
    assert.equal(blind?.state, 'demoted');
    assert.equal(
      blind.reason,
      `host1 has not completed an observation for ${iso / 1000}s: a primary that cannot see whether it is isolated stops accepting writes`,
    );
    assert.equal(fakes.actCalls.length, 1);
    assert.deepEqual(fakes.actCalls[0]?.actions, [{ kind: 'demote', mode: 'fast' }]);
    // Not before isolation_timeout, and at the first failed loop past it.
    const demotedAfter = (fakes.actCalls[0]?.startedAt ?? 0) - firstAt;
    assert.ok(demotedAfter >= iso && demotedAfter < iso + config.heartbeat.interval);
    const decided = fakes.journal.indexOf('decision watchdog-blind-primary-demote');
    assert.deepEqual(fakes.journal.slice(decided - 1, decided + 2), [
      'error observation failed: connect ETIMEDOUT',
      'decision watchdog-blind-primary-demote',
      'act demote (fast)',
    ]);
  });

  it('a blind standby, or a dry run, has nothing to stop', async () => {
    for (const [node, dryRun] of [
      [host2, false],
      [host1, true],
    ] as const) {
      const fakes = new LoopFakes({
        observe: (loop, now) => {
          if (loop === 1) return node === host1 ? primaryHealthy(now) : standbyView({ now });
          throw new Error('connect ETIMEDOUT');
        },
        loops: 20,
      });
      await run(fakes, node, { dryRun });
      assert.equal(fakes.actCalls.length, 0, `${node.name} dry run ${dryRun}`);
      assert.ok(!fakes.journal.includes('decision watchdog-blind-primary-demote'));
    }
  });
});

describe('running actions', () => {
  it('a running action blocks a new set, except a demotion', async () => {
    const fakes = new LoopFakes({
      observe: (loop, now) => (loop < 3 ? primaryWithoutVip(now) : twoPrimaries(now)),
      act: (call) => (call === 1 ? { hang: true } : {}),
      loops: 3,
    });
    await run(fakes, host1);
    assert.ok(
      fakes.journal.includes(
        'action : take-vip primary not started: take-vip primary still running for 2s (deadline in 18s)',
      ),
      fakes.journal.join('\n'),
    );
    assert.deepEqual(
      fakes.actCalls.map((call) => call.actions),
      [[{ kind: 'take-vip', role: 'primary' }], [{ kind: 'demote', mode: 'fast' }]],
    );
    assert.equal(fakes.actCalls[0]?.endedAt, undefined, 'the first set still runs');
  });

  it('past its deadline a running set is abandoned, logged, and the new set starts', async () => {
    const fakes: LoopFakes = new LoopFakes({
      observe: (_loop, now) => primaryWithoutVip(now),
      act: (call) => {
        if (call === 1) return { hang: true };
        fakes.stop.abort();
        return {};
      },
      loops: 100,
    });
    await run(fakes, host1);
    assert.equal(fakes.actCalls.length, 2);
    const [first, second] = fakes.actCalls;
    assert.ok((second?.startedAt ?? 0) - (first?.startedAt ?? 0) >= 20_000);
    const abandoned = fakes.journal.filter((line) => line.includes('abandoned'));
    const seconds = Math.round(((second?.startedAt ?? 0) - (first?.startedAt ?? 0)) / 1000);
    assert.deepEqual(abandoned, [
      `error watchdog: abandoned take-vip primary, still running ${seconds}s after it started (past its deadline)`,
    ]);
    const notStarted = fakes.journal.filter((line) => line.includes('not started'));
    assert.ok(notStarted.length >= 5, 'the loops before the deadline waited');
  });
});

describe('dry run', () => {
  it('logs the actions it would take and does none', async () => {
    const fakes = new LoopFakes({ observe: (_loop, now) => primaryWithoutVip(now), loops: 2 });
    await run(fakes, host1, { dryRun: true });
    assert.equal(fakes.actCalls.length, 0);
    assert.match(fakes.logs[0]?.detail ?? '', /\(dry run: actions are logged, not done\)$/);
    assert.deepEqual(fakes.journal.slice(0, 4), [
      'observe 1',
      'decision primary-healthy',
      'action take-vip primary: dry run: not done',
      'state primary',
    ]);
    assert.ok(fakes.states.every((state) => state.action === undefined));
  });
});

describe('failed actions', () => {
  it('FENCE_FAILED says fence-failed until an action set succeeds; the error reaches the next observation', async () => {
    const fenceError = 'no fence level verified host1 off: ipmi: connect timeout';
    const fakes = new LoopFakes({
      observe: (_loop, now) => primaryGone(now),
      act: (call) => (call === 1 ? { fail: { code: 'FENCE_FAILED', detail: fenceError } } : {}),
      loops: 4,
    });
    await run(fakes, host2);
    // Loops 1-2 count misses; loops 3 and 4 promote.
    assert.equal(fakes.actCalls.length, 2);
    const byLoop = (loop: number) => fakes.states.filter((state) => state.loops === loop);
    const afterFailure = byLoop(3).at(-1);
    assert.equal(afterFailure?.state, 'fence-failed');
    assert.equal(afterFailure.reason, `${fenceError} (retried every loop)`);
    assert.equal(byLoop(4)[0]?.state, 'fence-failed', 'still said while the retry runs');
    assert.equal(fakes.observations[3]?.lastActionError, fenceError);
    assert.equal(fakes.observations[2]?.lastActionError, undefined);
    const afterSuccess = byLoop(4).at(-1);
    assert.equal(afterSuccess?.state, 'promoting');
    assert.doesNotMatch(afterSuccess.reason, /retried every loop|last action failed/);
    assert.ok(
      fakes.logs.some(
        (entry) =>
          entry.event === 'action' && entry.result === 'failed' && entry.detail === fenceError,
      ),
    );
  });

  it('another failure is appended to the reason until the next set succeeds', async () => {
    const fakes = new LoopFakes({
      observe: (_loop, now) => primaryWithoutVip(now),
      act: (call) => (call === 1 ? { fail: { detail: 'RTNETLINK answers: File exists' } } : {}),
      loops: 2,
    });
    await run(fakes, host1);
    const [, afterFailure] = fakes.states;
    assert.equal(afterFailure?.state, 'primary');
    assert.equal(
      afterFailure.reason,
      'host1 is the primary and healthy; host2 streaming (async); last action failed: RTNETLINK answers: File exists',
    );
    assert.equal(fakes.observations[1]?.lastActionError, 'RTNETLINK answers: File exists');
    assert.equal(
      fakes.states.at(-1)?.reason,
      'host1 is the primary and healthy; host2 streaming (async)',
    );
  });
});

describe('loop watchers (the health API view, the event hooks)', () => {
  const runWatched = (fakes: LoopFakes, watchers: LoopWatcher[]): Promise<LoopSummary> =>
    runSupervisor(
      config,
      host1,
      { once: false, dryRun: false, log: fakes.log, signal: fakes.stop.signal, watchers },
      fakes.deps,
    );

  it('hears each loop, its observation or why it failed, and each action set that ended', async () => {
    const fakes = new LoopFakes({
      observe: (loop, now) => {
        if (loop === 2) throw new Error('socket hang up');
        return loop === 1 ? primaryWithoutVip(now) : primaryHealthy(now);
      },
      act: () => ({ ms: 30 }),
      loops: 3,
    });
    const heard: string[] = [];
    await runWatched(fakes, [
      {
        name: 'recorder',
        loopEnded: (report) =>
          heard.push(
            `loop ${report.decision?.rule ?? '-'} ${report.observation === undefined ? (report.error ?? '') : 'observed'}`,
          ),
        actionsEnded: (report) =>
          heard.push(
            `actions ${report.decision.rule}: ${report.outcomes.map((o) => `${describeAction(o.action)} ${o.ok ? 'ok' : 'failed'}`).join(', ')} in ${report.endedAt - report.startedAt}ms`,
          ),
      },
    ]);
    assert.deepEqual(heard, [
      'loop primary-healthy observed',
      'actions primary-healthy: take-vip primary ok in 30ms',
      'loop - observation failed: socket hang up',
      'loop primary-healthy observed',
    ]);
  });

  it('a watcher that throws is logged once and dropped; the loop and the others go on', async () => {
    const fakes = new LoopFakes({ observe: (_loop, now) => primaryHealthy(now), loops: 3 });
    let healthyCalls = 0;
    const summary = await runWatched(fakes, [
      {
        name: 'broken watcher',
        loopEnded: () => {
          throw new Error('boom');
        },
      },
      { name: 'counter', loopEnded: () => (healthyCalls += 1) },
    ]);
    assert.equal(summary.loops, 3);
    assert.equal(healthyCalls, 3);
    const errors = fakes.logs.filter((entry) => entry.event === 'error');
    assert.deepEqual(
      errors.map((entry) => entry.detail),
      ['broken watcher failed and is no longer told of loops: boom'],
    );
  });
});

describe('a wake while a look is under way', () => {
  it('resolves that look’s signalDuringLook (its checks start again); a look without one never sees it resolve', async () => {
    const waker = new Waker();
    const seen: string[] = [];
    const fakes = new LoopFakes({
      loops: 2,
      observe: async (loop, now) => {
        const during = fakes.hints.at(-1)?.signalDuringLook;
        assert.ok(during !== undefined, 'each look gets a signalDuringLook');
        if (loop === 1) {
          waker.wake('the peer beacon is silent for 500ms');
          await during;
          seen.push('look 1 heard the wake');
        } else {
          const resolved = await Promise.race([during.then(() => true), Promise.resolve(false)]);
          seen.push(`look 2 resolved at once: ${String(resolved)}`);
        }
        return standbyView({ now });
      },
    });
    await run(fakes, host2, { waker });
    assert.deepEqual(seen, ['look 1 heard the wake', 'look 2 resolved at once: false']);
    // The wake also ends the pause: the second look follows at once and logs why.
    assert.ok(fakes.logs.some((entry) => entry.event === 'wake'));
  });
});
