// The moments of one failover, read from the two supervisors' JSON logs. Pure: the logs and the
// moment of the fault in, milliseconds since the fault out.
import type { LogLine } from '../../src/lib/lab/lab-cluster.js';
import { promotionMoments } from '../../src/lib/lab/promotion-log.js';

export interface HostLogLine extends LogLine {
  host: string;
}

export interface FailoverMilestones {
  /** First decision on either host that is not the steady state (a failed check, a restart). */
  suspectMs?: number;
  /** The promoting supervisor declared the primary failed (rule standby-promote). */
  declaredMs?: number;
  /** The old primary was verified off: end of the fence step, or of the status query that
   * found it already off. Undefined when no fencing was needed (the peer answered as a standby). */
  fencedMs?: number;
  /** pg_promote() returned. */
  promotedMs?: number;
  /** The new primary took the primary VIP and started announcing it. */
  vipMs?: number;
  /** The old primary's own supervisor decided to stop its server (an isolated or hung primary,
   * or one that yields to another): its actions start at once, the VIP dropped, then a shutdown
   * that ends every session and refuses new ones. Logged as decided: the action's own line comes
   * only when the stop has ended, which a primary cut off from its standby may not reach before
   * it is powered off (its WAL senders wait for the standby to confirm the last WAL). */
  oldStoppedMs?: number;
  /** Promotion attempts that failed before the one that worked. */
  failedPromotions: number;
  /** The steps of the successful promotion, as logged, plus the untimed checks before them. */
  promoteSteps: { name: string; ms: number }[];
  /** Every decision and action after the fault, for profiling. */
  events: { ms: number; host: string; what: string }[];
}

const steadyRules = new Set(['primary-healthy', 'standby-following']);
/** Rules whose actions stop this node's own primary. */
const selfStopRules = new Set([
  'primary-isolated-demote',
  'primary-hung-self-fence',
  'primary-two-primaries-yield',
]);

export function failoverMilestones(
  lines: HostLogLine[],
  faultAt: number,
  newPrimary: string,
): FailoverMilestones {
  const after = lines
    .map((line) => ({ line, at: Date.parse(line.time) }))
    .filter(({ at }) => at >= faultAt)
    .sort((a, b) => a.at - b.at);
  const since = (at: number): number => at - faultAt;
  const result: FailoverMilestones = { failedPromotions: 0, promoteSteps: [], events: [] };
  for (const { line, at } of after) {
    if (line.event === 'decision') {
      result.events.push({ ms: since(at), host: line.host, what: `decision ${line.rule ?? ''}` });
      if (result.suspectMs === undefined && !steadyRules.has(line.rule ?? ''))
        result.suspectMs = since(at);
      if (result.declaredMs === undefined && line.rule === 'standby-promote')
        result.declaredMs = since(at);
      const stops = line.host !== newPrimary && selfStopRules.has(line.rule ?? '');
      if (stops && result.oldStoppedMs === undefined) result.oldStoppedMs = since(at);
    }
    if (line.event !== 'action') continue;
    const duration = line.durationMs ?? 0;
    // Logged once the whole batch of actions is done: the time is when the batch ended.
    result.events.push({
      ms: since(at),
      host: line.host,
      what: `${line.action ?? ''} ${line.result ?? ''} (took ${duration} ms)`,
    });
    if (line.host !== newPrimary) continue;
    if ((line.action === 'promote' || line.action === 'fence-peer') && line.result === 'failed')
      result.failedPromotions += 1;
    if (line.action === 'take-vip primary' && line.result === 'ok' && result.vipMs === undefined)
      result.vipMs = since(at);
  }
  // The promotion set's lines, in the new primary's log order, give each of its moments.
  const moments = promotionMoments(
    after.filter(({ line }) => line.host === newPrimary).map(({ line }) => line),
    faultAt,
  );
  if (moments !== undefined) {
    result.promoteSteps = moments.steps;
    if (moments.fencedAt !== undefined) result.fencedMs = since(moments.fencedAt);
    if (moments.promotedAt !== undefined) result.promotedMs = since(moments.promotedAt);
    if (moments.vipAt !== undefined) result.vipMs = since(moments.vipAt);
  }
  return result;
}
