// Runs a task now and then every interval until SIGINT/SIGTERM (status --watch).
import { setTimeout as sleep } from 'node:timers/promises';

export async function repeatUntilInterrupted(
  intervalMs: number,
  task: () => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => {
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    while (!stop.signal.aborted) {
      await task();
      await sleep(intervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
