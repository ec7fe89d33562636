// Timeline ancestry: has this node's WAL left the line of history the primary follows?
import { parseLsn } from './lsn.js';

/** One line of a timeline history file: `timeline` ended at `switchpoint`. */
export interface HistoryEntry {
  timeline: number;
  switchpoint: string;
}

/** Parses `NNNNNNNN.history` ("1\t0/3000160\tno recovery target specified" per line). */
export function parseHistory(text: string): HistoryEntry[] {
  const entries: HistoryEntry[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [timeline, switchpoint] = trimmed.split(/\s+/);
    if (timeline === undefined || switchpoint === undefined || !/^\d+$/.test(timeline)) continue;
    entries.push({ timeline: Number(timeline), switchpoint });
  }
  return entries;
}

export interface DivergenceInput {
  localTimeline: number;
  localCheckpointLsn: string;
  /**
   * A standby's minimum recovery point (pg_control; 0/0 after a primary's stop): it replayed WAL
   * up to there, so its data files may be past its last checkpoint (restartpoint).
   */
  localMinRecovery?: { timeline: number; lsn: string };
  cleanShutdown: boolean;
  sourceTimeline: number;
  sourceLsn: string;
  sourceHistory: HistoryEntry[];
}

export type Verdict =
  /** This node's WAL is a prefix of the primary's history: configure it and stream. */
  | 'follow'
  /** It went past the fork (or may have: crashed): rewind, or rebuild if rewind fails. */
  | 'rewind'
  /** No shared history to rewind to: a fresh base backup. */
  | 'basebackup'
  /** This node is on a newer timeline than the would-be source: rebuilding would lose it. */
  | 'refuse';

/**
 * Decides from the primary's timeline history and this node's last checkpoint (pure).
 * A clean shutdown ends WAL at its checkpoint record, so "checkpoint before the fork" proves
 * the node never wrote past it; after a crash, WAL may go on past the checkpoint, so only
 * pg_rewind (which reads that WAL) can tell, and it says "no rewind required" when none is.
 */
export function classifyDivergence(input: DivergenceInput): { verdict: Verdict; why: string } {
  const replayed = replayedPast(input);
  if (replayed !== undefined) return classifyReplayed(input, replayed);
  const { localTimeline, sourceTimeline } = input;
  const checkpoint = parseLsn(input.localCheckpointLsn);
  if (localTimeline > sourceTimeline) {
    return {
      verdict: 'refuse',
      why: `this node is on timeline ${localTimeline}, newer than the source's ${sourceTimeline}: the source is not the latest primary`,
    };
  }
  if (localTimeline === sourceTimeline) {
    if (checkpoint > parseLsn(input.sourceLsn)) {
      return {
        verdict: 'basebackup',
        why: `same timeline ${localTimeline}, but this node's checkpoint ${input.localCheckpointLsn} is ahead of the source (${input.sourceLsn})`,
      };
    }
    return input.cleanShutdown
      ? {
          verdict: 'follow',
          why: `same timeline ${localTimeline} and behind the source: it can stream`,
        }
      : {
          verdict: 'rewind',
          why: `same timeline ${localTimeline} but not shut down cleanly: pg_rewind checks its WAL`,
        };
  }
  const fork = input.sourceHistory.find((entry) => entry.timeline === localTimeline);
  if (fork === undefined) {
    return {
      verdict: 'basebackup',
      why: `timeline ${localTimeline} is not in the source's history: the histories are unrelated`,
    };
  }
  if (input.cleanShutdown && checkpoint < parseLsn(fork.switchpoint)) {
    return {
      verdict: 'follow',
      why: `stopped cleanly at ${input.localCheckpointLsn}, before timeline ${localTimeline} forked at ${fork.switchpoint}`,
    };
  }
  return {
    verdict: 'rewind',
    why: input.cleanShutdown
      ? `its checkpoint ${input.localCheckpointLsn} is past the fork of timeline ${localTimeline} at ${fork.switchpoint}: diverged`
      : `not shut down cleanly on timeline ${localTimeline} (forked at ${fork.switchpoint}): pg_rewind checks its WAL`,
  };
}

/** The minimum recovery point when it lies beyond the checkpoint (same or newer timeline). */
function replayedPast(input: DivergenceInput): { timeline: number; lsn: string } | undefined {
  const point = input.localMinRecovery;
  if (point === undefined || parseLsn(point.lsn) === 0n) return undefined;
  if (point.timeline > input.localTimeline) return point;
  if (
    point.timeline === input.localTimeline &&
    parseLsn(point.lsn) > parseLsn(input.localCheckpointLsn)
  )
    return point;
  return undefined;
}

/**
 * A standby stopped in recovery: its data files hold everything up to its minimum recovery
 * point, so that point (not the restartpoint) is where its history must still match the
 * source's. Replay ending exactly at the fork is a prefix of the new timeline.
 */
function classifyReplayed(
  input: DivergenceInput,
  replayed: { timeline: number; lsn: string },
): { verdict: Verdict; why: string } {
  const position = `minimum recovery point ${replayed.lsn}`;
  if (replayed.timeline !== input.localTimeline) {
    return classifyDivergence({
      ...input,
      localTimeline: replayed.timeline,
      localCheckpointLsn: replayed.lsn,
      localMinRecovery: undefined,
    });
  }
  const fork = input.sourceHistory.find((entry) => entry.timeline === replayed.timeline);
  if (replayed.timeline === input.sourceTimeline || fork === undefined || !input.cleanShutdown) {
    return classifyDivergence({
      ...input,
      localCheckpointLsn: replayed.lsn,
      localMinRecovery: undefined,
    });
  }
  return parseLsn(replayed.lsn) <= parseLsn(fork.switchpoint)
    ? {
        verdict: 'follow',
        why: `stopped in recovery at its ${position}, not past timeline ${replayed.timeline}'s fork at ${fork.switchpoint}`,
      }
    : {
        verdict: 'rewind',
        why: `its ${position} is past the fork of timeline ${replayed.timeline} at ${fork.switchpoint}: diverged`,
      };
}
