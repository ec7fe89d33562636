// act(): carries out the decided actions in order, through the same library functions the
// commands use (`skypg promote` by hand and the supervisor's promotion are one code path).
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { peerOf } from '../config/local-node.js';
import { SkypgError, messageOf } from '../common/errors.js';
import { clearSyncDegrade, recordSyncDegrade } from '../heartbeat/table.js';
import { withSuperuserSession } from '../heartbeat/targets.js';
import { localTarget, withConnection } from '../pg/connect.js';
import { isCleanShutdown, readControlData } from '../pg/controldata.js';
import {
  programContext,
  runningPostmaster,
  startServer,
  stopServer,
} from '../pg/server-control.js';
import { releaseSlotsAsStandby } from '../pg/slots.js';
import { writeStandbyConfig } from '../pg/standby-config.js';
import { quoteIdent, quoteLiteral } from '../pg/sql.js';
import { promote } from '../actions/promote.js';
import { rebuildStandby, standbyConninfo } from '../actions/rebuild.js';
import { vipDown, vipUp } from '../net/vip.js';
import type { Action } from './types.js';

export interface ActionOutcome {
  action: Action;
  ok: boolean;
  ms: number;
  detail: string;
  /** The error's code when it failed (FENCE_FAILED: the loop reports state fence-failed). */
  code?: string;
}

/** Runs the actions in order; stops at the first failure (later ones assumed it succeeded). */
export async function act(
  config: ClusterConfig,
  node: NodeConfig,
  actions: Action[],
): Promise<ActionOutcome[]> {
  const outcomes: ActionOutcome[] = [];
  for (const action of actions) {
    const started = performance.now();
    try {
      const detail = await perform(config, node, action);
      outcomes.push({ action, ok: true, ms: Math.round(performance.now() - started), detail });
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

async function perform(config: ClusterConfig, node: NodeConfig, action: Action): Promise<string> {
  switch (action.kind) {
    case 'start-standby': {
      const peer = peerOf(config, node.name);
      await writeStandbyConfig(
        node.data_dir,
        standbyConninfo(config, node, peer),
        node.postgres.os_user,
      );
      await startServer(node);
      return `started ${node.name} as a standby of ${peer.name}${await releaseSlotsAsStandby(config, node)}`;
    }
    case 'take-vip': {
      const change = await vipUp(config, action.role);
      return change.changed ? `took the ${action.role} VIP` : `already held the ${action.role} VIP`;
    }
    case 'drop-vip': {
      const change = await vipDown(config, action.role);
      return change.changed
        ? `dropped the ${action.role} VIP`
        : `did not hold the ${action.role} VIP`;
    }
    case 'promote': {
      const result = await promote(config, node, { dryRun: false, ignoreLag: false, force: false });
      return `promoted ${node.name} to timeline ${String(result.timeline)} (${result.steps.map((step) => `${step.step} ${step.ms}ms`).join(', ')})`;
    }
    case 'demote': {
      if (action.mode === 'kill') {
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
    case 'hand-over':
      return handOver(config, node);
    case 'rebuild': {
      const result = await rebuildStandby(config, node, {
        method: 'auto',
        force: false,
        keepOld: false,
        timeoutMs: 60_000,
      });
      return `rebuilt ${node.name} as a standby by ${result.method} in ${result.totalMs}ms`;
    }
    case 'set-sync': {
      const peer = peerOf(config, node.name);
      await setSynchronousNames(node, quoteIdent(peer.name));
      await withSuperuserSession(config, node, 'socket', clearSyncDegrade);
      return `synchronous replication to ${peer.name} on`;
    }
    case 'set-async': {
      if (action.recordDegrade) {
        // Recorded first, as the local superuser (never the heartbeat role): the degrade
        // record decides whether the standby may promote (no acknowledged write lost).
        await withSuperuserSession(config, node, 'socket', recordSyncDegrade);
      }
      await setSynchronousNames(node, '');
      return action.recordDegrade
        ? 'standby gone too long: dropped to async (recorded)'
        : 'synchronous_standby_names cleared';
    }
  }
}

async function setSynchronousNames(node: NodeConfig, names: string): Promise<void> {
  await withConnection(localTarget(node), async (session) => {
    await session.query(`alter system set synchronous_standby_names = ${quoteLiteral(names)}`);
    const [reloaded] = await session.query<{ ok: boolean }>('select pg_reload_conf() as ok');
    if (reloaded?.ok !== true) throw new SkypgError('COMMAND_FAILED', 'pg_reload_conf() failed');
  });
}

/**
 * Switchover, on the old primary. A fast shutdown refuses new work, writes the shutdown
 * checkpoint and waits until the standby has flushed all WAL; only then does the primary VIP go
 * (the standby may stream through it). Restarted as a standby (of the primary VIP), it is never
 * a primary again by itself, and `skypg switchover` reads its shutdown checkpoint through SQL.
 */
async function handOver(config: ClusterConfig, node: NodeConfig): Promise<string> {
  await stopServer(node, 'fast', 30_000);
  if (config.vip.primary) await vipDown(config, 'primary');
  const control = await readControlData(await programContext(node), node.data_dir);
  if (!isCleanShutdown(control)) {
    throw new SkypgError(
      'PARTIAL',
      `${node.name} stopped but its control file says "${control.clusterState}": left stopped`,
    );
  }
  const peer = peerOf(config, node.name);
  await writeStandbyConfig(
    node.data_dir,
    standbyConninfo(config, node, peer),
    node.postgres.os_user,
  );
  await startServer(node);
  return `handed over: shut down cleanly at checkpoint ${control.checkpointLsn} (timeline ${control.checkpointTimeline}), primary VIP dropped, restarted as a standby of ${peer.name}${await releaseSlotsAsStandby(config, node)}`;
}
