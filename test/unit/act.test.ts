// act() with recording fakes for every outside effect: the order a set runs in, the first
// failure ending it, and the fence-peer → promote hand-off, without root or PostgreSQL.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dadAfterFenceMs, type PromotionClearance } from '../../src/lib/actions/promote.js';
import { SkypgError } from '../../src/lib/common/errors.js';
import { exampleConfig } from '../../src/lib/config/example.js';
import { checkConfigText } from '../../src/lib/config/load.js';
import type { ClusterConfig } from '../../src/lib/config/types.js';
import { act, type ActDeps } from '../../src/lib/supervisor/act.js';
import { decide } from '../../src/lib/supervisor/decide.js';
import type { Action } from '../../src/lib/supervisor/types.js';
import { NOW, standbyView } from '../support/observations.js';

const loaded = await checkConfigText(exampleConfig, 'example.yaml');
if (loaded.config === undefined) throw new Error('example config invalid');
const config: ClusterConfig = loaded.config;
const host2 = config.nodes[1];
if (host2 === undefined) throw new Error('the example has two nodes');

/** A clearance as clearOldPrimary returns it, after fencing the old primary (or not). */
function clearance(
  fenced: boolean,
  shape: { fenceSaid?: string; foundOff?: boolean; alreadyPrimary?: boolean } = {},
): PromotionClearance {
  return {
    result: {
      node: 'host2',
      dryRun: false,
      alreadyPrimary: shape.alreadyPrimary ?? false,
      preconditions: [{ check: 'host1 cannot write', ok: true, detail: 'fenced' }],
      steps: fenced
        ? [
            {
              step: 'fence host1 (power off, verified)',
              ms: 400,
              ...(shape.fenceSaid === undefined ? {} : { detail: shape.fenceSaid }),
            },
          ]
        : [],
      warnings: [],
    },
    timed: async (_step, work) => work(),
    oldPrimaryOff: fenced || (shape.foundOff ?? false),
    fenced,
  };
}

/** Fakes that record each call (name and what it was given); `fail` makes one of them throw. */
function recordingDeps(
  options: {
    fenced?: boolean;
    given?: PromotionClearance;
    fail?: { call: string; error: Error };
    /** What pre_promote answers when it allows (undefined: none is configured). */
    prePromoteSays?: string;
  } = {},
) {
  const calls: { call: string; args: unknown[] }[] = [];
  const given = options.given ?? clearance(options.fenced ?? true);
  const record = async <T>(call: string, args: unknown[], value: T): Promise<T> => {
    calls.push({ call, args });
    if (options.fail?.call === call) throw options.fail.error;
    return Promise.resolve(value);
  };
  const deps: ActDeps = {
    clearOldPrimary: (_config, node, clearOptions) =>
      record('clearOldPrimary', [node.name, clearOptions], given),
    promoteHere: (_config, node, cleared) => record('promoteHere', [node.name, cleared], 2),
    vipUp: (_config, role, vipOptions) => record('vipUp', [role, vipOptions], { changed: true }),
    vipDown: (_config, role) => record('vipDown', [role], { changed: true }),
    startStandby: (_config, node) => record('startStandby', [node.name], 'started'),
    restartPrimary: (node) => record('restartPrimary', [node.name], 'restarted'),
    demote: (node, mode) => record('demote', [node.name, mode], 'stopped'),
    handOver: (_config, node) => record('handOver', [node.name], 'handed over'),
    rebuild: (_config, node) => record('rebuild', [node.name], 'rebuilt'),
    setSync: (_config, node) => record('setSync', [node.name], 'sync on'),
    setAsync: (_config, node, degrade) => record('setAsync', [node.name, degrade], 'async'),
    // Unless a test configures one, pre_promote is absent: its dep answers undefined, unrecorded.
    prePromote: (_config, node, context) =>
      options.prePromoteSays === undefined && options.fail?.call !== 'prePromote'
        ? Promise.resolve(undefined)
        : record('prePromote', [node.name, context], options.prePromoteSays),
  };
  return { deps, calls, given };
}

const promotionSet: Action[] = [
  { kind: 'fence-peer' },
  { kind: 'promote' },
  { kind: 'drop-vip', role: 'standby' },
  { kind: 'take-vip', role: 'primary' },
];

