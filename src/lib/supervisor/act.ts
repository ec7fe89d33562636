// act(): carries out the decided actions in order, through the same library functions the
// commands use (`skypg promote` by hand and the supervisor's promotion are one code path).
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { peerOf } from '../config/local-node.js';
import { SkypgError, messageOf } from '../common/errors.js';
import { clearSyncDegrade, recordSyncDegrade } from '../heartbeat/table.js';
import { withSuperuserSession } from '../heartbeat/targets.js';
import { localTarget, withConnection } from '../pg/connect.js';
import { runningPostmaster, startServer, stopServer } from '../pg/server-control.js';
import { releaseSlotsAsStandby } from '../pg/slots.js';
import { writeStandbyConfig } from '../pg/standby-config.js';
import { quoteIdent, quoteLiteral } from '../pg/sql.js';
import {
  clearOldPrimary,
  primaryVipTakeOptions,
  promoteHere,
  type PromotionClearance,
} from '../actions/promote.js';
import type { StepRecord } from '../actions/steps.js';
import { rebuildStandby, standbyConninfo } from '../actions/rebuild.js';
import { handOverPrimary, realHandOverDeps } from '../actions/switchover-handover.js';
import { runPrePromoteHook, type PrePromoteContext } from '../hooks/pre-promote.js';
import { vipDown, vipUp } from '../net/vip.js';
import type { Action } from './types.js';

/**
 * How fence-peer cleared the old primary: powered it off, found it off (the fence device said
 * so), needed no fence (it answered as a standby, or its self-demotion deadline passed), or
 * this node was already the primary.
 */
export type FenceEffect = 'powered-off' | 'already-off' | 'not-needed' | 'already-primary';

export interface ActionOutcome {
  action: Action;
  ok: boolean;
  ms: number;
  detail: string;
  /** The error's code when it failed (FENCE_FAILED: the loop reports state fence-failed). */
  code?: string;
  /** fence-peer that succeeded: how (the event hooks tell on_fence from it). */
  fence?: FenceEffect;
  /** promote that succeeded: the new timeline. */
  timeline?: number;
}

/**
 * Everything act() does to the outside, one function per effect, so its own logic (order, the
 * first failure ends the set, the fence-peer → promote hand-off) is unit-tested with recording
 * fakes; realActDeps are the library functions the commands use.
 */
export interface ActDeps {
  clearOldPrimary: (
    config: ClusterConfig,
    node: NodeConfig,
    options: { peerUnanswered: boolean },
  ) => Promise<PromotionClearance>;
  promoteHere: (
    config: ClusterConfig,
    node: NodeConfig,
    clearance: PromotionClearance,
  ) => Promise<number>;
  vipUp: (
    config: ClusterConfig,
    role: 'primary' | 'standby',
    options: { dadTimeoutMs?: number },
  ) => Promise<{ changed: boolean }>;
  vipDown: (config: ClusterConfig, role: 'primary' | 'standby') => Promise<{ changed: boolean }>;
  startStandby: (config: ClusterConfig, node: NodeConfig) => Promise<string>;
  /** Starts the crashed primary's data directory again as it is (no standby files). */
  restartPrimary: (node: NodeConfig) => Promise<string>;
  demote: (node: NodeConfig, mode: 'fast' | 'kill') => Promise<string>;
  handOver: (config: ClusterConfig, node: NodeConfig) => Promise<string>;
  rebuild: (config: ClusterConfig, node: NodeConfig) => Promise<string>;
  setSync: (config: ClusterConfig, node: NodeConfig) => Promise<string>;
  setAsync: (config: ClusterConfig, node: NodeConfig, recordDegrade: boolean) => Promise<string>;
  /**
   * hooks.pre_promote, between fence-peer and pg_promote(): resolves with what it said when it
   * allows the promotion (undefined when none is configured), throws REFUSED when it vetoes.
   */
  prePromote: (
    config: ClusterConfig,
    node: NodeConfig,
    context: PrePromoteContext,
  ) => Promise<string | undefined>;
}

/**
 * After an observation in which the peer answered nothing, how long fence-peer still waits for
 * it to answer as a standby once its fence device said it is powered on: a standby that came up
 * meanwhile answers well within it on a LAN, and a peer that does not is fenced (the safe side:
 * at worst a standby is powered off). Without it a cut-off or frozen peer costs the failover its
 * whole connect timeout a second time. The fence status query runs beside the peer's check and
 * takes about 50 ms, so a standby has about 150 ms in all.
 */
export const poweredOnStandbyAnswerMs = 100;

