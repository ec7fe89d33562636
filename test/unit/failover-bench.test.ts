// The failover benchmark's pure parts for its second client (psql through the multi-host URI):
// reading the writer's lines, finding the end of the outage, and the report's URI figures.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSummary, trialHeader, trialRow } from '../../bench/lib/failover-report.js';
import { writableAfterTimes, type TrialResult } from '../../bench/lib/failover-trial.js';
import { failoverMilestones, type HostLogLine } from '../../bench/lib/milestones.js';
import { parseUriAcks } from '../../bench/lib/uri-writer.js';

function trial(overrides: Partial<TrialResult>): TrialResult {
  return {
    fault: 'poweroff',
    mode: 'async',
    trial: 1,
    oldPrimary: 'host1',
    newPrimary: 'host2',
    acked: 100,
    lost: [],
    uriAcked: 40,
    uriLost: [],
    haproxyAcked: 90,
    haproxyLost: [],
    samples: 30,
    splitBrainSamples: 0,
    failedPromotions: 0,
    promoteSteps: [],
    events: [],
    ...overrides,
  };
}

describe('failover benchmark: the multi-host URI writer', () => {
  it('reads acknowledged writes and skips anything else psql or bash printed', () => {
    const output = [
      '1700000000100 7|10.231.0.11',
      'psql: error: connection to server at "10.231.0.11", port 5432 failed',
      '',
      '1700000000250 8|10.231.0.12',
      '1700000000300 |10.231.0.12',
    ].join('\n');
    assert.deepEqual(parseUriAcks(output), [
      { at: 1700000000100, id: 7, server: '10.231.0.11' },
      { at: 1700000000250, id: 8, server: '10.231.0.12' },
    ]);
  });

  it('ends the outage at the first write over 200 ms after the last one before the fault', () => {
    // Writes every ~80 ms, the fault at 1000: a write at 1050 is one started before it.
    assert.equal(writableAfterTimes([840, 920, 1000, 1050, 1120, 4200, 4280], 1000), 3200);
    assert.equal(writableAfterTimes([840, 920, 1000, 1050], 1000), undefined);
    // No write before the fault: the fault itself is where the gap starts.
    assert.equal(writableAfterTimes([1150, 1300], 1000), 300);
    // An ack while the fault was still being carried out (until 1250) is from before it.
    assert.equal(writableAfterTimes([900, 1200, 1300, 1700], 1000, 1250), 700);
  });

  it('reports time to writable through the URI beside the VIP and counts its lost writes', () => {
    assert.match(trialHeader(), / writable +uri +haproxy +acked /);
    assert.match(
      trialRow(trial({ writableMs: 5100, uriWritableMs: 3100, haproxyWritableMs: 5900 })),
      / 5\.1 +3\.1 +5\.9 +100 /,
    );
    assert.match(trialRow(trial({ writableMs: 5100 })), / 5\.1 +- +- +100 /);
    const summary = formatSummary([
      trial({
        trial: 1,
        writableMs: 5000,
        uriWritableMs: 3000,
        uriLost: [3],
        haproxyWritableMs: 5500,
      }),
      trial({ trial: 2, writableMs: 6000, uriWritableMs: 4000, haproxyWritableMs: 6500 }),
    ]);
    assert.match(summary, /^poweroff +async +time to writable +2 +5\.0 /m);
    assert.match(summary, /^poweroff +async +writable via URI +2 +3\.0 +4\.0 +4\.0$/m);
    assert.match(summary, /^poweroff +async +via HAProxy +2 +5\.5 +6\.5 +6\.5$/m);
    assert.match(
      summary,
      /1 of 80 writes acknowledged through the URI lost; 0 of 180 through HAProxy/,
    );
  });

  it('times the isolated old primary stopping itself, and says whether it was before the promotion', () => {
    const faultAt = Date.parse('2026-12-04T10:00:00.000Z');
    const decision = (host: string, ms: number, rule: string): HostLogLine => ({
      host,
      node: host,
      time: new Date(faultAt + ms).toISOString(),
      event: 'decision',
      rule,
    });
    const lines: HostLogLine[] = [
      decision('host1', -500, 'primary-isolated-demote'),
      decision('host1', 900, 'primary-isolated-wait'),
      decision('host2', 1200, 'primary-two-primaries-yield'),
      decision('host1', 1400, 'primary-isolated-demote'),
      decision('host1', 1900, 'primary-hung-self-fence'),
    ];
    // Before the fault, a wait, and the new primary's own lines do not count.
    assert.equal(failoverMilestones(lines, faultAt, 'host2').oldStoppedMs, 1400);
    assert.equal(failoverMilestones(lines, faultAt, 'host1').oldStoppedMs, 1200);
    assert.equal(failoverMilestones([], faultAt, 'host2').oldStoppedMs, undefined);
    assert.match(trialHeader(), / vip +stopped +writable /);
    assert.match(
      trialRow(trial({ vipMs: 3000, oldStoppedMs: 1400, writableMs: 3500 })),
      / 3\.0 +1\.4 +3\.5 /,
    );
    const summary = formatSummary([
      trial({ trial: 1, fault: 'partition', oldStoppedMs: 1400, promotedMs: 2900 }),
      trial({ trial: 2, fault: 'partition', oldStoppedMs: 3100, promotedMs: 2900 }),
      trial({ trial: 3, fault: 'partition' }),
    ]);
    assert.match(summary, /^partition +async +old primary stops +2 +1\.4 /m);
    assert.match(
      summary,
      /the old primary stopped itself in 2 of 3 trials, 1 of them before the promotion/,
    );
    assert.doesNotMatch(formatSummary([trial({})]), /stopped itself/);
  });
});
