// Runs the event hooks without ever making the loop wait: enqueue() returns at once. Each
// hook (one per event name) has its own queue and runs its events one at a time, in order, each
// within hooks.timeout; different hooks run side by side. Unlike a runner that kills the
// running callback when the next event comes, nothing is cut short by a newer event: a slow
// hook only delays its own later events. A queue holds at most maxQueued events; past that the
// oldest waiting one is dropped, and every drop is logged.
import type { HookCommand, HookEventName } from '../config/types.js';
import { formatDuration } from '../config/units.js';
import { messageOf } from '../common/errors.js';
import type { LoopLog } from '../supervisor/loop.js';
import type { RunHook } from './run-hook.js';

/**
 * Counters over the supervisor's life, for /metrics (each a Prometheus counter, but running
 * and queued, which are gauges): started = succeeded + failed + timedOut + running.
 */
export interface HookStats {
  /** Hook runs begun. */
  started: number;
  /** Ended with exit status 0. */
  succeeded: number;
  /** Ended with another status, or could not be started. */
  failed: number;
  /** Killed at hooks.timeout. */
  timedOut: number;
  /** Events dropped from a full queue, or still waiting when the supervisor stopped. */
  dropped: number;
  /** Running now. */
  running: number;
  /** Waiting in the queues now. */
  queued: number;
}

export interface QueuedHook {
  event: HookEventName;
  env: Record<string, string>;
}

interface HookQueue {
  command: HookCommand;
  waiting: QueuedHook[];
  running: Promise<void> | undefined;
}

export interface HookRunnerOptions {
  node: string;
  timeoutMs: number;
  log: LoopLog;
  run: RunHook;
  now: () => number;
  maxQueued?: number;
}

export const defaultMaxQueued = 16;

export class HookRunner {
  private readonly queues = new Map<HookEventName, HookQueue>();
  private readonly counts = { started: 0, succeeded: 0, failed: 0, timedOut: 0, dropped: 0 };
  private closed = false;

  constructor(
    commands: Partial<Record<HookEventName, HookCommand>>,
    private readonly options: HookRunnerOptions,
  ) {
    for (const [event, command] of Object.entries(commands) as [HookEventName, HookCommand][])
      this.queues.set(event, { command, waiting: [], running: undefined });
  }

  /** Whether an event has a hook at all. */
  has(event: HookEventName): boolean {
    return this.queues.has(event);
  }

  /** Queues the event for its hook (if it has one) and returns at once. */
  enqueue(item: QueuedHook): void {
    const queue = this.queues.get(item.event);
    if (queue === undefined) return;
    if (this.closed) {
      this.drop(item, 'the supervisor is stopping');
      return;
    }
    const limit = this.options.maxQueued ?? defaultMaxQueued;
    if (queue.waiting.length >= limit) {
      const oldest = queue.waiting.shift();
      if (oldest !== undefined)
        this.drop(oldest, `its queue is full (${limit} waiting behind a running one)`);
    }
    queue.waiting.push(item);
    this.pump(queue);
  }

  stats(): HookStats {
    let running = 0;
    let queued = 0;
    for (const queue of this.queues.values()) {
      if (queue.running !== undefined) running += 1;
      queued += queue.waiting.length;
    }
    return { ...this.counts, running, queued };
  }

  /** Drops what waits (logged) and waits for the running hooks, each within its timeout. */
  async close(): Promise<void> {
    this.closed = true;
    for (const queue of this.queues.values()) {
      for (const item of queue.waiting.splice(0)) this.drop(item, 'the supervisor is stopping');
    }
    await Promise.all([...this.queues.values()].map((queue) => queue.running ?? Promise.resolve()));
  }

  private pump(queue: HookQueue): void {
    if (queue.running !== undefined) return;
    const next = queue.waiting.shift();
    if (next === undefined) return;
    queue.running = this.runOne(queue.command, next).finally(() => {
      queue.running = undefined;
      if (!this.closed) this.pump(queue);
    });
  }

  private async runOne(command: HookCommand, item: QueuedHook): Promise<void> {
    const { log, node, run, timeoutMs, now } = this.options;
    const begun = now();
    this.counts.started += 1;
    const action = `on_${item.event} ${command.path}`;
    let result: 'ok' | 'failed' = 'failed';
    let detail: string;
    try {
      const outcome = await run(command, item.env, timeoutMs);
      const said = outcome.said === undefined ? '' : `: ${outcome.said}`;
      if (outcome.timedOut) {
        this.counts.timedOut += 1;
        detail = `timed out after ${formatDuration(timeoutMs)} (hooks.timeout): killed it and what it started`;
      } else if (outcome.exitCode !== 0) {
        this.counts.failed += 1;
        detail = `exit ${String(outcome.exitCode)}${said}`;
      } else {
        this.counts.succeeded += 1;
        result = 'ok';
        detail = `exit 0${said}`;
      }
    } catch (error) {
      this.counts.failed += 1;
      detail = `could not be run: ${messageOf(error)}`;
    }
    log.write({
      event: 'hook',
      node,
      action,
      result,
      detail: `${item.env['SKYPG_DETAIL'] ?? ''} at ${item.env['SKYPG_TIME'] ?? ''}: ${detail}`,
      durationMs: now() - begun,
    });
  }

  private drop(item: QueuedHook, why: string): void {
    this.counts.dropped += 1;
    this.options.log.write({
      event: 'hook',
      node: this.options.node,
      action: `on_${item.event}`,
      result: 'failed',
      detail: `dropped the ${item.env['SKYPG_DETAIL'] ?? ''} event of ${item.env['SKYPG_TIME'] ?? ''}: ${why}`,
    });
  }
}
