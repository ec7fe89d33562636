// When a switchover flag has run out (one definition for skypg switchover and decide), and the
// one poll loop every wait uses.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  switchoverFlagExpired,
  switchoverTimeoutCeilingMs,
} from '../../src/lib/failover/switchover-timing.js';
import { pollUntil } from '../../src/lib/actions/poll.js';

describe('switchoverFlagExpired', () => {
  const flag = { startedAt: 100_000, timeoutMs: 30_000 };
  const rows: [string, number, number, boolean][] = [
    ['by the writing clock, within its timeout', 129_999, 0, false],
    ['by the writing clock, at its timeout', 130_000, 0, true],
    ['by another clock, past the timeout but within the skew allowed', 200_000, 600_000, false],
    ['by another clock, past the timeout and the skew', 730_000, 600_000, true],
  ];
  for (const [name, now, skew, expired] of rows) {
    it(name, () => {
      assert.equal(switchoverFlagExpired(flag, now, skew), expired);
    });
  }
  it('a flag whose timeout skypg would not write has always run out', () => {
    assert.equal(switchoverFlagExpired({ startedAt: 0, timeoutMs: 0 }, 0), true);
    assert.equal(
      switchoverFlagExpired({ startedAt: 0, timeoutMs: switchoverTimeoutCeilingMs + 1 }, 0),
      true,
    );
    assert.equal(switchoverFlagExpired({ startedAt: 0, timeoutMs: Number.NaN }, 0), true);
  });
});

describe('pollUntil', () => {
  it('returns the first answer, asking again until there is one', async () => {
    let asked = 0;
    const answer = await pollUntil(
      () => Promise.resolve((asked += 1) === 3 ? 'ready' : undefined),
      { deadline: Date.now() + 5000, everyMs: 1 },
    );
    assert.equal(answer, 'ready');
    assert.equal(asked, 3);
  });
  it('asks at least once, even past the deadline, then gives undefined', async () => {
    let asked = 0;
    const never = (): Promise<string | undefined> => {
      asked += 1;
      return Promise.resolve(undefined);
    };
    const answer = await pollUntil(never, { deadline: Date.now() - 1, everyMs: 1 });
    assert.equal(answer, undefined);
    assert.equal(asked, 1);
  });
  it('a probe that throws ends the poll with its error', async () => {
    await assert.rejects(
      pollUntil(() => Promise.reject(new Error('gone')), {
        deadline: Date.now() + 1000,
        everyMs: 1,
      }),
      /gone/,
    );
  });
});
