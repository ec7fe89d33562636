// The moments of one failover, read from the two supervisors' JSON logs. Pure: the logs and the
// moment of the fault in, milliseconds since the fault out.
import type { LogLine } from '../../src/lib/lab/lab-cluster.js';
import { promoteSteps } from '../../src/lib/lab/demo.js';

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
  /** Promotion attempts that failed before the one that worked. */
  failedPromotions: number;
  /** The steps of the successful promotion, as logged, plus the untimed checks before them. */
  promoteSteps: { name: string; ms: number }[];
  /** Every decision and action after the fault, for profiling. */
  events: { ms: number; host: string; what: string }[];
}

const steadyRules = new Set(['primary-healthy', 'standby-following']);

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
    if (line.action === 'promote' && line.result === 'failed') result.failedPromotions += 1;
    if (line.action === 'promote' && line.result === 'ok' && result.promotedMs === undefined) {
      readPromotion(result, line.detail ?? '', since(at), duration);
    }
    if (line.action === 'take-vip primary' && line.result === 'ok' && result.vipMs === undefined)
      result.vipMs = since(at);
  }
  return result;
}

/**
 * A promote action is logged when it ends; its steps run back to back up to that end (the
 * checks before the first step are not timed), so each step ends where the next begins.
 */
function readPromotion(
  result: FailoverMilestones,
  detail: string,
  endMs: number,
  durationMs: number,
): void {
  const steps = promoteSteps(detail);
  const timed = steps.reduce((sum, step) => sum + step.ms, 0);
  result.promoteSteps = [
    { name: 'checks before the first step', ms: durationMs - timed },
    ...steps,
  ];
  let stepEnd = endMs - timed;
  for (const step of steps) {
    stepEnd += step.ms;
    if (step.name.startsWith('fence ')) result.fencedMs = stepEnd;
    else if (step.name.startsWith('query ') && result.fencedMs === undefined)
      result.fencedMs = stepEnd;
    if (step.name.startsWith('pg_promote()')) result.promotedMs = stepEnd;
    if (step.name.startsWith('take the primary VIP')) result.vipMs = stepEnd;
  }
}
