// The old primary's half of a switchover, run by its supervisor (the hand-over action of
// supervisor/act.ts): checkpoint, fast shutdown, check the control file, restart as a standby
// of the new primary's own address while still holding the primary VIP, and drop the VIP once
// the new primary answers for it. Every effect goes through HandOverDeps so the order and the
// waits are unit-tested with recording fakes; realHandOverDeps are the library functions.
// docs/operations.md ("Planned switchover") says why each step is where it is.
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { peerOf } from '../config/local-node.js';
import { SkypgError, messageOf } from '../common/errors.js';
import { isCleanShutdown, readControlData, type ControlData } from '../pg/controldata.js';
import { localTarget, withConnection } from '../pg/connect.js';
import { programContext, runningPostmaster, startServer } from '../pg/server-control.js';
import { releaseSlotsAsStandby } from '../pg/slots.js';
import { writeStandbyConfig } from '../pg/standby-config.js';
import { vipDown, vipStatus } from '../net/vip.js';
import { standbyConninfo } from './rebuild.js';
import { pollUntil, realPollClock, type PollClock } from './poll.js';

/** How long the old primary keeps the VIP after its stop, waiting for the new one to take it. */
export const handOverVipWaitMs = 3000;
/** One look for another holder of the VIP: a holder on the same link answers in well under this. */
const holderListenMs = 100;
/** How often the stop is checked (pg_ctl's own wait looks only every 100 ms). */
const stopPollMs = 5;
const stopTimeoutMs = 30_000;

export interface HandOverDeps {
  /** CHECKPOINT through the local socket, while the server still serves writes. */
  checkpoint: (node: NodeConfig) => Promise<void>;
  /** Asks for a fast shutdown without waiting for it. */
  requestFastStop: (node: NodeConfig) => Promise<void>;
  /** Whether the postmaster still runs. */
  running: (node: NodeConfig) => Promise<boolean>;
  /** Whether another host answers for the primary VIP (one short duplicate address look). */
  otherHolder: (config: ClusterConfig) => Promise<boolean>;
  dropVip: (config: ClusterConfig) => Promise<void>;
  controlData: (node: NodeConfig) => Promise<ControlData>;
  /** Writes the standby files, following the peer's own address (this node still holds the
   * primary VIP); they start nothing by themselves. */
  writeStandbyFiles: (config: ClusterConfig, node: NodeConfig) => Promise<void>;
  /** Starts the server, the standby those files make it: "a standby of PEER". */
  startStandby: (config: ClusterConfig, node: NodeConfig) => Promise<string>;
  clock: PollClock;
}

export const realHandOverDeps: HandOverDeps = {
  checkpoint: (node) =>
    withConnection(localTarget(node), async (session) => {
      await session.query('checkpoint');
    }),
  // SIGINT is what `pg_ctl stop -m fast` sends; sent from here it costs no program start.
  requestFastStop: async (node) => {
    const pid = await runningPostmaster(node);
    if (pid === undefined)
      throw new SkypgError('PARTIAL', `${node.name}: PostgreSQL is not running`);
    process.kill(pid, 'SIGINT');
  },
  running: async (node) => (await runningPostmaster(node)) !== undefined,
  otherHolder: async (config) =>
    (await vipStatus(config, 'primary', { dadTimeoutMs: holderListenMs })).otherHolders.length > 0,
  dropVip: async (config) => {
    await vipDown(config, 'primary');
  },
  controlData: async (node) => readControlData(await programContext(node), node.data_dir),
  writeStandbyFiles: async (config, node) => {
    const peer = peerOf(config, node.name);
    const conninfo = { ...standbyConninfo(config, node, peer), host: peer.address };
    await writeStandbyConfig(node.data_dir, conninfo, node.postgres.os_user);
  },
  startStandby: async (config, node) => {
    const peer = peerOf(config, node.name);
    await startServer(node);
    return `a standby of ${peer.name} (${peer.address})${await releaseSlotsAsStandby(config, node)}`;
  },
  clock: realPollClock,
};

/**
 * The hand-over. Returns what it did, with when each step ended since it began
 * ("... (checkpoint +40ms, stopped +60ms, ...)": bench:switchover reads them back).
 */
export async function handOverPrimary(
  config: ClusterConfig,
  node: NodeConfig,
  deps: HandOverDeps,
): Promise<string> {
  const begun = deps.clock.now();
  const took: string[] = [];
  const mark = (what: string): void => {
    took.push(`${what} +${deps.clock.now() - begun}ms`);
  };
  // Before the window, while it still serves writes: a checkpoint, so that the shutdown
  // checkpoint writes only what changed since, and the standby files, which a running server
  // never reads (any later start of this data directory is a standby's, as it should be).
  const [checkpointFailure] = await Promise.all([
    deps.checkpoint(node).then(
      () => '',
      // The fast shutdown writes a complete checkpoint anyway: this one only makes it short.
      (error: unknown) => `; the checkpoint before it failed: ${messageOf(error)}`,
    ),
    deps.writeStandbyFiles(config, node),
  ]);
  mark(checkpointFailure === '' ? 'checkpoint' : 'checkpoint failed');
  await deps.requestFastStop(node);
  const stopped = await pollUntil(async () => ((await deps.running(node)) ? undefined : true), {
    deadline: deps.clock.now() + stopTimeoutMs,
    everyMs: stopPollMs,
    clock: deps.clock,
  });
  if (stopped === undefined)
    throw new SkypgError(
      'PARTIAL',
      `${node.name}: the fast shutdown did not finish in ${stopTimeoutMs / 1000}s; the primary VIP is kept`,
    );
  mark('stopped');
  const control = await deps.controlData(node);
  mark('control file read');
  if (!isCleanShutdown(control)) {
    throw new SkypgError(
      'PARTIAL',
      `${node.name} stopped but its control file says "${control.clusterState}": left stopped`,
    );
  }
  // While it restarts, the primary VIP stays here: a client's connection to it is refused at
  // once instead of going nowhere. Only then is it looked after (its programs would slow the
  // restart down): by now the new primary has normally taken it.
  const standby = await deps.startStandby(config, node);
  mark('standby');
  const vip = config.vip.primary ? await releaseVip(config, deps, mark) : '';
  return `handed over: shut down cleanly at checkpoint ${control.checkpointLsn} (timeline ${control.checkpointTimeline})${vip}, restarted as ${standby}${checkpointFailure} (${took.join(', ')})`;
}

/**
 * Drops the primary VIP once another host answers for it (the new primary took it as soon as
 * this server's postmaster was gone), or after handOverVipWaitMs when nobody did.
 */
async function releaseVip(
  config: ClusterConfig,
  deps: HandOverDeps,
  mark: (what: string) => void,
): Promise<string> {
  const taken = await pollUntil(async () => ((await deps.otherHolder(config)) ? true : undefined), {
    deadline: deps.clock.now() + handOverVipWaitMs,
    everyMs: 20,
    clock: deps.clock,
  });
  await deps.dropVip(config);
  mark(
    taken === true ? 'vip dropped once the peer held it' : 'vip dropped, the peer did not take it',
  );
  return taken === true
    ? ', primary VIP dropped once the new primary held it'
    : `, primary VIP dropped (the new primary did not take it within ${handOverVipWaitMs / 1000}s)`;
}
