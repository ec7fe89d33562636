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
