// Rendering of the failover benchmark: one row per trial, then median / p90 / max per fault and
// mode. Times are seconds since the fault.
import { percentile } from '../measure.js';
import type { TrialResult } from './failover-trial.js';

const columns = [
  ['trial', 5],
  ['fault', 9],
  ['mode', 5],
  ['old>new', 11],
  ['suspect', 7],
  ['declared', 8],
  ['fenced', 6],
  ['promoted', 8],
  ['vip', 5],
  ['stopped', 7],
  ['writable', 8],
  ['uri', 5],
  ['haproxy', 7],
  ['acked', 5],
  ['lost', 4],
  ['2-prim', 6],
  ['rejoin', 6],
] as const;

const seconds = (ms: number | undefined): string =>
  ms === undefined ? '-' : (ms / 1000).toFixed(1);

function line(cells: string[]): string {
  return cells
    .map((cell, index) => {
      const [, width] = columns[index] ?? ['', 6];
      return index === 1 || index === 2 || index === 3 ? cell.padEnd(width) : cell.padStart(width);
    })
    .join('  ')
    .trimEnd();
}

export function trialHeader(): string {
  return line(columns.map(([name]) => name));
}

export function trialRow(result: TrialResult): string {
  const row = line([
    String(result.trial),
    result.fault,
    result.mode,
    `${result.oldPrimary}>${result.newPrimary ?? '?'}`,
    seconds(result.suspectMs),
    seconds(result.declaredMs),
    seconds(result.fencedMs),
    seconds(result.promotedMs),
    seconds(result.vipMs),
    seconds(result.oldStoppedMs),
    seconds(result.writableMs),
    seconds(result.uriWritableMs),
    seconds(result.haproxyWritableMs),
    String(result.acked),
    String(result.lost.length),
    String(result.splitBrainSamples),
    seconds(result.rejoinMs),
  ]);
  return result.error === undefined ? row : `${row}  FAILED: ${result.error}`;
}

export interface MetricSummary {
  fault: string;
  mode: string;
  metric: string;
  n: number;
  medianMs: number;
  p90Ms: number;
  maxMs: number;
}

const timedMetrics = [
  ['suspect', 'suspectMs'],
  ['declared failed', 'declaredMs'],
  ['fenced', 'fencedMs'],
  ['promoted', 'promotedMs'],
  ['VIP moved', 'vipMs'],
  ['old primary stops', 'oldStoppedMs'],
  ['time to writable', 'writableMs'],
  ['writable via URI', 'uriWritableMs'],
  ['via HAProxy', 'haproxyWritableMs'],
  ['rejoin', 'rejoinMs'],
] as const;

export function summarise(results: TrialResult[]): MetricSummary[] {
  const summaries: MetricSummary[] = [];
  const groups = new Map<string, TrialResult[]>();
  for (const result of results) {
    const key = `${result.fault}/${result.mode}`;
    groups.set(key, [...(groups.get(key) ?? []), result]);
  }
  for (const [key, group] of groups) {
    const [fault = '', mode = ''] = key.split('/');
    for (const [metric, field] of timedMetrics) {
      const values = group
        .map((result) => result[field])
        .filter((value): value is number => value !== undefined)
        .sort((a, b) => a - b);
      if (values.length === 0) continue;
      summaries.push({
        fault,
        mode,
        metric,
        n: values.length,
        medianMs: percentile(values, 0.5),
        p90Ms: percentile(values, 0.9),
        maxMs: values.at(-1) ?? NaN,
      });
    }
  }
  return summaries;
}

export function formatSummary(results: TrialResult[]): string {
  const lines = [
    `${'fault'.padEnd(9)}  ${'mode'.padEnd(5)}  ${'from the fault to'.padEnd(17)}  trials  median s  p90 s  max s`,
  ];
  for (const s of summarise(results)) {
    lines.push(
      `${s.fault.padEnd(9)}  ${s.mode.padEnd(5)}  ${s.metric.padEnd(17)}  ${String(s.n).padStart(6)}  ${seconds(s.medianMs).padStart(8)}  ${seconds(s.p90Ms).padStart(5)}  ${seconds(s.maxMs).padStart(5)}`,
    );
  }
  const groups = new Set(results.map((result) => `${result.fault}/${result.mode}`));
  for (const key of groups) {
    const group = results.filter((result) => `${result.fault}/${result.mode}` === key);
    const lost = group.reduce((sum, result) => sum + result.lost.length, 0);
    const acked = group.reduce((sum, result) => sum + result.acked, 0);
    const uriLost = group.reduce((sum, result) => sum + result.uriLost.length, 0);
    const uriAcked = group.reduce((sum, result) => sum + result.uriAcked, 0);
    const haproxyLost = group.reduce((sum, result) => sum + result.haproxyLost.length, 0);
    const haproxyAcked = group.reduce((sum, result) => sum + result.haproxyAcked, 0);
    const split = group.reduce((sum, result) => sum + result.splitBrainSamples, 0);
    const samples = group.reduce((sum, result) => sum + result.samples, 0);
    const inPlace = group.filter((result) => result.newPrimary === result.oldPrimary).length;
    const failed = group.filter((result) => result.error !== undefined).length;
    const stopped = group.filter((result) => result.oldStoppedMs !== undefined);
    const stoppedFirst = stopped.filter(
      (result) => (result.oldStoppedMs ?? 0) < (result.promotedMs ?? Infinity),
    ).length;
    const stoppedNote =
      stopped.length > 0
        ? `; the old primary stopped itself in ${stopped.length} of ${group.length} trials, ${stoppedFirst} of them before the promotion`
        : '';
    lines.push(
      `${key}: ${lost} of ${acked} acknowledged writes lost; ${split} of ${samples} samples with two writable primaries; ${inPlace} of ${group.length} trials kept the old primary (restarted in place); ${uriLost} of ${uriAcked} writes acknowledged through the URI lost; ${haproxyLost} of ${haproxyAcked} through HAProxy${stoppedNote}${failed > 0 ? `; ${failed} trials FAILED` : ''}`,
    );
  }
  return lines.join('\n');
}
