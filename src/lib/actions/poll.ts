// The one poll loop: ask, wait a moment, ask again, until an answer or a deadline.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Calls `probe` until it returns something other than undefined, every `everyMs`, and at
 * least once; undefined once `deadline` (epoch ms) has passed. A probe that throws ends it.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  options: { deadline: number; everyMs: number },
): Promise<T | undefined> {
  for (;;) {
    const answer = await probe();
    if (answer !== undefined) return answer;
    if (Date.now() >= options.deadline) return undefined;
    await sleep(Math.max(1, Math.min(options.everyMs, options.deadline - Date.now())));
  }
}
