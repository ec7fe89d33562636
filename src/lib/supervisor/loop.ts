// The supervisor loop: observe -> decide -> act -> state file -> log, once per
// heartbeat.interval, until asked to stop. Stopping never touches PostgreSQL or the VIPs.
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { configHash } from '../config/hash.js';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { messageOf } from '../errors.js';
import { act } from './act.js';
import { decide } from './decide.js';
import type { JsonLog } from './log.js';
import { observe } from './observe.js';
import { processStartTicks, stateFilePath, writeSupervisorState } from './state-file.js';
import { initialMemory, type Action, type Decision, type Memory } from './types.js';

export interface LoopOptions {
  once: boolean;
  dryRun: boolean;
  log: JsonLog;
  /** Aborted by SIGTERM/SIGINT: the loop ends after the current iteration. */
  signal: AbortSignal;
  /** skypg's version, recorded in the state file for `skypg doctor`. */
  version?: string;
}

export interface LoopSummary {
  loops: number;
  lastDecision: Decision | undefined;
}

export function describeAction(action: Action): string {
  if (action.kind === 'take-vip' || action.kind === 'drop-vip')
    return `${action.kind} ${action.role}`;
  if (action.kind === 'demote') return `demote (${action.mode})`;
  if (action.kind === 'set-async')
    return action.recordDegrade ? 'set-async (degrade recorded)' : 'set-async';
  return action.kind;
}

export async function runSupervisor(
  config: ClusterConfig,
  node: NodeConfig,
  options: LoopOptions,
): Promise<LoopSummary> {
  const { log } = options;
  const statePath = stateFilePath(config, node.name);
  const startedAt = new Date().toISOString();
  const pidStartTicks = (await processStartTicks('self')) ?? 0;
  const hash = configHash(config);
  let memory: Memory = initialMemory;
  let lastActionError: string | undefined;
  let fenceFailed = false;
  let previous: Decision | undefined;
  let loops = 0;
  log.write({
    event: 'start',
    node: node.name,
    detail: `supervisor pid ${process.pid}${options.dryRun ? ' (dry run: actions are logged, not done)' : ''}`,
  });
  while (!options.signal.aborted) {
    const loopStarted = Date.now();
    loops += 1;
    let decision: Decision;
    try {
      const observation = await observe(config, node, () => Date.now());
      if (lastActionError !== undefined) observation.lastActionError = lastActionError;
      decision = decide(observation, memory, config);
    } catch (error) {
      log.write({
        event: 'error',
        node: node.name,
        detail: `observation failed: ${messageOf(error)}`,
      });
      await pause(config, loopStarted, options.signal);
      continue;
    }
    const changed =
      previous === undefined ||
      previous.rule !== decision.rule ||
      previous.state !== decision.state;
    if (changed || decision.actions.length > 0) {
      log.write({
        event: 'decision',
        node: node.name,
        state: decision.state,
        rule: decision.rule,
        reason: decision.reason,
      });
    }
    lastActionError = undefined;
    fenceFailed = false;
    if (!options.dryRun) {
      for (const outcome of await act(config, node, decision.actions)) {
        log.write({
          event: 'action',
          node: node.name,
          action: describeAction(outcome.action),
          result: outcome.ok ? 'ok' : 'failed',
          detail: outcome.detail,
          durationMs: outcome.ms,
        });
        if (!outcome.ok) lastActionError = outcome.detail;
        if (outcome.code === 'FENCE_FAILED') fenceFailed = true;
      }
    } else {
      for (const action of decision.actions)
        log.write({
          event: 'action',
          node: node.name,
          action: describeAction(action),
          detail: 'dry run: not done',
        });
    }
    memory = decision.memory;
    previous = decision;
    await writeSupervisorState(statePath, {
      version: 1,
      cluster: config.cluster,
      node: node.name,
      pid: process.pid,
      pidStartTicks,
      startedAt,
      updatedAt: new Date().toISOString(),
      loops,
      // No fence level left: never promoted, said loudly (check-alive CRITICAL), retried every loop.
      state: fenceFailed ? 'fence-failed' : decision.state,
      reason: fenceFailed
        ? `${lastActionError ?? ''} (retried every loop)`
        : lastActionError === undefined
          ? decision.reason
          : `${decision.reason}; last action failed: ${lastActionError}`,
      paused: decision.state === 'paused',
      ...(options.version === undefined ? {} : { skypgVersion: options.version }),
      configHash: hash,
      pgWal: await readlink(join(node.data_dir, 'pg_wal')).catch(() => null),
    }).catch((error: unknown) => {
      log.write({
        event: 'error',
        node: node.name,
        detail: `cannot write the state file ${statePath}: ${messageOf(error)}`,
      });
    });
    if (options.once) break;
    await pause(config, loopStarted, options.signal, decision.nextLoopMs);
  }
  log.write({
    event: 'stop',
    node: node.name,
    detail: `after ${loops} loops; PostgreSQL and the VIPs are left as they are`,
  });
  return { loops, lastDecision: previous };
}

/** Sleeps the rest of the interval (at least a moment, so a slow loop cannot spin). */
async function pause(
  config: ClusterConfig,
  loopStarted: number,
  signal: AbortSignal,
  intervalMs = config.heartbeat.interval,
): Promise<void> {
  const left = Math.max(50, intervalMs - (Date.now() - loopStarted));
  await sleep(left, undefined, { signal }).catch(() => undefined);
}
