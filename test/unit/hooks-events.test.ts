// Which hook events a sequence of loop and action-set reports means (src/lib/hooks/events.ts):
// one named story per row, fed report by report, with the events it must yield and no others.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  actionEvents,
  failoverBlockingRules,
  initialEventMemory,
  loopEvents,
  type EventMemory,
  type HookEvent,
} from '../../src/lib/hooks/events.js';
import type { ActionOutcome, FenceEffect } from '../../src/lib/supervisor/act.js';
import { rules } from '../../src/lib/supervisor/decide.js';
import type { ActionsReport, LoopReport } from '../../src/lib/supervisor/loop.js';
import {
  initialMemory,
  type Action,
  type Decision,
  type Observation,
  type SupervisorStateName,
} from '../../src/lib/supervisor/types.js';
import { NOW, primaryView, standbyView } from '../support/observations.js';

const decision = (state: SupervisorStateName, rule: string): Decision => ({
  state,
  rule,
  reason: `${rule} happened`,
  actions: [],
  memory: initialMemory,
});

type Report = { loop: LoopReport } | { actions: ActionsReport };

/** One loop that decided `state` by `rule` over the observation (a healthy standby's view). */
function loopReport(
  state: SupervisorStateName,
  rule: string,
  observation?: Observation,
): LoopReport {
  return {
    startedAt: NOW,
    endedAt: NOW + 10,
    observation: observation ?? standbyView(),
    decision: decision(state, rule),
  };
}

function loop(state: SupervisorStateName, rule: string, observation?: Observation): Report {
  return { loop: loopReport(state, rule, observation) };
}

/** One action set's outcomes: each [action, ok, extra outcome fields]. */
function actions(...outcomes: [Action, boolean, Partial<ActionOutcome>?][]): Report {
  return {
    actions: {
      decision: decision('promoting', 'standby-promote'),
      startedAt: NOW,
      endedAt: NOW + 20,
      outcomes: outcomes.map(([action, ok, extra]) => ({
        action,
        ok,
        ms: 5,
        detail: `${action.kind} ${ok ? 'done' : 'failed'}`,
        ...extra,
      })),
    },
  };
}

const fenced = (effect: FenceEffect): [Action, boolean, Partial<ActionOutcome>] => [
  { kind: 'fence-peer' },
  true,
  { fence: effect },
];
const promoted = (timeline: number): [Action, boolean, Partial<ActionOutcome>] => [
  { kind: 'promote' },
  true,
  { timeline },
];

const withFlag = (startedAt: number): Observation =>
  standbyView({
    local: {
      switchover: { to: 'host2', by: 'ops', startedAt, timeoutMs: 60_000, phase: 'prepare' },
    },
  });
const down = standbyView({ local: { running: false, answering: false, role: undefined } });

/** Feeds the reports in order; returns every event as "event detail role [timeline]". */
function run(reports: Report[]): string[] {
  let memory: EventMemory = initialEventMemory;
  const all: HookEvent[] = [];
  for (const report of reports) {
    const derived =
      'loop' in report ? loopEvents(memory, report.loop) : actionEvents(memory, report.actions);
    memory = derived.memory;
    all.push(...derived.events);
  }
  return all.map(
    (e) =>
      `${e.event} ${e.detail} ${e.role}${e.timeline === undefined ? '' : ` tl${String(e.timeline)}`}`,
  );
}

