// bench:steady --chaos, its pure parts: the loss table's nft script and counters, the random
// pauses of a supervisor (over recording fakes), and the count of false alarms in the logs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  countAlarms,
  exponentialGapMs,
  pauseAtRandom,
  type PauserDeps,
} from '../../bench/lib/chaos.js';
import type { LogLine } from '../../src/lib/lab/lab-cluster.js';
import { lossTable, lossTableScript, parseLossCounters } from '../../src/lib/lab/netns-chaos.js';
import { faultTable } from '../../src/lib/lab/netns-plan.js';

describe('chaos: the loss table', () => {
  it('is not the partition table, so heal() and the chaos never delete each other', () => {
    assert.notEqual(lossTable, faultTable);
  });

  it('drops the given share of frames each way on each host link, counting them', () => {
    const script = lossTableScript(5, ['host1', 'host2']);
    const rules = script.split('\n').filter((line) => line.startsWith('add rule'));
    assert.equal(rules.length, 4);
    for (const host of ['host1', 'host2']) {
      for (const side of ['iifname', 'oifname']) {
        const rule = rules.find((line) => line.includes(`${side} "v-${host}"`));
        assert.ok(rule, `${side} rule for ${host}`);
        assert.match(rule, /numgen random mod 100 < 5 counter name "dropped_host\d" drop$/);
        assert.ok(rule.includes(`counter name "seen_${host}" numgen`), 'counts before the draw');
        assert.ok(rule.includes(`"dropped_${host}"`));
      }
    }
    assert.match(script, new RegExp(`^table bridge ${lossTable} \\{`));
  });

  it('drops every frame at 100 % without a draw (nft refuses `mod 100 < 100`)', () => {
    const rules = lossTableScript(100, ['host1'])
      .split('\n')
      .filter((line) => line.startsWith('add rule'));
    assert.equal(rules.length, 2);
    for (const rule of rules) {
      assert.ok(!rule.includes('numgen'), rule);
      assert.match(rule, /counter name "seen_host1" counter name "dropped_host1" drop$/);
    }
  });

  it('refuses a share that is not a whole percentage', () => {
    assert.throws(() => lossTableScript(101, ['host1']), /whole percentage/);
    assert.throws(() => lossTableScript(2.5, ['host1']), /whole percentage/);
  });

  it("reads its counters from nft's JSON and ignores other tables' counters", () => {
    const counter = (table: string, name: string, packets: number): object => ({
      counter: { family: 'bridge', table, name, handle: 2, packets, bytes: packets * 100 },
    });
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6' } },
        counter(lossTable, 'seen_host1', 2000),
        counter(lossTable, 'dropped_host1', 97),
        counter(lossTable, 'seen_host2', 1800),
        counter(lossTable, 'dropped_host2', 91),
        counter('someone_else', 'dropped_host1', 5),
      ],
    });
    assert.deepEqual(parseLossCounters(json, ['host1', 'host2']), {
      host1: { seen: 2000, dropped: 97 },
      host2: { seen: 1800, dropped: 91 },
    });
  });

  it('fails loudly when a host has no counters (the table is not ours or is gone)', () => {
    assert.throws(
      () => parseLossCounters(JSON.stringify({ nftables: [] }), ['host1']),
      /no counters for host1/,
    );
  });
});

