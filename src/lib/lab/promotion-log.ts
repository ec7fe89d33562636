// Reading a promotion back from a supervisor's JSON log: the demo tells its moments, the
// failover benchmark measures them. A promotion is one set of actions (fence-peer, promote,
// drop-vip standby, take-vip primary) whose lines are written together when the set ends, each
// with its duration; the fence-peer and promote lines end in their timed steps.
import type { LogLine } from './lab-cluster.js';

export interface PhaseStep {
  name: string;
  ms: number;
}

/** The timed steps at the end of an action's detail: "... (steps: a 12ms, b (c) 3ms)". */
export function promoteSteps(detail: string): PhaseStep[] {
  const inner = /\(steps: (.*)\)\s*$/.exec(detail)?.[1] ?? '';
  return [...inner.matchAll(/(?:^|, )(.+?) (\d+)ms/g)].map((match) => ({
    name: match[1] ?? '',
    ms: Number(match[2]),
  }));
}

/** When each moment of one promotion happened (this host's clock, epoch ms). */
export interface PromotionMoments {
  /** The old primary was verified off: its fence step ended, or the status query found it off. */
  fencedAt?: number;
  /** pg_promote() returned. */
  promotedAt?: number;
  /** The primary VIP was taken and announced. */
  vipAt?: number;
  /** Every step in order, the untimed checks first. */
  steps: PhaseStep[];
}

const promotionActions = new Set(['fence-peer', 'promote', 'drop-vip standby', 'take-vip primary']);

/**
 * The first successful promotion in one host's log lines (in log order) at or after `after`:
 * its set's lines end together, so each action ends where the next begins, counted back from
 * the set's end. Undefined until a set whose promote succeeded is logged.
 */
export function promotionMoments(lines: LogLine[], after: number): PromotionMoments | undefined {
  for (let first = 0; first < lines.length; first += 1) {
    const opening = lines[first];
    if (opening?.action !== 'fence-peer' || opening.result !== 'ok') continue;
    if (Date.parse(opening.time) < after) continue;
    const set: LogLine[] = [];
    for (const line of lines.slice(first)) {
      if (line.event !== 'action' || !promotionActions.has(line.action ?? '')) break;
      if (set.length > 0 && line.action === 'fence-peer') break;
      set.push(line);
    }
    if (!set.some((line) => line.action === 'promote' && line.result === 'ok')) continue;
    return momentsOf(set);
  }
  return undefined;
}

function momentsOf(set: LogLine[]): PromotionMoments {
  const endAt = Math.max(...set.map((line) => Date.parse(line.time)));
  const total = set.reduce((sum, line) => sum + (line.durationMs ?? 0), 0);
  const moments: PromotionMoments = { steps: [] };
  let cursor = endAt - total;
  for (const line of set) {
    const duration = line.durationMs ?? 0;
    const steps = promoteSteps(line.detail ?? '');
    const untimed = duration - steps.reduce((sum, step) => sum + step.ms, 0);
    if (line.action === 'fence-peer')
      moments.steps.push({ name: 'checks before the first step', ms: untimed });
    let stepEnd = cursor + untimed;
    for (const step of steps) {
      stepEnd += step.ms;
      moments.steps.push(step);
      if (step.name.startsWith('fence ')) moments.fencedAt = stepEnd;
      else if (step.name.startsWith('query ') && moments.fencedAt === undefined)
        moments.fencedAt = stepEnd;
      if (step.name.startsWith('pg_promote()')) moments.promotedAt = stepEnd;
    }
    if (line.action === 'drop-vip standby')
      moments.steps.push({ name: 'drop the standby VIP', ms: duration });
    if (line.action === 'take-vip primary') {
      moments.steps.push({ name: 'take the primary VIP', ms: duration });
      moments.vipAt = cursor + duration;
    }
    cursor += duration;
  }
  return moments;
}