describe('act(): a promotion set, with recording fakes', () => {
  it('runs fence-peer, promote, drop the standby VIP, take the primary VIP, in that order', async () => {
    const { deps, calls } = recordingDeps();
    const outcomes = await act(config, host2, promotionSet, deps);
    assert.deepEqual(
      calls.map((c) => c.call),
      ['clearOldPrimary', 'promoteHere', 'vipDown', 'vipUp'],
    );
    assert.deepEqual(
      outcomes.map((o) => o.ok),
      [true, true, true, true],
    );
    assert.match(
      outcomes[0]?.detail ?? '',
      /host1 fenced .*steps: fence host1 \(power off, verified\) 400ms/,
    );
    assert.match(outcomes[1]?.detail ?? '', /^promoted host2 to timeline 2/);
  });

  it('hands promote the clearance fence-peer gave, the same object', async () => {
    const { deps, calls, given } = recordingDeps();
    await act(config, host2, promotionSet, deps);
    const promoted = calls.find((c) => c.call === 'promoteHere');
    assert.equal(promoted?.args[1], given);
  });

  it('after a verified fence the primary VIP check listens briefly; without one, the configured time', async () => {
    const fenced = recordingDeps({ fenced: true });
    await act(config, host2, promotionSet, fenced.deps);
    assert.deepEqual(fenced.calls.find((c) => c.call === 'vipUp')?.args, [
      'primary',
      { dadTimeoutMs: dadAfterFenceMs },
    ]);
    const notFenced = recordingDeps({ fenced: false });
    await act(config, host2, promotionSet, notFenced.deps);
    assert.deepEqual(notFenced.calls.find((c) => c.call === 'vipUp')?.args, ['primary', {}]);
  });

  it('a failed fence ends the set: nothing is promoted, no VIP moves, the code reaches the loop', async () => {
    const { deps, calls } = recordingDeps({
      fail: {
        call: 'clearOldPrimary',
        error: new SkypgError('FENCE_FAILED', 'not promoting host2: no fence level answered'),
      },
    });
    const outcomes = await act(config, host2, promotionSet, deps);
    assert.deepEqual(
      calls.map((c) => c.call),
      ['clearOldPrimary'],
    );
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]?.ok, false);
    assert.equal(outcomes[0]?.code, 'FENCE_FAILED');
    assert.match(outcomes[0]?.detail ?? '', /no fence level answered/);
  });

  it('a failed pg_promote() leaves the VIPs where they are', async () => {
    const { deps, calls } = recordingDeps({
      fail: { call: 'promoteHere', error: new SkypgError('PARTIAL', 'pg_promote() failed') },
    });
    const outcomes = await act(config, host2, promotionSet, deps);
    assert.deepEqual(
      calls.map((c) => c.call),
      ['clearOldPrimary', 'promoteHere'],
    );
    assert.equal(outcomes.at(-1)?.code, 'PARTIAL');
  });

  it('refuses a promote without a fence-peer before it in the same set', async () => {
    const { deps, calls } = recordingDeps();
    const outcomes = await act(config, host2, [{ kind: 'promote' }], deps);
    assert.deepEqual(calls, []);
    assert.equal(outcomes[0]?.ok, false);
    assert.equal(outcomes[0]?.code, 'INTERNAL');
  });
});

describe('act(): hooks.pre_promote between fence-peer and pg_promote()', () => {
  it('is asked after the fence and before pg_promote(), told how the old primary was cleared', async () => {
    const { deps, calls } = recordingDeps({ prePromoteSays: 'allowed: ok by the DBA' });
    const outcomes = await act(config, host2, promotionSet, deps);
    assert.deepEqual(
      calls.map((c) => c.call),
      ['clearOldPrimary', 'prePromote', 'promoteHere', 'vipDown', 'vipUp'],
    );
    const asked = calls.find((c) => c.call === 'prePromote')?.args[1] as
      { fence: string; reason: string } | undefined;
    assert.equal(asked?.fence, 'powered-off');
    assert.match(asked?.reason ?? '', /^host1 fenced \(power off, verified\)/);
    assert.match(
      outcomes[1]?.detail ?? '',
      /^promoted host2 to timeline 2 \(steps: pre_promote hook \d+ms\)/,
    );
  });

  it('a veto ends the set before pg_promote(): no promotion, no VIP moves, REFUSED reaches the loop', async () => {
    const { deps, calls } = recordingDeps({
      fail: {
        call: 'prePromote',
        error: new SkypgError('REFUSED', 'hooks.pre_promote /x vetoed promoting host2 (exit 3)'),
      },
    });
    const outcomes = await act(config, host2, promotionSet, deps);
    assert.deepEqual(
      calls.map((c) => c.call),
      ['clearOldPrimary', 'prePromote'],
    );
    assert.deepEqual(
      outcomes.map((o) => [o.action.kind, o.ok, o.code]),
      [
        ['fence-peer', true, undefined],
        ['promote', false, 'REFUSED'],
      ],
    );
    assert.match(outcomes[1]?.detail ?? '', /vetoed promoting host2/);
  });

  it('without a pre_promote hook the promotion lists no such step', async () => {
    const { deps } = recordingDeps();
    const outcomes = await act(config, host2, promotionSet, deps);
    assert.doesNotMatch(outcomes[1]?.detail ?? '', /pre_promote/);
  });

  it('is not asked when this node is already the primary', async () => {
    const { deps, calls } = recordingDeps({
      given: clearance(false, { alreadyPrimary: true }),
      prePromoteSays: 'allowed',
    });
    await act(config, host2, promotionSet, deps);
    assert.ok(!calls.some((c) => c.call === 'prePromote'));
  });
});

