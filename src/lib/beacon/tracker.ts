// What this supervisor has heard of its peer's beacon, and what that means for one
// observation. Pure (time comes in as arguments), so the signal rules are unit-tested.
import type { BeaconMessage, BeaconServerState } from './message.js';

/** The peer's beacon as heard at one moment. */
export interface PeerBeaconView {
  /** When the last beacon from the peer arrived (undefined: none since this supervisor began). */
  lastHeardAt?: number;
  /** What the last one said of the peer's server. */
  server?: BeaconServerState;
  /** Since when the beacons in a row have said "not-answering" (undefined: the last did not). */
  notAnsweringSince?: number;
  /** Since when the beacons in a row have said "restarting" (undefined: the last did not). */
  restartingSince?: number;
}

/**
 * The beacon's part of an observation (Observation.peerBeacon). `signalForMs` is set when, before
 * the observation began, the peer's beacon had been silent for beacon.timeout, or said its server
 * stopped answering, and nothing to the contrary arrived while it ran: how long ago the signal
 * began. The policy then needs one failed observation instead of heartbeat.misses of them.
 */
export interface BeaconEvidence {
  /** A beacon from the peer has been heard since this supervisor started. */
  heard: boolean;
  /** Silent for at least beacon.timeout before the observation began: for how long. */
  silentForMs?: number;
  signalForMs?: number;
  /** The peer, still beaconing, says it restarts its crashed primary in place: for how long. */
  restartingForMs?: number;
}

export class PeerBeaconTracker {
  private view: PeerBeaconView = {};
  private lastSeq = 0;

  /** Records a beacon from the peer. A seq below the last one is a restarted sender: taken. */
  heard(message: BeaconMessage, at: number): void {
    const since = (kind: BeaconServerState, previous: number | undefined): number | undefined =>
      message.server === kind ? (previous ?? at) : undefined;
    const notAnsweringSince = since('not-answering', this.view.notAnsweringSince);
    const restartingSince = since('restarting', this.view.restartingSince);
    this.view = {
      lastHeardAt: at,
      server: message.server,
      ...(notAnsweringSince === undefined ? {} : { notAnsweringSince }),
      ...(restartingSince === undefined ? {} : { restartingSince }),
    };
    this.lastSeq = message.seq;
  }

  /** The sequence number of the last beacon heard (0: none). */
  get seq(): number {
    return this.lastSeq;
  }

  snapshot(): PeerBeaconView {
    return { ...this.view };
  }
}

/** Whether a silence of the peer's beacon, at `now`, has lasted beacon.timeout. */
export function silentAt(view: PeerBeaconView, now: number, timeoutMs: number): boolean {
  return view.lastHeardAt !== undefined && now - view.lastHeardAt >= timeoutMs;
}

/**
 * The evidence of one observation, from the views taken when it began and when it ended: a
 * beacon that arrived in between and says the peer's server answers cancels the signal.
 */
export function beaconEvidence(
  before: PeerBeaconView,
  after: PeerBeaconView,
  startedAt: number,
  timeoutMs: number,
): BeaconEvidence {
  if (before.lastHeardAt === undefined) return { heard: false };
  const silentForMs = startedAt - before.lastHeardAt;
  // Anything heard while the observation ran ends the silence (a supervisor paused or starved
  // mid-observation hears the queued beacons before its checks resolve), and a beacon saying
  // anything but "not-answering" ends the other signal too.
  const heardDuring = after.lastHeardAt !== undefined && after.lastHeardAt > before.lastHeardAt;
  const silent = !heardDuring && silentForMs >= timeoutMs;
  const saysDown = before.server === 'not-answering' && before.notAnsweringSince !== undefined;
  const contradicted = heardDuring && after.server !== 'not-answering';
  // Restarting counts while the peer still beacons it (the latest view), never from a silence.
  const restarting =
    !silentAt(after, startedAt, timeoutMs) && after.restartingSince !== undefined
      ? { restartingForMs: startedAt - after.restartingSince }
      : {};
  const evidence: BeaconEvidence = {
    heard: true,
    ...(silent ? { silentForMs } : {}),
    ...restarting,
  };
  if (contradicted || !(silent || saysDown)) return evidence;
  const since = silent ? before.lastHeardAt : (before.notAnsweringSince ?? before.lastHeardAt);
  return { ...evidence, signalForMs: startedAt - since };
}
