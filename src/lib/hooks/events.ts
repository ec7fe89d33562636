// Which hook events one loop report or one action set's report means: a pure function of the
// report and a small memory, table-tested (test/unit/hooks-events.test.ts). docs/hooks.md says
// when each event fires; this is that text as code.
import type { HookEventName } from '../config/types.js';
import type { ActionsReport, LoopReport } from '../supervisor/loop.js';
import type { SupervisorStateName } from '../supervisor/types.js';

/** This node's role as hooks see it. */
export type NodeRole = 'primary' | 'standby' | 'demoted' | 'unknown';

/** One event for the hooks: what SKYPG_* tells the hook (environment.ts). */
export interface HookEvent {
  event: HookEventName | 'pre_promote';
  /** This node's role once the event happened. */
  role: NodeRole;
  /** role_change: the role before. */
  previousRole?: NodeRole;
  /** The supervisor state of the decision behind the event. */
  state: string;
  /** The rule of that decision, when one is behind it. */
  rule?: string;
  /** One line: the decision's reason or the action's outcome. */
  reason: string;
  /** A keyword per event (docs/hooks.md): how it came about. */
  detail: string;
  /** This node's timeline as last seen (for promote: the new one). */
  timeline?: number;
  /** When it happened (ms since the epoch, this host's clock). */
  at: number;
}

/** What event derivation remembers between reports. */
export interface EventMemory {
  /** The role the last decision with a role gave; undefined before the first since start. */
  role?: NodeRole;
  timeline?: number;
  /** A failover-blocked episode is open (its event fired). */
  blocked: boolean;
  /** The switchover flag (its startedAt) reported as started and not yet seen gone. */
  switchoverStartedAt?: number;
}

export const initialEventMemory: EventMemory = { blocked: false };

/**
 * The states that are roles; the others (starting, promoting, rejoining, blocked, paused,
 * switchover) are on the way between roles and leave the role as it was.
 */
const roleOfState: Partial<Record<SupervisorStateName, NodeRole>> = {
  primary: 'primary',
  standby: 'standby',
  demoted: 'demoted',
};

/**
 * Decisions that keep a standby from taking over a primary already declared failed (besides
 * state blocked). A test checks that each is a rule of the failover table.
 */
export const failoverBlockingRules: readonly string[] = [
  'standby-self-suspect',
  'standby-lag-too-high',
  'standby-sync-unsafe',
];

export interface Derived {
  events: HookEvent[];
  memory: EventMemory;
}

/** The events of one loop: role change, failover blocked, switchover started or finished. */
export function loopEvents(memory: EventMemory, report: LoopReport): Derived {
  const { decision, observation } = report;
  if (decision === undefined) return { events: [], memory };
  const local = observation?.local;
  const timeline = (local?.answering === true ? local.timeline : undefined) ?? memory.timeline;
  const role = roleOfState[decision.state];
  const currentRole = role ?? memory.role ?? 'unknown';
  const base = {
    state: decision.state,
    rule: decision.rule,
    reason: decision.reason,
    at: report.endedAt,
    ...(timeline === undefined ? {} : { timeline }),
  };
  const events: HookEvent[] = [];

  // The first role since the supervisor started is no change: nothing is known before it.
  if (role !== undefined && memory.role !== undefined && role !== memory.role) {
    events.push({
      event: 'role_change',
      role,
      previousRole: memory.role,
      detail: `${memory.role}-to-${role}`,
      ...base,
    });
  }

  const blocking = decision.state === 'blocked' || failoverBlockingRules.includes(decision.rule);
  if (blocking && !memory.blocked)
    events.push({ event: 'failover_blocked', role: currentRole, detail: decision.rule, ...base });
  // A failed promotion is retried through state promoting: the same episode.
  const blocked = blocking || (memory.blocked && decision.state === 'promoting');

  // The flag lives in the heartbeat row: only a server that answers shows whether it is there.
  let switchoverStartedAt = memory.switchoverStartedAt;
  const flag = local?.answering === true ? local.switchover : undefined;
  if (
    switchoverStartedAt !== undefined &&
    local?.answering === true &&
    flag?.startedAt !== switchoverStartedAt
  ) {
    events.push({ event: 'switchover', role: currentRole, detail: 'finished', ...base });
    switchoverStartedAt = undefined;
  }
  if (
    decision.state === 'switchover' &&
    flag !== undefined &&
    flag.startedAt !== switchoverStartedAt
  ) {
    events.push({ event: 'switchover', role: currentRole, detail: 'started', ...base });
    switchoverStartedAt = flag.startedAt;
  }

  return {
    events,
    memory: {
      ...(role === undefined && memory.role === undefined ? {} : { role: currentRole }),
      ...(timeline === undefined ? {} : { timeline }),
      blocked,
      ...(switchoverStartedAt === undefined ? {} : { switchoverStartedAt }),
    },
  };
}

/** The events of one finished action set: fence, promote, demote, rejoin, hand-over, or a
 * failed fence or promotion (failover blocked). */
export function actionEvents(memory: EventMemory, report: ActionsReport): Derived {
  const { decision } = report;
  const events: HookEvent[] = [];
  let { blocked, timeline } = memory;
  const at = report.endedAt;
  const event = (
    name: HookEvent['event'],
    role: NodeRole,
    detail: string,
    reason: string,
  ): HookEvent => ({
    event: name,
    role,
    state: decision.state,
    rule: decision.rule,
    reason,
    detail,
    at,
    ...(timeline === undefined ? {} : { timeline }),
  });
  const role = memory.role ?? 'unknown';
  let fenceEffect: string | undefined;
  for (const outcome of report.outcomes) {
    const { action } = outcome;
    if (!outcome.ok) {
      if ((action.kind === 'fence-peer' || action.kind === 'promote') && !blocked) {
        events.push(event('failover_blocked', role, `${action.kind}-failed`, outcome.detail));
        blocked = true;
      }
      continue;
    }
    switch (action.kind) {
      case 'fence-peer':
        fenceEffect = outcome.fence;
        if (outcome.fence === 'powered-off' || outcome.fence === 'already-off')
          events.push(event('fence', role, outcome.fence, outcome.detail));
        break;
      case 'promote':
        if (fenceEffect === 'already-primary') break;
        timeline = outcome.timeline ?? timeline;
        events.push(event('promote', 'primary', fenceEffect ?? 'not-needed', outcome.detail));
        break;
      case 'demote':
        events.push(event('demote', 'demoted', action.mode, outcome.detail));
        break;
      case 'rebuild':
        events.push(event('rejoin', 'standby', 'rebuild', outcome.detail));
        break;
      case 'start-standby':
        events.push(event('rejoin', 'standby', 'start', outcome.detail));
        break;
      case 'hand-over':
        events.push(event('switchover', 'standby', 'handed-over', outcome.detail));
        break;
      default:
        break;
    }
  }
  return {
    events,
    memory: { ...memory, blocked, ...(timeline === undefined ? {} : { timeline }) },
  };
}
