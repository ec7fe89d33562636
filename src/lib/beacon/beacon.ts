// The beacon between the two supervisors: a UDP datagram to the peer every beacon.interval
// saying what this node's own server did in the last observation, and a tracker of the peer's.
// A silence of beacon.timeout (or the peer's word that its server stopped answering) wakes this
// supervisor's loop at once, so the confirming checks start within milliseconds instead of at
// the next loop. A socket it cannot bind is logged and retried; the supervisor goes on without
// it (detection then takes heartbeat.misses loops, as with beacon: false).
import { createSocket, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { formatListen } from '../config/listen.js';
import { peerOf } from '../config/local-node.js';
import { messageOf } from '../common/errors.js';
import type { LoopLog, LoopReport, LoopWatcher } from '../supervisor/loop.js';
import { restartInPlaceRule } from '../supervisor/decide.js';
import type { Waker } from '../supervisor/waker.js';
import { decodeBeacon, encodeBeacon, type BeaconServerState } from './message.js';
import { PeerBeaconTracker, silentAt, type PeerBeaconView } from './tracker.js';

/** A socket that cannot be bound is tried again this often; a peer's name looked up again. */
const retryMs = 10_000;

export interface Beacon {
  /** Told of each loop: what this node's beacon says comes from the last one. */
  watcher: LoopWatcher;
  /** The peer's beacon as heard now. */
  view: () => PeerBeaconView;
  /** Counts and state for the health API's /metrics. */
  stats: () => BeaconStats;
  close: () => Promise<void>;
}

/** What /metrics shows of the beacon (docs/monitoring.md). Counts since the supervisor started. */
export interface BeaconStats {
  /** This node's UDP socket is bound: it sends beacons and hears the peer's. */
  bound: boolean;
  /** Datagrams handed to the socket for the peer. */
  sent: number;
  /** The peer's beacons taken (right cluster, name and address; others are not counted). */
  received: number;
  /** Since the last beacon heard from the peer (undefined: none yet). */
  peerSilentForMs?: number;
  /** What the peer's last beacon said of its server. */
  peerServer?: BeaconServerState;
  /** Times the peer's beacon woke the loop: its silence, its word that its server stopped. */
  wakes: { silence: number; notAnswering: number };
}

/**
 * What this node's beacon says after a loop: "restarting" from the restart-in-place decision
 * until its server answers (crash recovery may take several loops) or the restart fails.
 */
export function serverStateOf(previous: BeaconServerState, report: LoopReport): BeaconServerState {
  if (report.decision?.rule === restartInPlaceRule) return 'restarting';
  if (report.observation?.local.answering === true) return 'answering';
  return previous === 'restarting' ? 'restarting' : 'not-answering';
}

export function startBeacon(
  config: ClusterConfig,
  node: NodeConfig,
  log: LoopLog,
  waker: Waker,
  now: () => number = Date.now,
): Beacon | undefined {
  const settings = config.beacon;
  const peer = peerOf(config, node.name);
  const here = node.beacon;
  const there = peer.beacon;
  if (settings === undefined || here === undefined || there === undefined) return undefined;
  const tracker = new PeerBeaconTracker();
  // Unknown until the first loop ends: nothing is sent before it (no false word either way).
  let server: BeaconServerState | undefined;
  let seq = 0;
  let socket: Socket | undefined;
  let bound = false;
  let closed = false;
  let lastError: string | undefined;
  let peerAddress: { address: string; until: number } | undefined;
  /** The silence (the last beacon's arrival) this node already woke its loop for. */
  let wokeForSilenceOf: number | undefined;
  let wokeForNotAnswering = false;
  const counts = { sent: 0, received: 0, silenceWakes: 0, notAnsweringWakes: 0 };

  const say = (detail: string): void => {
    if (detail !== lastError) log.write({ event: 'error', node: node.name, detail });
    lastError = detail;
  };

  /** The peer's address as an IP: looked up again every retryMs when it is a name. */
  const resolvePeer = async (): Promise<string | undefined> => {
    if (isIP(there.host) !== 0) return there.host;
    if (peerAddress !== undefined && peerAddress.until > now()) return peerAddress.address;
    try {
      const { address } = await lookup(there.host);
      peerAddress = { address, until: now() + retryMs };
      return address;
    } catch (error) {
      say(`beacon: cannot look up ${peer.name}'s address ${there.host}: ${messageOf(error)}`);
      return peerAddress?.address;
    }
  };

  const onMessage = (datagram: Buffer, from: { address: string }): void => {
    const message = decodeBeacon(datagram, { cluster: config.cluster, peer: peer.name });
    if (message === undefined) return;
    // Only from the peer's address (a name is compared once looked up).
    const expected = isIP(there.host) !== 0 ? there.host : peerAddress?.address;
    if (expected !== undefined && from.address !== expected) return;
    tracker.heard(message, now());
    counts.received += 1;
    if (message.server !== 'not-answering') wokeForNotAnswering = false;
    else if (!wokeForNotAnswering) {
      wokeForNotAnswering = true;
      counts.notAnsweringWakes += 1;
      waker.wake('the peer beacon says its server stopped answering');
    }
  };

  const bind = (): void => {
    const created = createSocket({ type: isIP(here.host) === 6 ? 'udp6' : 'udp4' });
    created.on('message', onMessage);
    created.once('error', (error) => {
      bound = false;
      if (socket === created) socket = undefined;
      created.close();
      say(
        `beacon cannot use UDP ${formatListen(here.host, here.port)}: ${messageOf(error)}; supervising without it (failures take heartbeat.misses loops), trying again every ${retryMs / 1000}s`,
      );
      if (!closed) setTimeout(bind, retryMs).unref();
    });
    created.bind({ port: here.port, address: here.host, exclusive: true }, () => {
      bound = true;
      lastError = undefined;
      log.write({
        event: 'beacon',
        node: node.name,
        detail: `beacon on UDP ${formatListen(here.host, here.port)}, to ${peer.name} at ${formatListen(there.host, there.port)} every ${settings.interval}ms`,
      });
    });
    socket = created;
  };

  const tick = async (): Promise<void> => {
    const view = tracker.snapshot();
    if (
      silentAt(view, now(), settings.timeout) &&
      view.lastHeardAt !== undefined &&
      wokeForSilenceOf !== view.lastHeardAt
    ) {
      wokeForSilenceOf = view.lastHeardAt;
      counts.silenceWakes += 1;
      waker.wake(`the peer beacon is silent for ${settings.timeout}ms`);
    }
    const open = socket;
    const saying = server;
    if (!bound || open === undefined || saying === undefined) return;
    const address = await resolvePeer();
    if (address === undefined || open !== socket) return;
    seq += 1;
    // A send that fails (no route while the link is down) is the silence the peer notices.
    const datagram = encodeBeacon({
      cluster: config.cluster,
      node: node.name,
      seq,
      server: saying,
    });
    open.send(datagram, there.port, address, () => undefined);
    counts.sent += 1;
  };

  bind();
  const timer = setInterval(() => void tick(), settings.interval);
  timer.unref();
  return {
    watcher: {
      name: 'beacon',
      loopEnded: (report) => {
        server = serverStateOf(server ?? 'not-answering', report);
      },
      actionsEnded: (report) => {
        const failed = report.outcomes.some(
          (outcome) => outcome.action.kind === 'restart-primary' && !outcome.ok,
        );
        if (failed && server === 'restarting') server = 'not-answering';
      },
    },
    view: () => tracker.snapshot(),
    stats: () => {
      const view = tracker.snapshot();
      return {
        bound,
        sent: counts.sent,
        received: counts.received,
        ...(view.lastHeardAt === undefined ? {} : { peerSilentForMs: now() - view.lastHeardAt }),
        ...(view.server === undefined ? {} : { peerServer: view.server }),
        wakes: { silence: counts.silenceWakes, notAnswering: counts.notAnsweringWakes },
      };
    },
    close: async () => {
      closed = true;
      clearInterval(timer);
      const open = socket;
      socket = undefined;
      if (open !== undefined)
        await new Promise<void>((resolve) =>
          open.close(() => {
            resolve();
          }),
        );
    },
  };
}
