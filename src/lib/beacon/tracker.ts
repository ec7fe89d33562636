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
 * The beacon's part of an observation (Observation.peerBeacon). `signalForMs` is set when, as the
 * observation ended, the peer's beacon had been silent for beacon.timeout, or its latest beacon
 * said its server stopped answering: how long ago the signal began. The policy then needs one
 * failed observation instead of heartbeat.misses of them.
 */
export interface BeaconEvidence {
  /** A beacon from the peer has been heard since this supervisor started. */
  heard: boolean;
  /** Silent for at least beacon.timeout as the observation ended: for how long. */
  silentForMs?: number;
  signalForMs?: number;
  /** When the signal began (this host's clock): the last beacon heard before the silence, or
   * the first that said the peer's server stopped answering. */
  signalSince?: number;
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
 * The beacon's evidence for an observation, from the view taken as it ended (after the loop let
 * queued datagrams in: a supervisor paused or starved mid-observation hears the beacons that
 * waited, so its own stall is not a silence). A signal is a silence of beacon.timeout at that
 * moment, or the peer's latest word that its server stopped answering; the checks that just
 * failed ran while it lasted.
 */
export function beaconEvidence(
  view: PeerBeaconView,
  endedAt: number,
  timeoutMs: number,
): BeaconEvidence {
  if (view.lastHeardAt === undefined) return { heard: false };
  const silentForMs = endedAt - view.lastHeardAt;
  const silent = silentForMs >= timeoutMs;
  const evidence: BeaconEvidence = { heard: true };
  if (silent)
    return { ...evidence, silentForMs, signalForMs: silentForMs, signalSince: view.lastHeardAt };
  // Restarting counts while the peer still beacons it, never from a silence.
  if (view.restartingSince !== undefined)
    return { ...evidence, restartingForMs: endedAt - view.restartingSince };
  if (view.notAnsweringSince !== undefined)
    return {
      ...evidence,
      signalForMs: endedAt - view.notAnsweringSince,
      signalSince: view.notAnsweringSince,
    };
  return evidence;
}
