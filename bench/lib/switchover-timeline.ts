// Where a switchover's write gap goes: the old primary's hand-over steps (from its supervisor's
// log), the command's moments (its --json) and both clients' last and first writes, on one
// axis. Pure: the moments in, the lines bench:switchover prints out.
import type { SwitchoverMoments } from '../../src/lib/actions/switchover.js';
import type { WriteGap } from './persistent-writer.js';

export interface HandOverLog {
  /** When the supervisor logged the action (after it ended), and how long it took. */
  endedAt: number;
  durationMs: number;
  /** Its detail, which ends with the sub-steps: "(stopped +40ms, vip dropped +45ms, ...)". */
  detail: string;
}

export interface TimelineInput {
  oldPrimary: string;
  moments: SwitchoverMoments;
  handOver: HandOverLog | undefined;
  clients: Record<string, WriteGap | undefined>;
  /** Both supervisors' other decisions and actions in the trial (an action at its end). */
  supervisors?: { at: number; what: string }[];
}

/** The sub-steps a hand-over detail ends with, as offsets from its start. */
export function handOverSteps(detail: string): { what: string; ms: number }[] {
  const list = /\(([^()]*\+\d+ms[^()]*)\)$/.exec(detail)?.[1];
  if (list === undefined) return [];
  return list.split(', ').flatMap((item) => {
    const match = /^(.+) \+(\d+)ms$/.exec(item);
    return match === null ? [] : [{ what: match[1] ?? '', ms: Number(match[2]) }];
  });
}

const momentNames: Record<keyof SwitchoverMoments, string> = {
  handoverAsked: 'command: phase handover written',
  lastPrimary: 'command: last answer as a primary',
  notPrimary: 'command: no longer a primary',
  standby: 'command: answers as a standby',
  replayed: 'command: replayed past the shutdown checkpoint',
  promoteAsked: 'command: pg_promote asked',
  promoted: 'command: answers as the primary',
  vipAsked: 'command: takes the primary VIP',
  vipTaken: 'command: primary VIP taken and announced',
};

/**
 * One line per moment, in time order, in ms from the old primary's hand-over start (else from
 * the handover request): "+123 host1: stopped". Returns the origin as well.
 */
export function switchoverTimeline(input: TimelineInput): { origin: number; lines: string[] } {
  const { handOver, moments } = input;
  const handOverStart = handOver === undefined ? undefined : handOver.endedAt - handOver.durationMs;
  const origin = handOverStart ?? moments.handoverAsked ?? 0;
  const points: { at: number; what: string }[] = [];
  if (handOverStart !== undefined) {
    points.push({ at: handOverStart, what: `${input.oldPrimary}: hand-over starts` });
    for (const step of handOverSteps(handOver?.detail ?? ''))
      points.push({ at: handOverStart + step.ms, what: `${input.oldPrimary}: ${step.what}` });
  }
  for (const [key, what] of Object.entries(momentNames)) {
    const at = moments[key as keyof SwitchoverMoments];
    if (at !== undefined) points.push({ at, what });
  }
  for (const [client, gap] of Object.entries(input.clients)) {
    if (gap === undefined) continue;
    points.push({ at: gap.lastBefore, what: `${client}: last write acknowledged before` });
    points.push({ at: gap.firstAfter, what: `${client}: first write acknowledged after` });
  }
  points.push(...(input.supervisors ?? []));
  points.sort((a, b) => a.at - b.at);
  const lines = points.map(({ at, what }) => {
    const offset = at - origin;
    return `${offset >= 0 ? '+' : ''}${offset} ${what}`;
  });
  return { origin, lines };
}
