// The switchover's steps on recording fakes (test/support/switchover-fakes.ts): the order of
// its effects, every way back (abort, rollback, partial), the dry run, and what becomes of the
// switchover flag on each exit, without root or PostgreSQL.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  switchover,
  type SwitchoverOptions,
  type SwitchoverResult,
} from '../../src/lib/actions/switchover.js';
import { SkypgError } from '../../src/lib/common/errors.js';
import {
  examplePair,
  SwitchoverFakes,
  type SwitchoverScript,
} from '../support/switchover-fakes.js';

const { config, host2 } = await examplePair();

interface Outcome {
  fakes: SwitchoverFakes;
  result: SwitchoverResult | undefined;
  error: SkypgError | undefined;
  lines: string[];
}

/** Runs the real switchover to host2 on fakes scripted by `script`. */
async function switchOver(
  script: SwitchoverScript = {},
  options: Partial<SwitchoverOptions> = {},
): Promise<Outcome> {
  const fakes = new SwitchoverFakes(config, script);
  const lines: string[] = [];
  try {
    const result = await switchover(
      config,
      host2,
      {
        to: undefined,
        dryRun: false,
        timeoutMs: 60_000,
        force: false,
        by: 'alice',
        onStep: (line) => lines.push(line),
        ...options,
      },
      fakes.deps,
    );
    return { fakes, result, error: undefined, lines };
  } catch (error) {
    if (!(error instanceof SkypgError)) throw error;
    return { fakes, result: undefined, error, lines };
  }
}

/** The outcome's error, which the case expects. */
function failed(outcome: Outcome, code: string, message: RegExp): SkypgError {
  assert.ok(outcome.error, `expected ${code}, got a result`);
  assert.equal(outcome.error.code, code, outcome.error.message);
  assert.match(outcome.error.message, message);
  return outcome.error;
}

const handedOver = ['write-flag host1 prepare', 'set-phase host1 handover'];
// The primary VIP is taken once the old primary is seen stopped, before the swap itself.
const promotedHere = ['vip-up primary', 'vip-down standby', 'promote host2'];

