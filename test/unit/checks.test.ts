// The pure halves of the checks: what state and text each observation gives.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateAlive, type AliveObservation } from '../../src/lib/checks/alive.js';
import { evaluateLag, type LagObservation, type LagThresholds } from '../../src/lib/checks/lag.js';
import {
  requireOrdered,
  secondsThreshold,
  sizeThreshold,
} from '../../src/lib/checks/thresholds.js';
import { parseProbeTarget } from '../../src/lib/checks/probe.js';
import type { SupervisorState } from '../../src/lib/supervisor/state-file.js';

const MiB = 1024 * 1024;
const thresholds: LagThresholds = {
  warningBytes: sizeThreshold('-w', '8MB'),
  criticalBytes: sizeThreshold('-c', '16MB'),
  warningSeconds: secondsThreshold('--warning-time', '10'),
  criticalSeconds: secondsThreshold('--critical-time', '60'),
};

const onPrimary = (
  standby?: Partial<NonNullable<Extract<LagObservation, { view: 'primary' }>['standby']>>,
): LagObservation => ({
  view: 'primary',
  node: 'host1',
  peer: 'host2',
  standby:
    standby === undefined
      ? undefined
      : {
          state: 'streaming',
          replayLagBytes: 0,
          flushLagBytes: 0,
          replayLagSeconds: undefined,
          ...standby,
        },
});

const onStandby = (
  changes: Partial<Extract<LagObservation, { view: 'standby' }>> = {},
): LagObservation => ({
  view: 'standby',
  node: 'host2',
  peer: 'host1',
  receiverStatus: 'streaming',
  receiveLsn: '0/3000000',
  replayLsn: '0/3000000',
  replayPaused: false,
  heartbeatAgeSeconds: 0.4,
  heartbeatError: undefined,
  ...changes,
});

describe('evaluateLag', () => {
  const cases: {
    name: string;
    observation: LagObservation;
    state: string;
    text: RegExp;
    perf?: RegExp;
  }[] = [
    {
      name: 'idle caught-up pair (replay_lag NULL counts as 0s)',
      observation: onPrimary({}),
      state: 'ok',
      text: /standby host2 is 0B \(0s\) behind primary host1/,
      perf: /^lag_bytes=0B;8388608;16777216;0 lag_seconds=0s;10;60;0$/,
    },
    {
      name: 'bytes over warning',
      observation: onPrimary({ replayLagBytes: 9 * MiB, replayLagSeconds: 1 }),
      state: 'warning',
      text: /9MiB \(1s\) behind/,
    },
    {
      name: 'bytes over critical',
      observation: onPrimary({ replayLagBytes: 17 * MiB, replayLagSeconds: 1 }),
      state: 'critical',
      text: /17MiB/,
    },
    {
      name: 'seconds over critical with small bytes',
      observation: onPrimary({ replayLagBytes: 100, replayLagSeconds: 61 }),
      state: 'critical',
      text: /100B \(61s\)/,
    },
    {
      name: 'no standby connected',
      observation: onPrimary(),
      state: 'critical',
      text: /no standby is connected to primary host1 \(expected host2\)/,
      perf: /^lag_bytes=U;/,
    },
    {
      name: 'standby catching up',
      observation: onPrimary({ state: 'catchup', replayLagBytes: MiB }),
      state: 'warning',
      text: /is catchup, 1MiB behind/,
    },
    {
      name: 'position not reported yet',
      observation: onPrimary({ replayLagBytes: undefined, flushLagBytes: undefined }),
      state: 'ok',
      text: /has not reported its position yet/,
      perf: /lag_bytes=U;/,
    },
    {
      name: 'replay lag unknown but flush known',
      observation: onPrimary({ replayLagBytes: undefined, flushLagBytes: 2 * MiB }),
      state: 'ok',
      text: /2MiB behind/,
      perf: /lag_seconds=U;/,
    },
    {
      name: 'healthy standby view',
      observation: onStandby(),
      state: 'ok',
      text: /standby host2 has 0B received but not replayed, last heartbeat 0\.4s ago$/,
    },
    {
      name: 'standby replay backlog over warning',
      observation: onStandby({ receiveLsn: '0/3A00000' }),
      state: 'warning',
      text: /10MiB received but not replayed/,
    },
    {
      name: 'standby paused with an old heartbeat',
      observation: onStandby({ replayPaused: true, heartbeatAgeSeconds: 30 }),
      state: 'warning',
      text: /replay is paused/,
    },
    {
      name: 'standby not streaming',
      observation: onStandby({ receiverStatus: 'waiting' }),
      state: 'critical',
      text: /standby host2 is not streaming from host1 \(wal receiver: waiting\)/,
    },
    {
      name: 'standby without WAL receiver',
      observation: onStandby({ receiverStatus: undefined }),
      state: 'critical',
      text: /wal receiver: not running/,
    },
    {
      name: 'standby without heartbeat',
      observation: onStandby({
        heartbeatAgeSeconds: undefined,
        heartbeatError: 'heartbeat table missing',
      }),
      state: 'ok',
      text: /no heartbeat: heartbeat table missing/,
      perf: /lag_seconds=U;/,
    },
  ];
  for (const { name, observation, state, text, perf } of cases) {
    it(name, () => {
      const outcome = evaluateLag(observation, thresholds);
      assert.equal(outcome.state, state);
      assert.match(outcome.text, text);
      if (perf) assert.match(outcome.perfdata, perf);
    });
  }
});