const cases: { name: string; reports: Report[]; events: string[] }[] = [
  {
    name: 'the first role since start is no change',
    reports: [loop('primary', 'primary-healthy', primaryView())],
    events: [],
  },
  {
    name: 'the same role loop after loop: nothing',
    reports: [loop('standby', 'standby-following'), loop('standby', 'standby-following')],
    events: [],
  },
  {
    name: 'a failover: fence (powered off) and promote, then the role change once',
    reports: [
      loop('standby', 'standby-following'),
      loop('standby', 'standby-suspect'),
      loop('promoting', 'standby-promote'),
      actions(fenced('powered-off'), promoted(2), [{ kind: 'take-vip', role: 'primary' }, true]),
      loop('primary', 'primary-healthy', primaryView({ local: { timeline: 2 } })),
      loop('primary', 'primary-healthy', primaryView({ local: { timeline: 2 } })),
    ],
    events: [
      'fence powered-off standby tl1',
      'promote powered-off primary tl2',
      'role_change standby-to-primary primary tl2',
    ],
  },
  {
    name: 'the fence found the old primary off: on_fence says so',
    reports: [loop('standby', 'standby-following'), actions(fenced('already-off'), promoted(3))],
    events: ['fence already-off standby tl1', 'promote already-off primary tl3'],
  },
  {
    name: 'no fence needed (the peer answered as a standby): promote only',
    reports: [loop('standby', 'standby-following'), actions(fenced('not-needed'), promoted(2))],
    events: ['promote not-needed primary tl2'],
  },
  {
    name: 'already the primary: no fence, no promote',
    reports: [actions(fenced('already-primary'), promoted(2))],
    events: [],
  },
  {
    name: 'a primary demotes itself: demote, then the role change',
    reports: [
      loop('primary', 'primary-healthy', primaryView()),
      actions(
        [{ kind: 'drop-vip', role: 'primary' }, true],
        [{ kind: 'demote', mode: 'fast' }, true],
      ),
      loop('demoted', 'primary-isolated-demote', down),
    ],
    events: ['demote fast demoted tl1', 'role_change primary-to-demoted demoted tl1'],
  },
  {
    name: 'rejoin by rebuild: through rejoining (no role) to standby',
    reports: [
      loop('demoted', 'down-isolated-stay-down', down),
      loop('rejoining', 'down-diverged-rejoin', down),
      actions([{ kind: 'rebuild' }, true]),
      loop('standby', 'standby-following', standbyView({ local: { timeline: 2 } })),
    ],
    events: ['rejoin rebuild standby', 'role_change demoted-to-standby standby tl2'],
  },
  {
    name: 'a start as a standby is a rejoin; a failed one is not',
    reports: [
      actions([{ kind: 'start-standby' }, false]),
      actions([{ kind: 'start-standby' }, true]),
    ],
    events: ['rejoin start standby'],
  },
  {
    name: 'failover blocked by lag: once per episode, again after the primary came back',
    reports: [
      loop('standby', 'standby-lag-too-high'),
      loop('standby', 'standby-lag-too-high'),
      loop('standby', 'standby-following'),
      loop('standby', 'standby-lag-too-high'),
    ],
    events: [
      'failover_blocked standby-lag-too-high standby tl1',
      'failover_blocked standby-lag-too-high standby tl1',
    ],
  },
  {
    name: 'state blocked (auto_rejoin off) is failover blocked',
    reports: [loop('blocked', 'down-diverged-blocked', down)],
    events: ['failover_blocked down-diverged-blocked unknown'],
  },
  {
    name: 'a fence that fails, retried: one episode until the promotion succeeds',
    reports: [
      loop('standby', 'standby-following'),
      loop('promoting', 'standby-promote'),
      actions([{ kind: 'fence-peer' }, false, { code: 'FENCE_FAILED' }]),
      loop('promoting', 'standby-promote'),
      actions([{ kind: 'fence-peer' }, false, { code: 'FENCE_FAILED' }]),
      loop('promoting', 'standby-promote'),
      actions(fenced('powered-off'), promoted(2)),
    ],
    events: [
      'failover_blocked fence-peer-failed standby tl1',
      'fence powered-off standby tl1',
      'promote powered-off primary tl2',
    ],
  },
  {
    name: 'a vetoed promotion (pre_promote) is failover blocked',
    reports: [
      loop('standby', 'standby-following'),
      actions(fenced('powered-off'), [{ kind: 'promote' }, false, { code: 'REFUSED' }]),
    ],
    events: ['fence powered-off standby tl1', 'failover_blocked promote-failed standby tl1'],
  },
  {
    name: 'switchover on the new primary: started once per flag, finished when it is gone',
    reports: [
      loop('standby', 'standby-following'),
      loop('switchover', 'switchover-stand-aside', withFlag(7)),
      loop('switchover', 'switchover-stand-aside', withFlag(7)),
      loop('primary', 'primary-healthy', primaryView({ local: { timeline: 2 } })),
    ],
    events: [
      'switchover started standby tl1',
      'switchover finished primary tl2',
      'role_change standby-to-primary primary tl2',
    ].sort(),
  },
  {
    name: 'switchover on the old primary: started, handed over; a down server does not end it',
    reports: [
      loop('primary', 'primary-healthy', primaryView()),
      loop('switchover', 'switchover-hand-over', withFlag(7)),
      actions([{ kind: 'hand-over' }, true]),
      loop('starting', 'down-start-standby', down),
      loop('switchover', 'switchover-stand-aside', withFlag(7)),
      loop('standby', 'standby-following', standbyView({ local: { timeline: 2 } })),
    ],
    events: [
      'switchover started primary tl1',
      'switchover handed-over standby tl1',
      'switchover finished standby tl2',
      'role_change primary-to-standby standby tl2',
    ].sort(),
  },
  {
    name: 'a failed observation with no decision tells nothing',
    reports: [{ loop: { startedAt: NOW, endedAt: NOW + 1, error: 'observation failed' } }],
    events: [],
  },
];

describe('hook events from the loop reports', () => {
  for (const { name, reports, events } of cases) {
    it(name, () => {
      const got = run(reports);
      // Switchover stories compare as sets: two events of one loop have no order.
      assert.deepEqual(name.startsWith('switchover') ? got.sort() : got, events);
    });
  }

  it('each failover-blocking rule is a rule of the failover table', () => {
    const names = new Set(rules.map((rule) => rule.name));
    assert.deepEqual(
      failoverBlockingRules.filter((rule) => !names.has(rule)),
      [],
    );
  });

  it('an event carries the decision behind it and the report time', () => {
    const [event] = loopEvents(
      { role: 'standby', blocked: false },
      loopReport('primary', 'primary-healthy', primaryView()),
    ).events;
    assert.deepEqual(
      { ...event },
      {
        event: 'role_change',
        role: 'primary',
        previousRole: 'standby',
        detail: 'standby-to-primary',
        state: 'primary',
        rule: 'primary-healthy',
        reason: 'primary-healthy happened',
        at: NOW + 10,
        timeline: 1,
      },
    );
  });
});
