// Recording fakes for the supervisor loop's dependencies (LoopDeps in supervisor/loop.ts): a
// virtual clock, a scripted observe and act, a state file and a log that only record. The loop
// under test is the real one, with the real decide().
import type { ActionOutcome } from '../../src/lib/supervisor/act.js';
import type { LogEntry } from '../../src/lib/supervisor/log.js';
import type { ObserveHints } from '../../src/lib/supervisor/observe.js';
import { describeActions, type LoopDeps, type LoopLog } from '../../src/lib/supervisor/loop.js';
import type { SupervisorState } from '../../src/lib/supervisor/state-file.js';
import type { Action, Observation } from '../../src/lib/supervisor/types.js';

interface Timer {
  due: number;
  seq: number;
  wake: () => void;
}

/**
 * A clock that moves only when everything waits: whenever no promise can progress (the
 * microtasks ran out), the earliest sleep wakes and the time jumps to its end. So a loop of
 * many virtual minutes runs in milliseconds, and a sleep cut short by its signal costs no time.
 */
export class FakeClock {
  private nowMs: number;
  private readonly timers: Timer[] = [];
  private seq = 0;
  private scheduled = false;

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.nowMs = startMs;
  }

  readonly now = (): number => this.nowMs;

  readonly sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise<void>((resolve) => {
      if (signal?.aborted === true) {
        resolve();
        return;
      }
      const onAbort = (): void => {
        this.remove(timer);
        resolve();
      };
      const timer: Timer = {
        due: this.nowMs + ms,
        seq: this.seq++,
        wake: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.timers.push(timer);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.schedule();
    });

  private remove(timer: Timer): void {
    const at = this.timers.indexOf(timer);
    if (at >= 0) this.timers.splice(at, 1);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.fireEarliest();
    });
  }

  private fireEarliest(): void {
    const [earliest] = [...this.timers].sort((a, b) => a.due - b.due || a.seq - b.seq);
    if (earliest === undefined) return;
    this.remove(earliest);
    this.nowMs = Math.max(this.nowMs, earliest.due);
    earliest.wake();
    if (this.timers.length > 0) this.schedule();
  }
}

/** What one act call does: takes ms of the clock, then fails at an action or succeeds. */
export interface ActScript {
  ms?: number;
  /** Never finishes (an action without a deadline of its own). */
  hang?: boolean;
  /** The first action fails with this error. */
  fail?: { detail: string; code?: string };
}

export interface LoopScript {
  /** The observation of loop n (1-based); throw to fail it; a promise that waits may be late. */
  observe: (loop: number, now: number, clock: FakeClock) => Observation | Promise<Observation>;
  /** What act call n (1-based) does; by default it succeeds at once. */
  act?: (call: number, actions: Action[]) => ActScript;
  /** The loop is asked to stop (the signal) once it has observed this many times. */
  loops: number;
}

/** One act call: when it started and ended on the fake clock (ended undefined: still running). */
export interface ActCall {
  actions: Action[];
  startedAt: number;
  endedAt?: number;
}

/** The fakes, and what the loop did through them. */
export class LoopFakes {
  readonly clock: FakeClock;
  readonly stop = new AbortController();
  /** One line per effect, in order: "observe 1", "decision <rule>", "act <actions>",
   * "acted <actions>", "state <state> [running <actions>]", "error <detail>", "action <...>". */
  readonly journal: string[] = [];
  readonly logs: LogEntry[] = [];
  readonly states: SupervisorState[] = [];
  readonly observations: Observation[] = [];
  /** What the loop told each observe call (ObserveHints), in order. */
  readonly hints: ObserveHints[] = [];
  readonly actCalls: ActCall[] = [];
  readonly deps: LoopDeps;
  readonly log: LoopLog;
  private observed = 0;

  constructor(script: LoopScript, clock = new FakeClock()) {
    this.clock = clock;
    this.log = {
      write: (entry) => {
        this.logs.push(entry);
        if (entry.event === 'decision') this.journal.push(`decision ${entry.rule ?? ''}`);
        if (entry.event === 'error') this.journal.push(`error ${entry.detail ?? ''}`);
        if (entry.event === 'action')
          this.journal.push(`action ${entry.action ?? ''}: ${entry.detail ?? ''}`);
      },
    };
    this.deps = {
      observe: async (_config, _node, now, hints = {}) => {
        this.hints.push(hints);
        this.observed += 1;
        const loop = this.observed;
        this.journal.push(`observe ${loop}`);
        if (loop >= script.loops) this.stop.abort();
        const observation = await script.observe(loop, now(), clock);
        this.observations.push(observation);
        return observation;
      },
      act: async (_config, _node, actions) => {
        const call: ActCall = { actions, startedAt: clock.now() };
        this.actCalls.push(call);
        this.journal.push(`act ${describeActions(actions)}`);
        const plan = script.act?.(this.actCalls.length, actions) ?? {};
        if (plan.hang === true) await new Promise<never>(() => undefined);
        if (plan.ms !== undefined) await clock.sleep(plan.ms);
        call.endedAt = clock.now();
        this.journal.push(`acted ${describeActions(actions)}`);
        const ms = call.endedAt - call.startedAt;
        const [first] = actions;
        // Like act(): the first failure ends the set.
        if (plan.fail !== undefined && first !== undefined) {
          const failed: ActionOutcome = { action: first, ok: false, ms, detail: plan.fail.detail };
          if (plan.fail.code !== undefined) failed.code = plan.fail.code;
          return [failed];
        }
        return actions.map((action): ActionOutcome => ({ action, ok: true, ms, detail: 'done' }));
      },
      writeState: (_path, state) => {
        this.states.push(state);
        this.journal.push(
          `state ${state.state}${state.action === undefined ? '' : ` running ${state.action.name}`}`,
        );
        return Promise.resolve();
      },
      selfStartTicks: () => Promise.resolve(4242),
      pgWalTarget: () => Promise.resolve(null),
      now: clock.now,
      sleep: clock.sleep,
    };
  }
}
