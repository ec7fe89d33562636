// The switchover's preconditions as pure rules over gathered facts: `skypg switchover` gathers
// them (actions/switchover.ts, through its deps) and reports the list this returns, in order.
import { formatDuration, formatSize } from '../config/units.js';
import type { FlagRead } from '../heartbeat/table.js';
import type { ServerRole } from '../pg/server-status.js';
import type { Precondition } from './promotion.js';
import { switchoverFlagExpired } from './switchover-timing.js';

/** The standby must be this close before the swap: replaying it is then a matter of ms. */
export const switchoverMaxLag = 1024 * 1024;
/** The least time --timeout must leave between the promotion's deadline and its start. */
const leastSwapMs = 5000;

/** A server's answer, or the error that stood for it. */
export type ServerReply<View> = { answered: true; view: View } | { answered: false; error: string };

/** This node, the one to become the primary, as read through its socket. */
export interface CandidateView {
  role: ServerRole;
  timeline: number;
  /** pg_stat_wal_receiver's status; undefined when no receiver runs (or on a primary). */
  receiver: string | undefined;
}

/** The old primary as read over TCP, with the candidate's row in its pg_stat_replication. */
export interface SourceView {
  role: ServerRole;
  timeline: number;
  candidate: { state: string; syncState: string } | undefined;
}

/**
 * What `skypg switchover` gathers, in the order it does. A fact left out is not gathered yet:
 * the list of preconditions stops before the first check that needs it.
 */
export interface SwitchoverFacts {
  node: string;
  source: string;
  here?: ServerReply<CandidateView>;
  there?: ServerReply<SourceView>;
  /** The pause and switchover flags on the old primary, or why they could not be read (an
   * untrusted table's message names its fix). */
  flags?: FlagRead | { unreadable: string };
  /** Bytes the candidate is behind, and whether that came down to switchoverMaxLag in time. */
  lag?: { bytes: number; caughtUp: boolean };
  timeoutMs: number;
  force: boolean;
  /** How long before the supervisors stop standing aside the promotion must come. */
  standAsideMarginMs: number;
}

export interface SwitchoverJudgement {
  preconditions: Precondition[];
  /** Every fact was there and every precondition holds. */
  goOn: boolean;
}

type Rule = (facts: SwitchoverFacts) => Precondition | undefined;

function candidateStreams(facts: SwitchoverFacts): Precondition | undefined {
  const check = `${facts.node} is a streaming standby`;
  const here = facts.here;
  if (here === undefined) return undefined;
  if (!here.answered)
    return { check, ok: false, detail: `its PostgreSQL does not answer (${here.error})` };
  if (here.view.role !== 'standby')
    return {
      check,
      ok: false,
      detail: `${facts.node} is the primary: run 'skypg switchover' on the standby that is to become the primary`,
    };
  return here.view.receiver === 'streaming'
    ? { check, ok: true, detail: `streaming on timeline ${here.view.timeline}` }
    : { check, ok: false, detail: `its WAL receiver is ${here.view.receiver ?? 'not running'}` };
}

function sourceFeedsCandidate(facts: SwitchoverFacts): Precondition | undefined {
  const check = `${facts.source} is the primary and ${facts.node} streams from it`;
  const there = facts.there;
  if (there === undefined) return undefined;
  if (!there.answered)
    return { check, ok: false, detail: `${facts.source} does not answer (${there.error})` };
  if (there.view.role !== 'primary')
    return { check, ok: false, detail: `${facts.source} is a standby` };
  const row = there.view.candidate;
  return {
    check,
    ok: row?.state === 'streaming',
    detail:
      row === undefined
        ? `${facts.node} is not connected to it`
        : `${row.state} (${row.syncState}) on timeline ${there.view.timeline}`,
  };
}

function notPaused(facts: SwitchoverFacts): Precondition | undefined {
  const flags = facts.flags;
  if (flags === undefined) return undefined;
  const check = 'the cluster is not paused';
  if ('unreadable' in flags)
    return {
      check,
      ok: false,
      detail: `cannot read the heartbeat row on ${facts.source}: ${flags.unreadable}`,
    };
  return flags.pausedBy === undefined
    ? { check, ok: true, detail: 'not paused' }
    : { check, ok: false, detail: `paused by ${flags.pausedBy} ('skypg resume' first)` };
}

function noOtherSwitchover(facts: SwitchoverFacts): Precondition | undefined {
  const flags = facts.flags;
  if (flags === undefined) return undefined;
  const check = 'no other switchover in progress';
  const running = 'unreadable' in flags ? undefined : flags.switchover;
  if ('unreadable' in flags || running === undefined) return { check, ok: true, detail: 'none' };
  // Stale by the clock that wrote it; a timeout above the ceiling is not obeyed by decide().
  return switchoverFlagExpired(running, flags.serverNow)
    ? { check, ok: true, detail: `an old flag (by ${running.by}) has timed out and is replaced` }
    : {
        check,
        ok: false,
        detail: `a switchover to ${running.to} by ${running.by} is in progress`,
      };
}

function lagBelowBound(facts: SwitchoverFacts): Precondition | undefined {
  const lag = facts.lag;
  if (lag === undefined) return undefined;
  const waited = lag.caughtUp ? '' : ` after ${formatDuration(facts.timeoutMs)}`;
  const forced = !lag.caughtUp && facts.force ? ' (--force: the swap waits for the replay)' : '';
  return {
    check: `lag below ${formatSize(switchoverMaxLag)}`,
    ok: lag.caughtUp || facts.force,
    detail: `${formatSize(lag.bytes)} not replayed${waited}${forced}`,
  };
}

/** Asked after the lag, the last fact gathered, so that the list keeps its order. */
function timeoutLeavesRoom(facts: SwitchoverFacts): Precondition | undefined {
  if (facts.lag === undefined) return undefined;
  const margin = facts.standAsideMarginMs;
  return {
    check: '--timeout leaves time for the swap',
    ok: facts.timeoutMs - margin >= leastSwapMs,
    detail: `the supervisors stand aside for ${formatDuration(facts.timeoutMs)}; the promotion must come ${formatDuration(margin)} before that, and at least ${formatDuration(leastSwapMs)} is needed`,
  };
}

const rules: Rule[] = [
  candidateStreams,
  sourceFeedsCandidate,
  notPaused,
  noOtherSwitchover,
  lagBelowBound,
  timeoutLeavesRoom,
];

/** The preconditions the gathered facts allow, in order, up to the first fact still missing. */
export function judgeSwitchover(facts: SwitchoverFacts): SwitchoverJudgement {
  const preconditions: Precondition[] = [];
  for (const rule of rules) {
    const precondition = rule(facts);
    if (precondition === undefined) return { preconditions, goOn: false };
    preconditions.push(precondition);
  }
  return { preconditions, goOn: preconditions.every((precondition) => precondition.ok) };
}

/** How long before the supervisors' stand-aside ends a switchover must have promoted. */
export function standAsideMarginMs(heartbeat: { misses: number; interval: number }): number {
  return heartbeat.misses * heartbeat.interval + 1000;
}
