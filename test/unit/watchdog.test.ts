// The supervisor watchdog's rules (supervisor/watchdog.ts), as tables.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConfigText } from '../../src/lib/config/load.js';
import { exampleConfig } from '../../src/lib/config/example.js';
import { describeActions } from '../../src/lib/supervisor/loop.js';
import { selfDemotionDeadlineMs } from '../../src/lib/supervisor/decide.js';
import type { Action, SupervisorStateName } from '../../src/lib/supervisor/types.js';
import {
  actionDeadlineMs,
  actionWaitMs,
  blindPrimaryDecision,
  blindPrimaryMustDemote,
  mayStart,
  reportedState,
  type ReportedState,
  type RunningActions,
} from '../../src/lib/supervisor/watchdog.js';

const loaded = await checkConfigText(exampleConfig, 'example.yaml');
if (loaded.config === undefined) throw new Error('example config invalid');
const config = loaded.config;

const running: RunningActions = {
  actions: [{ kind: 'rebuild' }],
  startedAt: 1000,
  deadlineAt: 61_000,
};

describe('mayStart', () => {
  const cases: {
    name: string;
    next: Action[];
    running: RunningActions | undefined;
    now: number;
    start: boolean;
    abandoned?: boolean;
    reason?: RegExp;
  }[] = [
    {
      name: 'nothing running',
      next: [{ kind: 'promote' }],
      running: undefined,
      now: 0,
      start: true,
    },
    {
      name: 'a second effect waits for the running one',
      next: [{ kind: 'take-vip', role: 'standby' }],
      running,
      now: 11_000,
      start: false,
      reason: /^take-vip standby not started: rebuild still running for 10s \(deadline in 50s\)$/,
    },
    {
      name: 'a demotion overtakes what runs',
      next: [
        { kind: 'drop-vip', role: 'primary' },
        { kind: 'demote', mode: 'fast' },
      ],
      running,
      now: 11_000,
      start: true,
      abandoned: false,
    },
    {
      name: 'past its deadline the running set is abandoned',
      next: [{ kind: 'start-standby' }],
      running,
      now: 61_000,
      start: true,
      abandoned: true,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const verdict = mayStart(c.next, c.running, c.now, describeActions);
      assert.equal(verdict.start, c.start);
      if (verdict.start) assert.equal(verdict.abandoned !== undefined, c.abandoned ?? false);
      else assert.match(verdict.reason, c.reason ?? /./);
    });
  }
});

describe('blindPrimaryMustDemote', () => {
  const iso = config.failover.isolation_timeout;
  const cases: [string, SupervisorStateName | undefined, number, boolean][] = [
    ['a primary blind for less than isolation_timeout keeps going', 'primary', iso - 1, false],
    ['a primary blind for isolation_timeout stops', 'primary', iso, true],
    ['a primary handing over counts as a primary', 'switchover', iso, true],
    ['a standby that cannot observe has nothing to stop', 'standby', 10 * iso, false],
    ['before the first decision there is no role to keep', undefined, 10 * iso, false],
  ];
  for (const [name, state, blindFor, expected] of cases) {
    it(name, () => {
      assert.equal(blindPrimaryMustDemote(state, 0, blindFor, config), expected);
    });
  }
});

describe('blindPrimaryDecision', () => {
  const iso = config.failover.isolation_timeout;
  it('a primary blind for isolation_timeout decides to stop, and says for how long', () => {
    assert.deepEqual(blindPrimaryDecision('host1', 'primary', 0, iso + 400, config), {
      state: 'demoted',
      rule: 'watchdog-blind-primary-demote',
      reason: `host1 has not completed an observation for ${Math.round((iso + 400) / 1000)}s: a primary that cannot see whether it is isolated stops accepting writes`,
      actions: [{ kind: 'demote', mode: 'fast' }],
    });
  });
  const cases: [string, SupervisorStateName | undefined, number][] = [
    ['a primary blind for less decides nothing', 'primary', iso - 1],
    ['a standby decides nothing', 'standby', 10 * iso],
    ['nothing before the first decision', undefined, 10 * iso],
  ];
  for (const [name, state, blindFor] of cases) {
    it(name, () => {
      assert.equal(blindPrimaryDecision('host1', state, 0, blindFor, config), undefined);
    });
  }
});

describe('reportedState', () => {
  const decision = { state: 'promoting', reason: 'primary host1 failed 3 checks' } as const;
  const cases: {
    name: string;
    decided?: SupervisorStateName;
    lastActionError: string | undefined;
    fenceFailed: boolean;
    expected: ReportedState;
  }[] = [
    {
      name: 'the decision as it is when the last action set succeeded',
      lastActionError: undefined,
      fenceFailed: false,
      expected: decision,
    },
    {
      name: 'a failed action is appended to the reason',
      lastActionError: 'pg_ctl: server did not start',
      fenceFailed: false,
      expected: {
        state: 'promoting',
        reason: 'primary host1 failed 3 checks; last action failed: pg_ctl: server did not start',
      },
    },
    {
      name: 'no fence level verified: fence-failed, whatever was decided',
      lastActionError: 'no fence level verified host1 off',
      fenceFailed: true,
      expected: {
        state: 'fence-failed',
        reason: 'no fence level verified host1 off (retried every loop)',
      },
    },
    {
      name: 'a paused decision is still fence-failed while the fence failure stands',
      decided: 'paused',
      lastActionError: 'no fence level verified host1 off',
      fenceFailed: true,
      expected: {
        state: 'fence-failed',
        reason: 'no fence level verified host1 off (retried every loop)',
      },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const shown = { ...decision, state: c.decided ?? decision.state };
      assert.deepEqual(reportedState(shown, c.lastActionError, c.fenceFailed), c.expected);
    });
  }
});

describe('deadlines', () => {
  it('a loop waits for its actions no longer than the slack the self-demotion deadline allows it', () => {
    // selfDemotionDeadlineMs allows two intervals and two timeouts of loop time.
    const slack = selfDemotionDeadlineMs(config) - config.failover.isolation_timeout - 5000;
    assert.ok(actionWaitMs(config) * 2 <= slack);
  });

  it('every action has a deadline above the deadlines of the programs it runs', () => {
    const kinds: Action[] = [
      { kind: 'start-standby' },
      { kind: 'take-vip', role: 'primary' },
      { kind: 'drop-vip', role: 'primary' },
      { kind: 'promote' },
      { kind: 'demote', mode: 'fast' },
      { kind: 'rebuild' },
      { kind: 'set-sync' },
      { kind: 'set-async', recordDegrade: false },
      { kind: 'hand-over' },
    ];
    for (const action of kinds) assert.ok(actionDeadlineMs(action, config) >= 20_000, action.kind);
    // pg_ctl start runs with -t 60 and a 5 s margin (server-control.ts).
    assert.ok(actionDeadlineMs({ kind: 'start-standby' }, config) > 65_000);
  });

  it("a promotion's deadline makes room for hooks.pre_promote's whole timeout", () => {
    const withHook: typeof config = {
      ...config,
      hooks: {
        ...config.hooks,
        pre_promote: { command: { path: '/usr/local/bin/ask', args: [] }, timeout: 30_000 },
      },
    };
    assert.equal(
      actionDeadlineMs({ kind: 'promote' }, withHook) -
        actionDeadlineMs({ kind: 'promote' }, config),
      30_000,
    );
  });
});
