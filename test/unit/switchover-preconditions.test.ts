// judgeSwitchover: the switchover's preconditions over gathered facts, one named case a row.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  judgeSwitchover,
  standAsideMarginMs,
  switchoverMaxLag,
  type SwitchoverFacts,
} from '../../src/lib/failover/switchover-preconditions.js';

const NOW = 1_000_000;

/** Facts under which a switchover from host1 to host2 goes on; each case changes one thing. */
function facts(changes: Partial<SwitchoverFacts> = {}): SwitchoverFacts {
  return {
    node: 'host2',
    source: 'host1',
    here: here('standby', 'streaming'),
    there: there('primary', { state: 'streaming', syncState: 'sync' }),
    flags: { pausedBy: undefined, switchover: undefined, serverNow: NOW },
    lag: { bytes: 4096, caughtUp: true },
    timeoutMs: 60_000,
    force: false,
    standAsideMarginMs: 4000,
    ...changes,
  };
}

/** This node's answer as a standby (or primary) with that WAL receiver status. */
const here = (
  role: 'primary' | 'standby',
  receiver: string | undefined,
): SwitchoverFacts['here'] => ({
  answered: true,
  view: { role, timeline: 3, receiver },
});

/** The old primary's answer, with this node's replication row (undefined: not connected). */
const there = (
  role: 'primary' | 'standby',
  candidate?: { state: string; syncState: string },
): SwitchoverFacts['there'] => ({ answered: true, view: { role, timeline: 3, candidate } });

const flagOf = (ageMs: number, timeoutMs = 30_000) => ({
  pausedBy: undefined,
  switchover: {
    to: 'host1',
    by: 'alice',
    startedAt: NOW - ageMs,
    timeoutMs,
    phase: 'prepare' as const,
  },
  serverNow: NOW,
});

interface RefusalCase {
  name: string;
  facts: SwitchoverFacts;
  check: string;
  detail: RegExp;
}

const refusals: RefusalCase[] = [
  {
    name: 'this node does not answer',
    facts: facts({ here: { answered: false, error: 'connection refused' } }),
    check: 'host2 is a streaming standby',
    detail: /^its PostgreSQL does not answer \(connection refused\)$/,
  },
  {
    name: 'this node is the primary',
    facts: facts({ here: here('primary', undefined) }),
    check: 'host2 is a streaming standby',
    detail: /^host2 is the primary: run 'skypg switchover' on the standby/,
  },
  {
    name: 'its WAL receiver is not streaming',
    facts: facts({ here: here('standby', 'waiting') }),
    check: 'host2 is a streaming standby',
    detail: /^its WAL receiver is waiting$/,
  },
  {
    name: 'no WAL receiver runs',
    facts: facts({ here: here('standby', undefined) }),
    check: 'host2 is a streaming standby',
    detail: /^its WAL receiver is not running$/,
  },
  {
    name: 'the old primary does not answer',
    facts: facts({ there: { answered: false, error: 'timeout after 2s' } }),
    check: 'host1 is the primary and host2 streams from it',
    detail: /^host1 does not answer \(timeout after 2s\)$/,
  },
  {
    name: 'the peer is a standby too',
    facts: facts({ there: there('standby') }),
    check: 'host1 is the primary and host2 streams from it',
    detail: /^host1 is a standby$/,
  },
  {
    name: 'this node is not connected to the primary',
    facts: facts({ there: there('primary') }),
    check: 'host1 is the primary and host2 streams from it',
    detail: /^host2 is not connected to it$/,
  },
  {
    name: 'this node is still catching up',
    facts: facts({ there: there('primary', { state: 'catchup', syncState: 'async' }) }),
    check: 'host1 is the primary and host2 streams from it',
    detail: /^catchup \(async\) on timeline 3$/,
  },
  {
    name: 'the heartbeat row cannot be read',
    facts: facts({ flags: { unreadable: 'connection refused' } }),
    check: 'the cluster is not paused',
    detail: /^cannot read the heartbeat row on host1: connection refused$/,
  },
  {
    name: 'the cluster is paused',
    facts: facts({
      flags: { pausedBy: 'bob: maintenance', switchover: undefined, serverNow: NOW },
    }),
    check: 'the cluster is not paused',
    detail: /^paused by bob: maintenance \('skypg resume' first\)$/,
  },
  {
    name: 'another switchover runs',
    facts: facts({ flags: flagOf(10_000) }),
    check: 'no other switchover in progress',
    detail: /^a switchover to host1 by alice is in progress$/,
  },
  {
    name: 'the lag stayed above the bound',
    facts: facts({ lag: { bytes: 3 * switchoverMaxLag, caughtUp: false } }),
    check: 'lag below 1MiB',
    detail: /^3MiB not replayed after 1m$/,
  },
  {
    name: '--timeout leaves no room for the swap',
    facts: facts({ timeoutMs: 8000 }),
    check: '--timeout leaves time for the swap',
    detail: /promotion must come 4s before that, and at least 5s is needed$/,
  },
];

