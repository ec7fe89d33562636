// Event hooks (config `hooks:`): the operator's commands run on role changes, fences,
// promotions... (issue 16, part 3). The supervisor loop tells this watcher what happened.
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import type { LoopLog, LoopWatcher } from '../supervisor/loop.js';

export interface HookWatcher extends LoopWatcher {
  /** Waits for running hooks to end (each within its timeout) when the supervisor stops. */
  close: () => Promise<void>;
}

/** Not built yet: no hook runs. The supervisor command already passes this watcher to the loop. */
export function createHookWatcher(
  _config: ClusterConfig,
  _node: NodeConfig,
  _log: LoopLog,
  _options: { dryRun: boolean },
): HookWatcher {
  return { name: 'event hooks', close: () => Promise.resolve() };
}