export const realActDeps: ActDeps = {
  clearOldPrimary: (config, node, { peerUnanswered }) =>
    clearOldPrimary(config, node, {
      dryRun: false,
      ignoreLag: false,
      force: false,
      ...(peerUnanswered ? { poweredOnAnswerMs: poweredOnStandbyAnswerMs } : {}),
    }),
  promoteHere,
  vipUp: (config, role, options) => vipUp(config, role, options),
  vipDown: (config, role) => vipDown(config, role),
  startStandby,
  restartPrimary,
  demote,
  handOver,
  rebuild: async (config, node) => {
    const result = await rebuildStandby(config, node, {
      method: 'auto',
      force: false,
      keepOld: false,
      timeoutMs: 60_000,
    });
    return `rebuilt ${node.name} as a standby by ${result.method} in ${result.totalMs}ms`;
  },
  setSync: async (config, node) => {
    const peer = peerOf(config, node.name);
    await setSynchronousNames(node, quoteIdent(peer.name));
    await withSuperuserSession(config, node, 'socket', clearSyncDegrade);
    return `synchronous replication to ${peer.name} on`;
  },
  setAsync: async (config, node, recordDegrade) => {
    if (recordDegrade) {
      // Recorded first, as the local superuser (never the heartbeat role): the degrade
      // record decides whether the standby may promote (no acknowledged write lost).
      await withSuperuserSession(config, node, 'socket', recordSyncDegrade);
    }
    await setSynchronousNames(node, '');
    return recordDegrade
      ? 'standby gone too long: dropped to async (recorded)'
      : 'synchronous_standby_names cleared';
  },
  prePromote: (config, node, context) => runPrePromoteHook(config, node, context),
};

/** What one set's earlier actions tell its later ones: the promotion's clearance. */
interface ActionSetContext {
  clearance?: PromotionClearance;
  /** How fence-peer cleared the old primary, and what it said. */
  fence?: { effect: FenceEffect; detail: string };
  /** The timeline promote reached. */
  timeline?: number;
}

/** Runs the actions in order; stops at the first failure (later ones assumed it succeeded). */
export async function act(
  config: ClusterConfig,
  node: NodeConfig,
  actions: Action[],
  deps: ActDeps = realActDeps,
): Promise<ActionOutcome[]> {
  const outcomes: ActionOutcome[] = [];
  const context: ActionSetContext = {};
  for (const action of actions) {
    const started = performance.now();
    try {
      const detail = await perform(config, node, action, context, deps);
      outcomes.push({
        action,
        ok: true,
        ms: Math.round(performance.now() - started),
        detail,
        ...(action.kind === 'fence-peer' && context.fence ? { fence: context.fence.effect } : {}),
        ...(action.kind === 'promote' && context.timeline !== undefined
          ? { timeline: context.timeline }
          : {}),
      });
    } catch (error) {
      outcomes.push({
        action,
        ok: false,
        ms: Math.round(performance.now() - started),
        detail: messageOf(error),
        ...(error instanceof SkypgError ? { code: error.code } : {}),
      });
      break;
    }
  }
  return outcomes;
}

async function perform(
  config: ClusterConfig,
  node: NodeConfig,
  action: Action,
  context: ActionSetContext,
  deps: ActDeps,
): Promise<string> {
  switch (action.kind) {
    case 'start-standby':
      return deps.startStandby(config, node);
    case 'restart-primary':
      return deps.restartPrimary(node);
    case 'take-vip': {
      // Right after this set fenced the old primary (or found it off) nobody else can answer
      // for the primary VIP: the duplicate-address check only listens briefly.
      const options =
        action.role === 'primary'
          ? primaryVipTakeOptions(config, context.clearance?.oldPrimaryOff ?? false)
          : {};
      const change = await deps.vipUp(config, action.role, options);
      return change.changed ? `took the ${action.role} VIP` : `already held the ${action.role} VIP`;
    }
    case 'drop-vip': {
      const change = await deps.vipDown(config, action.role);
      return change.changed
        ? `dropped the ${action.role} VIP`
        : `did not hold the ${action.role} VIP`;
    }
    case 'fence-peer': {
      const clearance = await deps.clearOldPrimary(config, node, {
        peerUnanswered: action.peerUnanswered === true,
      });
      context.clearance = clearance;
      const { result } = clearance;
      const done = result.alreadyPrimary
        ? `${node.name} is already the primary`
        : clearance.fenced
          ? `${peerOf(config, node.name).name} fenced (power off, verified)`
          : `${peerOf(config, node.name).name} cannot write: ${result.preconditions.at(-1)?.detail ?? 'checked'}`;
      const detail = `${done}${stepList(result.steps)}`;
      context.fence = { effect: fenceEffectOf(clearance), detail };
      return detail;
    }
    case 'promote': {
      const { clearance } = context;
      if (clearance === undefined)
        // The rule table pairs them (a self-check): a promote alone is a bug, never a guess.
        throw new SkypgError(
          'INTERNAL',
          'promote without a fence-peer action before it in the same set',
        );
      const before = clearance.result.steps.length;
      if (!clearance.result.alreadyPrimary) await askPrePromote(config, node, context, deps);
      const timeline = await deps.promoteHere(config, node, clearance);
      context.timeline = timeline;
      return `promoted ${node.name} to timeline ${String(timeline)}${stepList(clearance.result.steps.slice(before))}`;
    }
    case 'demote':
      return deps.demote(node, action.mode);
    case 'hand-over':
      return deps.handOver(config, node);
    case 'rebuild':
      return deps.rebuild(config, node);
    case 'set-sync':
      return deps.setSync(config, node);
    case 'set-async':
      return deps.setAsync(config, node, action.recordDegrade);
  }
}

