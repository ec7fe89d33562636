// The environment a hook runs with: only the documented SKYPG_* variables and a fixed PATH.
// Nothing is inherited from the supervisor (run-hook.ts starts it with `env -i`), so neither
// PGPASSWORD nor anything else of skypg's own environment can reach a hook.
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { peerOf } from '../config/local-node.js';
import type { HookEvent } from './events.js';

/** The PATH hooks get: the system's programs, nothing from the supervisor's environment. */
export const hookPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Who the events are about: the same for every event of one supervisor. */
export interface HookIdentity {
  cluster: string;
  node: string;
  peer: string;
}

export function hookIdentity(config: ClusterConfig, node: NodeConfig): HookIdentity {
  return { cluster: config.cluster, node: node.name, peer: peerOf(config, node.name).name };
}

/** Longest value handed over: a reason is one sentence, never a file. */
const maxValueLength = 2000;

/** One line, bounded: control characters (a newline in a program's message) become spaces. */
function oneLine(text: string): string {
  let out = '';
  for (const character of text.slice(0, maxValueLength)) {
    const code = character.charCodeAt(0);
    out += code < 0x20 || code === 0x7f ? ' ' : character;
  }
  return out;
}

/** The complete environment of a hook for an event (docs/hooks.md, "Environment"). */
export function hookEnvironment(event: HookEvent, who: HookIdentity): Record<string, string> {
  return {
    PATH: hookPath,
    SKYPG_EVENT: event.event,
    SKYPG_CLUSTER: who.cluster,
    SKYPG_NODE: who.node,
    SKYPG_PEER: who.peer,
    SKYPG_ROLE: event.role,
    SKYPG_PREVIOUS_ROLE: event.previousRole ?? '',
    SKYPG_STATE: event.state,
    SKYPG_RULE: event.rule ?? '',
    SKYPG_DETAIL: oneLine(event.detail),
    SKYPG_REASON: oneLine(event.reason),
    SKYPG_TIMELINE: event.timeline === undefined ? '' : String(event.timeline),
    SKYPG_TIME: new Date(event.at).toISOString(),
  };
}