describe('act(): what fence-peer and promote tell the event hooks', () => {
  const cases: { name: string; given: PromotionClearance; fence: string }[] = [
    { name: 'fenced: powered off', given: clearance(true), fence: 'powered-off' },
    {
      name: 'the fence found it off',
      given: clearance(true, { fenceSaid: 'was already off' }),
      fence: 'already-off',
    },
    {
      name: 'the fence device said off, no fence run',
      given: clearance(false, { foundOff: true }),
      fence: 'already-off',
    },
    { name: 'no fence needed', given: clearance(false), fence: 'not-needed' },
    {
      name: 'already the primary',
      given: clearance(false, { alreadyPrimary: true }),
      fence: 'already-primary',
    },
  ];
  for (const { name, given, fence } of cases) {
    it(`${name}: fence ${fence}`, async () => {
      const { deps } = recordingDeps({ given });
      const outcomes = await act(config, host2, promotionSet, deps);
      assert.equal(outcomes[0]?.fence, fence);
      assert.equal(outcomes[1]?.timeline, 2);
      assert.equal(outcomes[2]?.fence, undefined);
    });
  }
});

describe('decide() then act(): the set the policy chooses is the one carried out', () => {
  it('a primary gone for the third check: fence, promote, then the VIPs', async () => {
    const obs = standbyView({
      peerServer: { answering: false, role: undefined, timeline: undefined, lsn: undefined },
      primaryVip: { answeredByOtherPrimary: false, heldElsewhere: false },
      local: { receiver: undefined },
    });
    const decision = decide(
      obs,
      {
        state: 'standby',
        misses: 2,
        lastHeartbeatValue: 500_000,
        primaryLastAliveAt: NOW - 1000,
      },
      config,
    );
    assert.equal(decision.rule, 'standby-promote');
    const { deps, calls } = recordingDeps();
    await act(config, host2, decision.actions, deps);
    // The peer answered nothing in that observation: fence-peer is told so (a powered-on peer
    // then gets only a moment to answer as a standby).
    assert.deepEqual(calls[0]?.args[1], { peerUnanswered: true });
    assert.deepEqual(
      calls.map((c) => [c.call, ...c.args.filter((arg) => typeof arg === 'string')]),
      [
        ['clearOldPrimary', 'host2'],
        ['promoteHere', 'host2'],
        ['vipDown', 'standby'],
        ['vipUp', 'primary'],
      ],
    );
  });

  it('other effects go to their own fake: start, demote, hand-over, rebuild, sync settings', async () => {
    const { deps, calls } = recordingDeps();
    await act(
      config,
      host2,
      [
        { kind: 'start-standby' },
        { kind: 'demote', mode: 'kill' },
        { kind: 'hand-over' },
        { kind: 'rebuild' },
        { kind: 'set-sync' },
        { kind: 'set-async', recordDegrade: true },
      ],
      deps,
    );
    assert.deepEqual(
      calls.map((c) => [c.call, ...c.args]),
      [
        ['startStandby', 'host2'],
        ['demote', 'host2', 'kill'],
        ['handOver', 'host2'],
        ['rebuild', 'host2'],
        ['setSync', 'host2'],
        ['setAsync', 'host2', true],
      ],
    );
  });
});