describe('switchover steps', () => {
  it('a swap: flag, hand-over, promotion with the VIPs, then the flag cleared on the new primary', async () => {
    const { fakes, result, lines } = await switchOver();
    assert.ok(result);
    assert.deepEqual(fakes.effects, [...handedOver, ...promotedHere, 'clear-flag host2']);
    assert.equal(result.timeline, 2);
    assert.deepEqual(result.final, { primary: 'host2', standby: 'host1', standbyStreaming: true });
    assert.deepEqual(result.warnings, []);
    assert.ok(result.preconditions.every((precondition) => precondition.ok));
    assert.ok(result.writesRefusedMs !== undefined && result.writesRefusedMs >= 0);
    assert.deepEqual([...fakes.vipsHere], ['primary']);
    assert.equal(fakes.flag, undefined);
    assert.deepEqual(
      result.steps.map((step) => step.step),
      [
        'write the switchover flag on host1 (supervisors stand aside)',
        'host2 replays the flag',
        "host2's supervisor stands aside",
        "ask host1's supervisor to hand over",
        'host1 stops accepting writes',
        'host1 shut down cleanly and restarted as a standby',
        "host2 replayed host1's shutdown checkpoint 0/3000200",
        'promote host2',
        'move the VIPs here (drop the standby VIP, take the primary VIP)',
        'clear the switchover flag on host2',
        'host1 streams from host2',
      ],
    );
    assert.equal(lines[0], 'ok   host2 is a streaming standby: streaming on timeline 1');
  });

  it('--dry-run reads both servers and makes no effect, even when it would be refused', async () => {
    const possible = await switchOver({}, { dryRun: true });
    assert.ok(possible.result);
    assert.deepEqual(possible.fakes.effects, []);
    assert.ok(possible.fakes.reads > 0);
    assert.ok(possible.result.steps.every((step) => step.detail === 'planned (--dry-run)'));
    const refused = await switchOver({ pausedBy: 'bob', lagBytes: 8 << 20 }, { dryRun: true });
    assert.ok(refused.result);
    assert.deepEqual(refused.fakes.effects, []);
    assert.deepEqual(
      refused.result.preconditions.filter((p) => !p.ok).map((p) => p.check),
      ['the cluster is not paused', 'lag below 1MiB'],
    );
  });

  it('a failed precondition refuses before anything is written, and asks nothing further', async () => {
    const outcome = await switchOver({ pausedBy: 'bob', lagBytes: 8 << 20 });
    failed(outcome, 'REFUSED', /not switching over to host2: the cluster is not paused/);
    assert.deepEqual(outcome.fakes.effects, []);
    assert.ok(!outcome.lines.some((line) => line.includes('catch up')), 'no lag wait');
  });

  it('waits for the lag to come down, and with --force goes on above it', async () => {
    const waited = await switchOver({ lagBytes: 8 << 20 }, { timeoutMs: 10_000 });
    failed(waited, 'REFUSED', /lag below 1MiB: 8MiB not replayed after 10s/);
    assert.ok(waited.lines.some((line) => /waiting for host2 to catch up: 8MiB behind/.test(line)));
    const forced = await switchOver({ lagBytes: 8 << 20 }, { force: true });
    assert.ok(forced.result);
    assert.deepEqual(forced.fakes.effects, [...handedOver, ...promotedHere, 'clear-flag host2']);
  });

  it('aborts, clearing the flag, when this node’s supervisor never stands aside', async () => {
    const outcome = await switchOver({ supervisor: 'never' });
    const error = failed(outcome, 'REFUSED', /host2's supervisor did not stand aside/);
    assert.match(error.hint ?? '', /the flag is cleared/);
    assert.deepEqual(outcome.fakes.effects, ['write-flag host1 prepare', 'clear-flag host1']);
  });

  it('goes on with a warning when no supervisor runs on this node', async () => {
    const { result } = await switchOver({ supervisor: 'absent' });
    assert.ok(result);
    assert.match(result.warnings[0] ?? '', /no supervisor runs on host2/);
  });

  it('aborts, clearing the flag, when the old primary does not stop', async () => {
    const outcome = await switchOver({ handover: 'never-stops' });
    failed(outcome, 'REFUSED', /host1's supervisor did not hand over in time \(--timeout 1m\)/);
    assert.deepEqual(outcome.fakes.effects, [...handedOver, 'clear-flag host1']);
    assert.equal(outcome.fakes.host1.role, 'primary');
  });

  it('rolls back when this node does not replay past the shutdown checkpoint', async () => {
    const outcome = await switchOver({ replayStopsAtCheckpoint: true });
    failed(outcome, 'PARTIAL', /rolled back: host1 is the primary again \(timeline 2\)/);
    assert.match(outcome.error?.message ?? '', /did not replay past the shutdown checkpoint/);
    assert.deepEqual(outcome.fakes.effects, [
      ...handedOver,
      'vip-up primary',
      'vip-down primary',
      'promote host1',
      'clear-flag host1',
    ]);
    assert.equal(outcome.fakes.host2.role, 'standby');
    assert.ok(!outcome.fakes.vipsHere.has('primary'));
  });

  it('rolls back when the promotion fails before it was asked, dropping the primary VIP first', async () => {
    const outcome = await switchOver({ promote: 'fails-unasked' });
    failed(
      outcome,
      'PARTIAL',
      /\(could not connect to the server\); rolled back: host1 is the primary/,
    );
    assert.deepEqual(outcome.fakes.effects, [
      ...handedOver,
      ...promotedHere,
      'vip-down primary',
      'promote host1',
      'clear-flag host1',
    ]);
    assert.ok(!outcome.fakes.vipsHere.has('primary'));
  });

  it('does not roll back a promotion that was asked for and may still happen', async () => {
    const outcome = await switchOver({ promote: 'fails-asked' });
    failed(outcome, 'PARTIAL', /host2 was asked to promote but did not confirm it/);
    assert.ok(!outcome.fakes.effects.includes('promote host1'));
  });

  it('finishes when the promotion call fails but the server promoted all the same', async () => {
    const { fakes, result } = await switchOver({ promote: 'fails-but-promoted' });
    assert.equal(result?.timeline, 2);
    assert.deepEqual(fakes.effects, [...handedOver, ...promotedHere, 'clear-flag host2']);
  });

  it('reports both failures when the rollback itself fails', async () => {
    const outcome = await switchOver({ replayStopsAtCheckpoint: true, rollbackFails: true });
    const error = failed(outcome, 'PARTIAL', /and the rollback failed too \(pg_promote failed\)/);
    assert.match(error.hint ?? '', /promote host1 by hand/);
  });

  it('promotes nothing when the old primary stops and does not come back', async () => {
    const outcome = await switchOver({ handover: 'never-back' });
    failed(
      outcome,
      'PARTIAL',
      /host1 stopped for the switchover but did not come back as a standby/,
    );
    assert.deepEqual(outcome.fakes.effects, handedOver);
  });

  it('takes the VIP once the old primary’s host refuses connections, and drops it if it stays down', async () => {
    // Refused: its postmaster has exited (a server still shutting down takes none: above).
    const outcome = await switchOver({ handover: 'never-back', refusesWhileDown: true });
    failed(outcome, 'PARTIAL', /did not come back as a standby/);
    assert.deepEqual(outcome.fakes.effects, [...handedOver, 'vip-up primary', 'vip-down primary']);
    assert.ok(!outcome.fakes.vipsHere.has('primary'));
  });

  it('is partial, with the primary promoted, when taking the VIP fails', async () => {
    const outcome = await switchOver({ vipUpFails: true });
    failed(outcome, 'PARTIAL', /host2 is the primary \(timeline 2\) but moving the VIPs failed/);
    assert.equal(outcome.fakes.host2.role, 'primary');
  });
});

/**
 * Where the flag ends on each exit: cleared wherever the switchover can still write it. It is
 * left to time out (the supervisors stand aside until then) where no server takes the write,
 * and after a failed VIP move, whose hint tells the operator when it times out.
 */
type FlagEnd = 'cleared' | 'no server can write it' | 'the hint says it times out';

const flagEnds: { exit: string; script: SwitchoverScript; end: FlagEnd }[] = [
  { exit: 'a swap', script: {}, end: 'cleared' },
  { exit: 'an abort (no stand-aside)', script: { supervisor: 'never' }, end: 'cleared' },
  { exit: 'an abort (no hand-over)', script: { handover: 'never-stops' }, end: 'cleared' },
  { exit: 'a rollback (replay)', script: { replayStopsAtCheckpoint: true }, end: 'cleared' },
  { exit: 'a rollback (promotion)', script: { promote: 'fails-unasked' }, end: 'cleared' },
  {
    exit: 'an unconfirmed promotion',
    script: { promote: 'fails-asked' },
    end: 'no server can write it',
  },
  {
    exit: 'a failed rollback',
    script: { replayStopsAtCheckpoint: true, rollbackFails: true },
    end: 'no server can write it',
  },
  {
    exit: 'an old primary that stays down',
    script: { handover: 'never-back' },
    end: 'no server can write it',
  },
  { exit: 'a failed VIP move', script: { vipUpFails: true }, end: 'the hint says it times out' },
];

describe('the switchover flag on every exit', () => {
  for (const { exit, script, end } of flagEnds) {
    it(`after ${exit}: ${end}`, async () => {
      const { fakes, error } = await switchOver(script);
      assert.equal(fakes.flag === undefined, end === 'cleared', JSON.stringify(fakes.flag));
      const writable = [fakes.host1, fakes.host2].some((server) => server.role === 'primary');
      if (end === 'no server can write it') assert.equal(writable, false);
      if (end === 'the hint says it times out')
        assert.match(error?.hint ?? '', /the switchover flag times out in 1m/);
    });
  }
});