describe('chaos: random pauses of a supervisor', () => {
  it('draws exponential gaps: the median of the draw is mean × ln 2, never negative', () => {
    assert.equal(
      exponentialGapMs(20_000, () => 0),
      0,
    );
    assert.ok(Math.abs(exponentialGapMs(20_000, () => 0.5) - 20_000 * Math.LN2) < 1e-6);
    assert.ok(Number.isFinite(exponentialGapMs(20_000, () => 0.999_999)));
  });

  it('pauses after each gap until aborted, and records each pause', async () => {
    const waited: number[] = [];
    const paused: [number, number][] = [];
    const ending = new AbortController();
    const deps: PauserDeps = {
      random: () => 0.5,
      wait: async (ms) => {
        waited.push(ms);
        await Promise.resolve();
      },
      pause: async (pid, ms) => {
        paused.push([pid, ms]);
        if (paused.length === 3) ending.abort();
        return Promise.resolve(ms + 4);
      },
    };
    const result = await pauseAtRandom(
      4242,
      { pauseMs: 300, meanPauseGapMs: 1000 },
      ending.signal,
      deps,
    );
    assert.deepEqual(result, { pausesMs: [304, 304, 304] });
    assert.deepEqual(paused, [
      [4242, 300],
      [4242, 300],
      [4242, 300],
    ]);
    assert.equal(waited.length, 3);
    assert.ok(Math.abs((waited[0] ?? 0) - 1000 * Math.LN2) < 1e-6);
  });

  it('ends without another pause when aborted during a gap', async () => {
    const ending = new AbortController();
    let pauses = 0;
    const result = await pauseAtRandom(1, { pauseMs: 300, meanPauseGapMs: 1000 }, ending.signal, {
      random: () => 0.5,
      wait: async () => {
        ending.abort();
        return Promise.reject(new Error('aborted'));
      },
      pause: async (_pid, ms) => {
        pauses += 1;
        return Promise.resolve(ms);
      },
    });
    assert.deepEqual(result, { pausesMs: [] });
    assert.equal(pauses, 0);
  });

  it('stops and says why when the process is gone, instead of rejecting', async () => {
    const result = await pauseAtRandom(
      1,
      { pauseMs: 300, meanPauseGapMs: 1000 },
      new AbortController().signal,
      {
        random: () => 0.5,
        wait: () => Promise.resolve(),
        pause: () => Promise.reject(new Error('kill ESRCH')),
      },
    );
    assert.deepEqual(result, { pausesMs: [], error: 'kill ESRCH' });
  });
});

describe('chaos: false alarms in the supervisor logs', () => {
  const since = Date.parse('2026-12-03T12:00:00.000Z');
  const at = (seconds: number): string => new Date(since + seconds * 1000).toISOString();
  const decision = (seconds: number, node: string, rule: string): LogLine => ({
    time: at(seconds),
    event: 'decision',
    node,
    rule,
    reason: `${rule} because`,
  });
  const action = (seconds: number, node: string, name: string): LogLine => ({
    time: at(seconds),
    event: 'action',
    node,
    action: name,
    result: 'ok',
  });

  it('counts a steady run as no alarms at all', () => {
    const alarms = countAlarms(
      [decision(1, 'host1', 'primary-healthy'), decision(1, 'host2', 'standby-following')],
      since,
    );
    assert.deepEqual(alarms, {
      failovers: 0,
      selfDemotions: 0,
      fences: 0,
      otherDecisions: [],
      otherRules: {},
    });
  });

  it('counts promotions, demotions and fences from actions, whatever their outcome', () => {
    const alarms = countAlarms(
      [
        action(2, 'host2', 'fence-peer'),
        { ...action(3, 'host2', 'fence-peer'), result: 'failed' },
        action(4, 'host2', 'promote'),
        action(4, 'host2', 'take-vip primary'),
        action(5, 'host1', 'demote (self)'),
      ],
      since,
    );
    assert.equal(alarms.failovers, 1);
    assert.equal(alarms.fences, 2);
    assert.equal(alarms.selfDemotions, 1);
  });

  it('ignores lines before the load began, and action lines that name no action', () => {
    const alarms = countAlarms(
      [
        action(-5, 'host2', 'promote'),
        decision(-5, 'host2', 'standby-suspect'),
        { time: at(3), event: 'action', node: 'host2', detail: 'still running: promote' },
      ],
      since,
    );
    assert.equal(alarms.failovers, 0);
    assert.deepEqual(alarms.otherDecisions, []);
  });

  it('lists other decisions and counts them by node and rule', () => {
    const alarms = countAlarms(
      [
        decision(1, 'host2', 'standby-suspect'),
        decision(2, 'host2', 'standby-suspect'),
        decision(3, 'host1', 'primary-peer-lost'),
        decision(4, 'host1', 'primary-healthy'),
      ],
      since,
    );
    assert.deepEqual(alarms.otherRules, {
      'host2 standby-suspect': 2,
      'host1 primary-peer-lost': 1,
    });
    assert.deepEqual(alarms.otherDecisions, [
      `${at(1)} host2: standby-suspect: standby-suspect because`,
      `${at(2)} host2: standby-suspect: standby-suspect because`,
      `${at(3)} host1: primary-peer-lost: primary-peer-lost because`,
    ]);
  });
});
