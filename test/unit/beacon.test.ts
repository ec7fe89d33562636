// The beacon's pure parts: the datagram's format and what a sequence of beacons means for one
// observation (the signal rules the policy trusts), and the waker that ends the loop's pause.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBeacon, encodeBeacon, maxBeaconBytes } from '../../src/lib/beacon/message.js';
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

  it('never heard: no evidence either way', () => {
    assert.deepEqual(beaconEvidence({}, {}, 10_000, 500), { heard: false });
  });

  it('heard recently: no signal', () => {
    assert.deepEqual(beaconEvidence(heardAt(9_900), heardAt(10_050), 10_000, 500), {
      heard: true,
    });
  });

  it('silent for beacon.timeout before the observation began: a signal of that age', () => {
    assert.deepEqual(beaconEvidence(heardAt(9_400), heardAt(9_400), 10_000, 500), {
      heard: true,
      silentForMs: 600,
      signalForMs: 600,
    });
  });

  it('a beacon saying "answering" that arrives during the observation cancels the signal', () => {
    const evidence = beaconEvidence(heardAt(9_400), heardAt(10_200), 10_000, 500);
    assert.deepEqual(evidence, { heard: true });
  });

  it('any beacon heard during the observation ends the silence (a word that came during it is not yet a signal)', () => {
    const evidence = beaconEvidence(
      heardAt(9_400),
      { lastHeardAt: 10_200, server: 'not-answering', notAnsweringSince: 10_200 },
      10_000,
      500,
    );
    assert.deepEqual(evidence, { heard: true });
  });

  it('the peer saying its server stopped answering is a signal counted from its first such word', () => {
    const tracker = new PeerBeaconTracker();
    tracker.heard({ cluster: 'sky', node: 'host1', seq: 1, server: 'answering' }, 8_000);
    tracker.heard({ cluster: 'sky', node: 'host1', seq: 2, server: 'not-answering' }, 8_500);
    tracker.heard({ cluster: 'sky', node: 'host1', seq: 3, server: 'not-answering' }, 9_900);
    const view = tracker.snapshot();
    assert.equal(view.notAnsweringSince, 8_500);
    assert.deepEqual(beaconEvidence(view, view, 10_000, 500), { heard: true, signalForMs: 1_500 });
  });

  it('"restarting" (a crashed primary restarted in place) is no signal while it is heard', () => {
    const view = heardAt(9_950, 'restarting');
    assert.deepEqual(beaconEvidence(view, view, 10_000, 500), { heard: true });
  });

  it('a beacon back to "answering" clears the not-answering run', () => {
    const tracker = new PeerBeaconTracker();
    tracker.heard({ cluster: 'sky', node: 'host1', seq: 1, server: 'not-answering' }, 1_000);
    tracker.heard({ cluster: 'sky', node: 'host1', seq: 2, server: 'answering' }, 1_100);
    assert.equal(tracker.snapshot().notAnsweringSince, undefined);
    assert.equal(tracker.seq, 2);
  });

  it('"restarting" in a row is counted from its first word, and only while the peer still beacons', () => {
    const tracker = new PeerBeaconTracker();
    tracker.heard({ cluster: 'sky', node: 'host1', seq: 1, server: 'restarting' }, 9_000);
    tracker.heard({ cluster: 'sky', node: 'host1', seq: 2, server: 'restarting' }, 9_900);
    const view = tracker.snapshot();
    assert.deepEqual(beaconEvidence(view, view, 10_000, 500), {
      heard: true,
      restartingForMs: 1_000,
    });
    assert.equal(beaconEvidence(view, view, 10_600, 500).restartingForMs, undefined);
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