describe('judgeSwitchover', () => {
  it('goes on when every fact is gathered and every precondition holds', () => {
    const judged = judgeSwitchover(facts());
    assert.equal(judged.goOn, true);
    assert.deepEqual(
      judged.preconditions.map((precondition) => [precondition.check, precondition.ok]),
      [
        ['host2 is a streaming standby', true],
        ['host1 is the primary and host2 streams from it', true],
        ['the cluster is not paused', true],
        ['no other switchover in progress', true],
        ['lag below 1MiB', true],
        ['--timeout leaves time for the swap', true],
      ],
    );
    assert.equal(judged.preconditions[0]?.detail, 'streaming on timeline 3');
    assert.equal(judged.preconditions[1]?.detail, 'streaming (sync) on timeline 3');
  });

  for (const refusal of refusals) {
    it(`refuses when ${refusal.name}`, () => {
      const judged = judgeSwitchover(refusal.facts);
      assert.equal(judged.goOn, false);
      const failed = judged.preconditions.filter((precondition) => !precondition.ok);
      assert.equal(failed.length, 1, JSON.stringify(failed));
      assert.equal(failed[0]?.check, refusal.check);
      assert.match(failed[0]?.detail ?? '', refusal.detail);
    });
  }

  it('replaces a flag that ran out by the clock that wrote it', () => {
    const judged = judgeSwitchover(facts({ flags: flagOf(30_000) }));
    assert.equal(judged.goOn, true);
    assert.equal(
      judged.preconditions[3]?.detail,
      'an old flag (by alice) has timed out and is replaced',
    );
  });

  it('does not obey a flag whose timeout is above the ceiling', () => {
    assert.equal(judgeSwitchover(facts({ flags: flagOf(1000, 3_600_000) })).goOn, true);
  });

  it('--force goes on above the lag bound, saying the swap waits for the replay', () => {
    const judged = judgeSwitchover(
      facts({ force: true, lag: { bytes: 2 * switchoverMaxLag, caughtUp: false } }),
    );
    assert.equal(judged.goOn, true);
    assert.equal(
      judged.preconditions[4]?.detail,
      '2MiB not replayed after 1m (--force: the swap waits for the replay)',
    );
  });

  it('lists the checks only up to the first fact not gathered yet, and does not go on', () => {
    const beforeLag = facts();
    delete beforeLag.lag;
    const judged = judgeSwitchover(beforeLag);
    assert.equal(judged.goOn, false);
    assert.equal(judged.preconditions.length, 4);
    const beforeFlags = facts();
    delete beforeFlags.flags;
    assert.equal(judgeSwitchover(beforeFlags).preconditions.length, 2);
  });

  it('wants the promotion a heartbeat failure plus a second before the stand-aside ends', () => {
    assert.equal(standAsideMarginMs({ misses: 3, interval: 1000 }), 4000);
    assert.equal(standAsideMarginMs({ misses: 5, interval: 2000 }), 11_000);
  });
});
