// Event hooks (config `hooks:`, docs/hooks.md): the operator's commands run on role changes,
// fences, promotions... The supervisor loop tells this watcher what each loop decided and what
// each action set did; events.ts turns that into events, runner.ts runs their hooks without
// making the loop wait.
import type { ClusterConfig, HookEventName, NodeConfig } from '../config/types.js';
import type { LoopLog, LoopWatcher } from '../supervisor/loop.js';
import { hookEnvironment, hookIdentity } from './environment.js';
import {
  actionEvents,
  initialEventMemory,
  loopEvents,
  type Derived,
  type EventMemory,
} from './events.js';
import { HookRunner, type HookStats } from './runner.js';
import { runHook, type RunHook } from './run-hook.js';

export interface HookWatcher extends LoopWatcher {
  /** Waits for running hooks to end (each within its timeout) when the supervisor stops. */
  close: () => Promise<void>;
  /** The counters of runner.ts's HookStats, for the health API's /metrics. */
  stats: () => HookStats;
}

export function createHookWatcher(
  config: ClusterConfig,
  node: NodeConfig,
  log: LoopLog,
  options: { dryRun: boolean },
  deps: { run?: RunHook; now?: () => number } = {},
): HookWatcher {
  const now = deps.now ?? Date.now;
  const runner = new HookRunner(config.hooks.commands, {
    node: node.name,
    timeoutMs: config.hooks.timeout,
    log,
    run: deps.run ?? runHook,
    now,
  });
  const who = hookIdentity(config, node);
  let memory: EventMemory = initialEventMemory;
  const deliver = ({ events, memory: next }: Derived): void => {
    memory = next;
    for (const event of events) {
      if (event.event === 'pre_promote') continue;
      const name: HookEventName = event.event;
      if (!runner.has(name)) continue;
      if (options.dryRun) {
        log.write({
          event: 'hook',
          node: node.name,
          action: `on_${name}`,
          detail: `dry run: not run (${event.detail})`,
        });
        continue;
      }
      runner.enqueue({ event: name, env: hookEnvironment(event, who) });
    }
  };
  return {
    name: 'event hooks',
    loopEnded: (report) => {
      deliver(loopEvents(memory, report));
    },
    actionsEnded: (report) => {
      deliver(actionEvents(memory, report));
    },
    close: () => runner.close(),
    stats: () => runner.stats(),
  };
}
