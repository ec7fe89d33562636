// bench:switchover's pure readings (bench/lib/persistent-writer.ts, switchover-timeline.ts):
// a client's gap from its acknowledgements, its errors inside the gap, and the timeline of a
// switchover's moments against both clients' writes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeGapErrors,
  longestWriteGap,
  parsePersistentEvents,
} from '../../bench/lib/persistent-writer.js';
import { handOverSteps, switchoverTimeline } from '../../bench/lib/switchover-timeline.js';

describe('bench:switchover readings', () => {
  it('the gap is the longest silence between acknowledgements inside the trial', () => {
    const gap = longestWriteGap([100, 150, 990, 200, 1500, 1550, 5000], 120, 2000);
    assert.deepEqual(gap, { lastBefore: 200, firstAfter: 990, ms: 790 });
    assert.equal(longestWriteGap([100], 0, 2000), undefined);
  });

  it('reads the client’s lines, skipping a torn last one', () => {
    const events = parsePersistentEvents(
      [
        '{"t":10,"kind":"ack","id":1}',
        '{"t":70,"kind":"error","phase":"connect","tookMs":1001,"message":"timeout expired"}',
        '{"t":80,"kind":"ack"',
      ].join('\n'),
    );
    assert.deepEqual(
      events.map((event) => event.kind),
      ['ack', 'error'],
    );
  });

  it('lists the errors inside a gap from when each attempt began, folding quick repeats', () => {
    const events = parsePersistentEvents(
      [
        '{"t":100,"kind":"ack","id":1}',
        '{"t":150,"kind":"error","phase":"connect","tookMs":1,"message":"ECONNREFUSED"}',
        '{"t":200,"kind":"error","phase":"connect","tookMs":1,"message":"ECONNREFUSED"}',
        '{"t":1251,"kind":"error","phase":"connect","tookMs":1001,"message":"timeout expired"}',
        '{"t":1300,"kind":"ack","id":2}',
        '{"t":1400,"kind":"error","phase":"insert","tookMs":0,"message":"later"}',
      ].join('\n'),
    );
    const lines = describeGapErrors(events, { lastBefore: 100, firstAfter: 1300, ms: 1200 }, 100);
    assert.deepEqual(lines, [
      '+49 connect failed after 1ms: ECONNREFUSED (x2)',
      '+150 connect failed after 1001ms: timeout expired',
    ]);
  });

  it('reads the hand-over’s sub-steps back from its detail', () => {
    assert.deepEqual(
      handOverSteps('restarted as a standby of host2 (10.0.0.2) (checkpoint +40ms, stopped +95ms)'),
      [
        { what: 'checkpoint', ms: 40 },
        { what: 'stopped', ms: 95 },
      ],
    );
    assert.deepEqual(handOverSteps('handed over (no timings)'), []);
  });

  it('puts every moment on one axis from the hand-over’s start, in time order', () => {
    const { origin, lines } = switchoverTimeline({
      oldPrimary: 'host1',
      moments: { lastPrimary: 1010, promoted: 1400 },
      handOver: { endedAt: 1600, durationMs: 600, detail: 'x (stopped +100ms)' },
      clients: { agent: { lastBefore: 990, firstAfter: 1420, ms: 430 } },
    });
    assert.equal(origin, 1000);
    assert.deepEqual(lines, [
      '-10 agent: last write acknowledged before',
      '+0 host1: hand-over starts',
      '+10 command: last answer as a primary',
      '+100 host1: stopped',
      '+400 command: answers as the primary',
      '+420 agent: first write acknowledged after',
    ]);
  });
});
