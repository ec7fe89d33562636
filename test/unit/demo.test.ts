import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LogLine } from '../../src/lib/lab/lab-cluster.js';
import { promoteSteps, promotionMoments } from '../../src/lib/lab/promotion-log.js';

describe('lab demo and bench: reading a promotion back from the supervisor log', () => {
  it('splits the step list, names with parentheses included', () => {
    const detail =
      "host1 fenced (power off, verified) (steps: query host1's fence device 87ms, fence host1 (power off, verified) 2367ms)";
    assert.deepEqual(promoteSteps(detail), [
      { name: "query host1's fence device", ms: 87 },
      { name: 'fence host1 (power off, verified)', ms: 2367 },
    ]);
  });
  it('is empty for a detail without steps', () => {
    assert.deepEqual(promoteSteps('promoted host2 (timeline 2)'), []);
  });

  const at = (ms: number): string => new Date(1_000_000 + ms).toISOString();
  const action = (name: string, durationMs: number, detail = 'done', result = 'ok'): LogLine => ({
    time: at(5000),
    event: 'action',
    node: 'host2',
    action: name,
    result,
    detail,
    durationMs,
  });
  const set: LogLine[] = [
    { time: at(1000), event: 'decision', node: 'host2', rule: 'standby-promote' },
    action(
      'fence-peer',
      2500,
      "host1 fenced (steps: query host1's fence device 100ms, fence host1 (power off, verified) 2000ms)",
    ),
    action(
      'promote',
      300,
      'promoted host2 to timeline 2 (steps: pg_promote() on host2 280ms, replication slot host1 for host1 20ms)',
    ),
    action('drop-vip standby', 100),
    action('take-vip primary', 600),
  ];

  it('counts each moment back from the end of the set, action after action', () => {
    // The set ended at +5000 and took 3500 ms, so it began at +1500.
    const moments = promotionMoments(set, 1_000_000);
    assert.equal(moments?.fencedAt, 1_000_000 + 1500 + 400 + 100 + 2000);
    assert.equal(moments?.promotedAt, 1_000_000 + 4000 + 280);
    assert.equal(moments?.vipAt, 1_000_000 + 5000);
    assert.deepEqual(
      moments?.steps.map((step) => [step.name, step.ms]),
      [
        ['checks before the first step', 400],
        ["query host1's fence device", 100],
        ['fence host1 (power off, verified)', 2000],
        ['pg_promote() on host2', 280],
        ['replication slot host1 for host1', 20],
        ['drop the standby VIP', 100],
        ['take the primary VIP', 600],
      ],
    );
  });
  it('skips a set whose fence failed and one from before the fault', () => {
    const failed = action(
      'fence-peer',
      2000,
      'not promoting host2: no fence level answered',
      'failed',
    );
    assert.equal(promotionMoments([failed], 1_000_000), undefined);
    assert.equal(promotionMoments(set, 1_000_000 + 6000), undefined);
  });
  it('has no fence moment when the old primary answered as a standby', () => {
    const unfenced = set.map((line) =>
      line.action === 'fence-peer'
        ? { ...line, detail: 'host1 cannot write: answers as a standby', durationMs: 50 }
        : line,
    );
    assert.equal(promotionMoments(unfenced, 1_000_000)?.fencedAt, undefined);
  });
});