/**
 * hooks.pre_promote, timed as a step of the promotion: a veto throws and ends the set before
 * pg_promote(), so the node stays a standby and the next loop sees why (lastActionError).
 */
async function askPrePromote(
  config: ClusterConfig,
  node: NodeConfig,
  context: ActionSetContext,
  deps: ActDeps,
): Promise<void> {
  const begun = performance.now();
  const fence = context.fence ?? { effect: 'not-needed', detail: '' };
  const said = await deps.prePromote(config, node, { fence: fence.effect, reason: fence.detail });
  if (said === undefined) return;
  context.clearance?.result.steps.push({
    step: 'pre_promote hook',
    ms: Math.round(performance.now() - begun),
    detail: said,
  });
}

/** What fence-peer's clearance says about the old primary, for the hooks. */
function fenceEffectOf(clearance: PromotionClearance): FenceEffect {
  if (clearance.result.alreadyPrimary) return 'already-primary';
  if (clearance.fenced) {
    // clearOldPrimary records the fence step with the fence's own outcome as its detail.
    const fenceStep = clearance.result.steps.find((step) => step.step.startsWith('fence '));
    return fenceStep?.detail === 'was already off' ? 'already-off' : 'powered-off';
  }
  return clearance.oldPrimaryOff ? 'already-off' : 'not-needed';
}

/** " (steps: a 12ms, b 3ms)": how the lab demo and the bench read a phase's timings back. */
function stepList(steps: StepRecord[]): string {
  return steps.length === 0
    ? ''
    : ` (steps: ${steps.map((step) => `${step.step} ${step.ms}ms`).join(', ')})`;
}

async function startStandby(config: ClusterConfig, node: NodeConfig): Promise<string> {
  return `started ${node.name} as ${await startAsStandby(config, node)}`;
}

/** Writes the standby files (following the peer) and starts the server: "a standby of PEER". */
async function startAsStandby(config: ClusterConfig, node: NodeConfig): Promise<string> {
  const peer = peerOf(config, node.name);
  await writeStandbyConfig(
    node.data_dir,
    standbyConninfo(config, node, peer),
    node.postgres.os_user,
  );
  await startServer(node);
  return `a standby of ${peer.name}${await releaseSlotsAsStandby(config, node)}`;
}

/**
 * The primary's own data directory, started as it is: crash recovery replays every record it
 * flushed, acknowledged writes included. Refused when standby.signal appeared meanwhile (then it
 * is not a crashed primary's directory any more).
 */
async function restartPrimary(node: NodeConfig): Promise<string> {
  if (await hasStandbySignal(node.data_dir)) {
    throw new SkypgError(
      'REFUSED',
      `${node.data_dir} has standby.signal: not restarting it as the primary`,
    );
  }
  await startServer(node);
  return `restarted ${node.name} in place as the primary (crash recovery)`;
}

async function hasStandbySignal(dataDir: string): Promise<boolean> {
  return access(join(dataDir, 'standby.signal')).then(
    () => true,
    () => false,
  );
}

async function demote(node: NodeConfig, mode: 'fast' | 'kill'): Promise<string> {
  if (mode === 'kill') {
    const pid = await runningPostmaster(node);
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
    return pid === undefined ? 'the postmaster was already gone' : `killed postmaster ${pid}`;
  }
  await stopServer(node, 'fast', 10_000).catch(async (error: unknown) => {
    // A fast shutdown that hangs must not keep a demoted primary alive.
    await stopServer(node, 'immediate', 10_000).catch(() => {
      throw error;
    });
  });
  return `stopped PostgreSQL on ${node.name}`;
}

async function setSynchronousNames(node: NodeConfig, names: string): Promise<void> {
  await withConnection(localTarget(node), async (session) => {
    await session.query(`alter system set synchronous_standby_names = ${quoteLiteral(names)}`);
    const [reloaded] = await session.query<{ ok: boolean }>('select pg_reload_conf() as ok');
    if (reloaded?.ok !== true) throw new SkypgError('COMMAND_FAILED', 'pg_reload_conf() failed');
  });
}

/**
 * Switchover, on the old primary: the steps and their order are in
 * actions/switchover-handover.ts. Restarted as a standby, it is never a primary again by
 * itself, and `skypg switchover` reads its shutdown checkpoint through SQL.
 */
async function handOver(config: ClusterConfig, node: NodeConfig): Promise<string> {
  return handOverPrimary(config, node, realHandOverDeps);
}
