// Cuts the loop's pause short: the peer's beacon went silent, or this node's postmaster died.
// A wake that comes while the loop is busy is kept, so the next pause ends at once.
import { isLiveProcess } from '../process/proc.js';

export class Waker {
  private pending: string | undefined;
  private waiters: (() => void)[] = [];

  /** Ends the current (or next) pause; reason is what the loop logs. */
  wake(reason: string): void {
    this.pending ??= reason;
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  /** The reason of a wake since the last take, and clears it (the loop calls it as it observes). */
  take(): string | undefined {
    const reason = this.pending;
    this.pending = undefined;
    return reason;
  }

  /** Resolves at the first wake (at once if one is pending), or when signal aborts. */
  next(signal: AbortSignal): Promise<void> {
    if (this.pending !== undefined || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        signal.removeEventListener('abort', done);
        this.waiters = this.waiters.filter((waiter) => waiter !== done);
        resolve();
      };
      this.waiters.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/**
 * Watches the postmaster the last observation found, every intervalMs: when it is gone, wakes
 * the loop (a crashed primary is restarted in place within a tick, not at the next loop).
 * Costs one read of /proc/PID/stat per tick (a zombie counts as gone: kill(pid, 0) would not).
 */
export function watchPostmaster(
  waker: Waker,
  intervalMs: number,
  alive: (pid: number) => Promise<boolean> = isLiveProcess,
): { watch: (pid: number | undefined) => void; stop: () => void } {
  let watched: number | undefined;
  const timer = setInterval(() => {
    const pid = watched;
    if (pid === undefined) return;
    void alive(pid).then((live) => {
      if (live || watched !== pid) return;
      watched = undefined;
      waker.wake(`postmaster ${pid} is gone`);
    });
  }, intervalMs);
  timer.unref();
  return {
    watch: (pid) => {
      watched = pid;
    },
    stop: () => {
      clearInterval(timer);
    },
  };
}
