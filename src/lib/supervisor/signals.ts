// What may cut the loop's pause short, wired for the supervisor: the peer's beacon (its silence,
// or its word that its server stopped answering) and this node's postmaster dying. Both only make
// the loop observe now; what the observation shows is still what decides (docs/failover.md).
import { startBeacon, type BeaconStats } from '../beacon/beacon.js';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import type { LoopLog, LoopOptions, LoopWatcher } from './loop.js';
import { Waker, watchPostmaster } from './waker.js';

/** How often the postmaster the last observation found is looked at between loops. */
export const postmasterWatchMs = 100;

export interface LoopSignals {
  options: Pick<LoopOptions, 'waker' | 'peerBeacon'>;
  watchers: LoopWatcher[];
  /** The beacon's counts for /metrics (undefined: beacon false, or a node without one). */
  beaconStats?: () => BeaconStats;
  close: () => Promise<void>;
}

export function startLoopSignals(
  config: ClusterConfig,
  node: NodeConfig,
  log: LoopLog,
): LoopSignals {
  const waker = new Waker();
  const postmaster = watchPostmaster(waker, postmasterWatchMs);
  const beacon = startBeacon(config, node, log, waker);
  const postmasterWatcher: LoopWatcher = {
    name: 'postmaster watch',
    loopEnded: (report) => {
      // Only a running postmaster is watched: one already down has nothing to tell.
      if (report.observation !== undefined) postmaster.watch(report.observation.local.pid);
    },
  };
  return {
    options: { waker, ...(beacon === undefined ? {} : { peerBeacon: beacon.view }) },
    watchers: beacon === undefined ? [postmasterWatcher] : [postmasterWatcher, beacon.watcher],
    ...(beacon === undefined ? {} : { beaconStats: beacon.stats }),
    close: async () => {
      postmaster.stop();
      await beacon?.close();
    },
  };
}
