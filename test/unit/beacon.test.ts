// The beacon's pure parts: the datagram's format and what a sequence of beacons means for one
// observation (the signal rules the policy trusts), and the waker that ends the loop's pause.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeBeacon,
  encodeBeacon,
  maxBeaconBytes,
  type BeaconMessage,
} from '../../src/lib/beacon/message.js';
import {
  PeerBeaconTracker,
  beaconEvidence,
  silentAt,
  type PeerBeaconView,
} from '../../src/lib/beacon/tracker.js';
import { serverStateOf } from '../../src/lib/beacon/beacon.js';
import { Waker } from '../../src/lib/supervisor/waker.js';
import type { LoopReport } from '../../src/lib/supervisor/loop.js';
import type { Observation } from '../../src/lib/supervisor/types.js';

const expected = { cluster: 'sky', peer: 'host1' };
const beacon = (fields: Record<string, unknown>): Buffer =>
  Buffer.from(
    JSON.stringify({ v: 1, cluster: 'sky', node: 'host1', seq: 7, server: 'answering', ...fields }),
  );

describe('beacon datagram', () => {
  it('round-trips what it carries', () => {
    const message = { cluster: 'sky', node: 'host1', seq: 3, server: 'not-answering' } as const;
    assert.deepEqual(decodeBeacon(encodeBeacon(message), expected), message);
  });

  it('refuses another cluster, another sender, its own name, another version, bad fields and junk', () => {
    const refused: [string, Buffer][] = [
      ['another cluster', beacon({ cluster: 'other' })],
      ['another node', beacon({ node: 'host3' })],
      ['this node itself', beacon({ node: 'host2' })],
      ['a newer version', beacon({ v: 2 })],
      ['a seq of 0', beacon({ seq: 0 })],
      ['a fractional seq', beacon({ seq: 1.5 })],
      ['an unknown server state', beacon({ server: 'fine' })],
      ['not JSON', Buffer.from('hello')],
      ['a JSON array', Buffer.from('[1,2]')],
      ['an oversized datagram', beacon({ pad: 'x'.repeat(maxBeaconBytes) })],
    ];
    for (const [what, datagram] of refused)
      assert.equal(decodeBeacon(datagram, expected), undefined, what);
  });
});

describe('beacon evidence for one observation', () => {
  const heardAt = (at: number, server: PeerBeaconView['server'] = 'answering'): PeerBeaconView => ({
    lastHeardAt: at,
    server,
  });
  const tracked = (...beacons: [number, BeaconMessage['server']][]): PeerBeaconView => {
    const tracker = new PeerBeaconTracker();
    beacons.forEach(([at, server], index) => {
      tracker.heard({ cluster: 'sky', node: 'host1', seq: index + 1, server }, at);
    });
    return tracker.snapshot();
  };

  it('never heard: no evidence either way', () => {
    assert.deepEqual(beaconEvidence({}, 10_000, 500), { heard: false });
  });

  it('heard within beacon.timeout of the end of the observation: no signal', () => {
    assert.deepEqual(beaconEvidence(heardAt(9_600), 10_000, 500), { heard: true });
  });

  it('silent for beacon.timeout as the observation ended: a signal of that age', () => {
    assert.deepEqual(beaconEvidence(heardAt(9_400), 10_000, 500), {
      heard: true,
      silentForMs: 600,
      signalForMs: 600,
      signalSince: 9_400,
    });
  });

  it('the peer saying its server stopped answering is a signal counted from its first such word', () => {
    const view = tracked([8_000, 'answering'], [8_500, 'not-answering'], [9_900, 'not-answering']);
    assert.equal(view.notAnsweringSince, 8_500);
    assert.deepEqual(beaconEvidence(view, 10_000, 500), {
      heard: true,
      signalForMs: 1_500,
      signalSince: 8_500,
    });
  });

  it('a beacon back to "answering" clears the not-answering run', () => {
    const view = tracked([1_000, 'not-answering'], [1_100, 'answering']);
    assert.equal(view.notAnsweringSince, undefined);
    assert.deepEqual(beaconEvidence(view, 1_200, 500), { heard: true });
  });

  it('"restarting" in a row is counted from its first word, and only while the peer still beacons', () => {
    const view = tracked([9_000, 'restarting'], [9_900, 'restarting']);
    assert.deepEqual(beaconEvidence(view, 10_000, 500), { heard: true, restartingForMs: 1_000 });
    const silent = beaconEvidence(view, 10_600, 500);
    assert.equal(silent.restartingForMs, undefined);
    assert.equal(silent.signalForMs, 700);
  });

  it('the tracker keeps the last sequence number', () => {
    const tracker = new PeerBeaconTracker();
    tracker.heard({ cluster: 'sky', node: 'host1', seq: 41, server: 'answering' }, 1);
    assert.equal(tracker.seq, 41);
  });

  it('silentAt: only after beacon.timeout, and never before anything was heard', () => {
    assert.equal(silentAt({}, 10_000, 500), false);
    assert.equal(silentAt(heardAt(9_600), 10_000, 500), false);
    assert.equal(silentAt(heardAt(9_500), 10_000, 500), true);
  });
});

describe('what this node’s beacon says', () => {
  const report = (answering: boolean | undefined, rule?: string): LoopReport => ({
    startedAt: 0,
    endedAt: 1,
    ...(answering === undefined
      ? { error: 'observation failed' }
      : { observation: { local: { running: true, answering } } as unknown as Observation }),
    ...(rule === undefined
      ? {}
      : {
          decision: {
            state: 'starting',
            actions: [],
            reason: '',
            rule,
            memory: { state: 'starting', misses: 0 },
          },
        }),
  });

  it('answering or not, from the last observation of its own server', () => {
    assert.equal(serverStateOf('not-answering', report(true)), 'answering');
    assert.equal(serverStateOf('answering', report(false)), 'not-answering');
    assert.equal(serverStateOf('answering', report(undefined)), 'not-answering');
  });

  it('restarting from the restart-in-place decision until its server answers', () => {
    let said = serverStateOf('answering', report(false, 'down-crashed-primary-restart'));
    assert.equal(said, 'restarting');
    said = serverStateOf(said, report(false, 'hung-wait'));
    assert.equal(said, 'restarting', 'crash recovery: running, not answering yet');
    said = serverStateOf(said, report(true, 'primary-healthy'));
    assert.equal(said, 'answering');
  });
});

describe('Waker', () => {
  it('a wake while nobody waits ends the next pause at once; take() clears it', async () => {
    const waker = new Waker();
    waker.wake('first');
    waker.wake('second');
    await waker.next(new AbortController().signal);
    assert.equal(waker.take(), 'first');
    assert.equal(waker.take(), undefined);
  });

  it('ends a pause in progress, and an abort ends it too', async () => {
    const waker = new Waker();
    const waiting = waker.next(new AbortController().signal);
    waker.wake('beacon silent');
    await waiting;
    const stop = new AbortController();
    const aborted = new Waker().next(stop.signal);
    stop.abort();
    await aborted;
    assert.equal(waker.take(), 'beacon silent');
  });
});