describe('threshold flags', () => {
  it('refuse a warning above the critical for upper bounds', () => {
    assert.throws(() => {
      requireOrdered('-w', sizeThreshold('-w', '32MB'), '-c', sizeThreshold('-c', '16MB'));
    }, /-w 32MB is above -c 16MB/);
  });
  it('accept the reverse order, and ranges where order is not comparable', () => {
    requireOrdered('-w', sizeThreshold('-w', '8MB'), '-c', sizeThreshold('-c', '16MB'));
    requireOrdered('-w', sizeThreshold('-w', '@1MB:2MB'), '-c', sizeThreshold('-c', '1MB'));
  });
  it('name the flag in a parse error', () => {
    assert.throws(() => sizeThreshold('--warning', 'abc'), /--warning: "abc" is not a range/);
  });
});

describe('evaluateAlive', () => {
  const state: SupervisorState = {
    version: 1,
    cluster: 'c',
    node: 'host1',
    pid: 42,
    pidStartTicks: 7,
    startedAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    loops: 3,
    state: 'standby',
    reason: 'following host1',
    paused: false,
  };
  const base: AliveObservation = {
    path: '/run/x.json',
    state,
    processRunning: true,
    ageSeconds: 1,
    nowMs: Date.parse('2026-01-01T00:00:01Z'),
  };
  const promoting = {
    name: 'promote, take-vip primary',
    since: '2026-01-01T00:00:00Z',
    deadline: '2026-01-01T00:01:40Z',
  };
  const cases: { name: string; observation: AliveObservation; expected: string; text: RegExp }[] = [
    {
      name: 'fresh and running',
      observation: base,
      expected: 'ok',
      text: /supervisor pid 42 standby, updated 1\.0s ago: following host1/,
    },
    {
      name: 'no file',
      observation: { ...base, state: undefined, ageSeconds: undefined },
      expected: 'critical',
      text: /no supervisor state file at \/run\/x\.json/,
    },
    {
      name: 'dead process',
      observation: { ...base, processRunning: false },
      expected: 'critical',
      text: /pid 42 is not running/,
    },
    {
      name: 'stale',
      observation: { ...base, ageSeconds: 4 },
      expected: 'critical',
      text: /4\.0s old \(max 3s\): its loop is stuck$/,
    },
    {
      name: 'stale while an action runs: says which',
      observation: {
        ...base,
        ageSeconds: 9,
        nowMs: Date.parse('2026-01-01T00:00:09Z'),
        state: { ...state, action: promoting },
      },
      expected: 'critical',
      text: /9\.0s old \(max 3s\): its loop is stuck in promote, take-vip primary \(running 9\.0s\)/,
    },
    {
      name: 'an action within its deadline, the loop going on',
      observation: { ...base, state: { ...state, action: promoting } },
      expected: 'ok',
      text: /updated 1\.0s ago in promote, take-vip primary \(running 1\.0s\): following host1/,
    },
    {
      name: 'an action past its deadline',
      observation: {
        ...base,
        nowMs: Date.parse('2026-01-01T00:02:00Z'),
        state: { ...state, action: promoting },
      },
      expected: 'critical',
      text: /promote, take-vip primary has run 120\.0s, past its deadline/,
    },
    {
      name: 'paused',
      observation: { ...base, state: { ...state, paused: true } },
      expected: 'warning',
      text: /^cluster paused; /,
    },
    {
      name: 'blocked',
      observation: { ...base, state: { ...state, state: 'blocked' } },
      expected: 'critical',
      text: /^node needs an operator; /,
    },
  ];
  for (const { name, observation, expected, text } of cases) {
    it(name, () => {
      const outcome = evaluateAlive(observation, 3);
      assert.equal(outcome.state, expected);
      assert.match(outcome.text, text);
    });
  }
});

describe('parseProbeTarget', () => {
  const cases: [string, unknown][] = [
    ['10.0.0.1:5432', { kind: 'address', host: '10.0.0.1', port: 5432 }],
    ['db.example:6432', { kind: 'address', host: 'db.example', port: 6432 }],
    ['[::1]:5432', { kind: 'address', host: '::1', port: 5432 }],
    ['host1', { kind: 'node', name: 'host1' }],
    ['vip:primary', { kind: 'vip', role: 'primary' }],
    ['vip:standby', { kind: 'vip', role: 'standby' }],
  ];
  for (const [text, expected] of cases) {
    it(text, () => {
      assert.deepEqual(parseProbeTarget(text), expected);
    });
  }
  for (const [text, message] of [
    ['vip:other', /unknown VIP "other"/],
    ['10.0.0.1', /has no port/],
    ['h:99999', /out of range/],
    ['::1', /has no port/],
  ] as const) {
    it(`refuses ${text}`, () => {
      assert.throws(() => parseProbeTarget(text), message);
    });
  }
});
