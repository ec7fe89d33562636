// The one poll loop: ask, wait a moment, ask again, until an answer or a deadline.
import { setTimeout as sleep } from 'node:timers/promises';

/** Where a poll reads the time and how it waits; the real clock unless a test gives its own. */
export interface PollClock {
  /** Milliseconds since the epoch. */
  now: () => number;
  sleep: (ms: number) => Promise<unknown>;
}

export const realPollClock: PollClock = { now: () => Date.now(), sleep: (ms) => sleep(ms) };

/**
 * Calls `probe` until it returns something other than undefined, every `everyMs`, and at
 * least once; undefined once `deadline` (epoch ms) has passed. A probe that throws ends it.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  options: { deadline: number; everyMs: number; clock?: PollClock },
): Promise<T | undefined> {
  const clock = options.clock ?? realPollClock;
  for (;;) {
    const answer = await probe();
    if (answer !== undefined) return answer;
    if (clock.now() >= options.deadline) return undefined;
    await clock.sleep(Math.max(1, Math.min(options.everyMs, options.deadline - clock.now())));
  }
}
