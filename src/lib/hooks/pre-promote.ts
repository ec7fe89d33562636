// hooks.pre_promote: asked synchronously, between fence-peer and pg_promote(), whether the
// supervisor may promote this node. A non-zero exit or its timeout vetoes the promotion
// (docs/hooks.md says why that is a risk as well as a safeguard).
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { formatDuration } from '../config/units.js';
import { SkypgError } from '../common/errors.js';
import type { FenceEffect } from '../supervisor/act.js';
import { hookEnvironment, hookIdentity } from './environment.js';
import { runHook, type RunHook } from './run-hook.js';

/** What the promotion has established when pre_promote is asked. */
export interface PrePromoteContext {
  /** How fence-peer cleared the old primary. */
  fence: FenceEffect;
  /** fence-peer's outcome, one line. */
  reason: string;
}

/** Undefined when no pre_promote is configured; what it said when it allows; throws REFUSED. */
export async function runPrePromoteHook(
  config: ClusterConfig,
  node: NodeConfig,
  context: PrePromoteContext,
  run: RunHook = runHook,
  now: () => number = Date.now,
): Promise<string | undefined> {
  const hook = config.hooks.pre_promote;
  if (hook === undefined) return undefined;
  const env = hookEnvironment(
    {
      event: 'pre_promote',
      role: 'standby',
      state: 'promoting',
      reason: context.reason,
      detail: context.fence,
      at: now(),
    },
    hookIdentity(config, node),
  );
  const outcome = await run(hook.command, env, hook.timeout);
  const hint = `fix ${hook.command.path} or remove hooks.pre_promote: until then no automatic promotion of ${node.name} happens ('skypg promote' by hand does not ask it)`;
  if (outcome.timedOut) {
    throw new SkypgError(
      'REFUSED',
      `hooks.pre_promote ${hook.command.path} did not answer within ${formatDuration(hook.timeout)} (killed): not promoting ${node.name}`,
      { hint },
    );
  }
  const said = outcome.said === undefined ? '' : `: ${outcome.said}`;
  if (outcome.exitCode !== 0) {
    throw new SkypgError(
      'REFUSED',
      `hooks.pre_promote ${hook.command.path} vetoed promoting ${node.name} (exit ${String(outcome.exitCode)})${said}`,
      { hint },
    );
  }
  return `allowed${said}`;
}
