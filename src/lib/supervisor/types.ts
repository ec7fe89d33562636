// What the supervisor sees in one loop, what it remembers between loops, and what it may do.
// Times are milliseconds on this host's clock, taken by observe(): decide() never reads a clock.

import type { BeaconEvidence } from '../beacon/tracker.js';

export type ServerRole = 'primary' | 'standby';

export interface LocalObservation {
  /** A postmaster serving this node's data directory is alive (verified PID). */
  running: boolean;
  /** Its PID: the supervisor watches it between loops (a crash wakes the loop). */
  pid?: number;
  /** It accepted a NEW connection and answered within heartbeat.timeout. */
  answering: boolean;
  role?: ServerRole;
  timeline?: number;
  /** Primary: current WAL position; standby: replayed position. */
  lsn?: string;
  /** Primary: observe() wrote the heartbeat through a new connection and it committed: the
   * primary's own liveness test, and the beat itself (one write serves both). */
  beatCommitted?: boolean;
  /** When down: the data directory has standby.signal (it was a standby). */
  dataIsStandby?: boolean;
  /** Standby: its WAL receiver's status ("streaming", ...), undefined when none runs. */
  receiver?: string;
  /** Standby: when its WAL receiver last heard from the primary (this host's clock). */
  lastReceiptAt?: number;
  /** Standby: bytes received but not replayed. */
  replayBacklog?: number;
  /** The heartbeat row as replicated here (lastAlive on the primary's clock). */
  heartbeat?: {
    lastAlive: number;
    writer: string;
    repLag?: number;
    syncDegradedAt?: number;
  };
  /** Primary: the peer's pg_stat_replication row, if connected. */
  peerReplication?: { state: string; syncState: string };
  /** Primary: current synchronous_standby_names. */
  syncStandbyNames?: string;
  /** The cluster-wide pause flag, as replicated here. */
  pausedBy?: string;
  /** A planned switchover in progress (skypg switchover), as replicated here. */
  switchover?: SwitchoverFlag;
  /** pg_control's system identifier: a peer's answer counts only when it carries the same. */
  systemIdentifier?: string;
}

/** The switchover record of the heartbeat row (docs/operations.md, "Planned switchover"). */
export interface SwitchoverFlag {
  /** The node that becomes the primary. */
  to: string;
  by: string;
  /** When it was written (the primary's clock): identifies this switchover. */
  startedAt: number;
  /** How long supervisors stand aside, counted on their own clock from when they first saw it. */
  timeoutMs: number;
  /** 'prepare': stand aside; 'handover': the primary's supervisor hands over. */
  phase: 'prepare' | 'handover';
}

export interface PeerObservation {
  /** A new SQL connection to the peer succeeded within heartbeat.timeout. */
  answering: boolean;
  /** The peer's host refused the connection (ECONNREFUSED): no PostgreSQL listens there. */
  refused?: boolean;
  /** Its fence device said OFF (asked only after a beacon signal): nothing runs there. */
  poweredOff?: boolean;
  role?: ServerRole;
  timeline?: number;
  /** Primary: current WAL position; standby: replayed position. */
  lsn?: string;
  /** Something answered at the peer's address, but not this pair's server: taken as silence. */
  notPeer?: string;
}

export interface Observation {
  now: number;
  node: string;
  peer: string;
  local: LocalObservation;
  peerServer: PeerObservation;
  primaryVip: {
    configured: boolean;
    heldHere: boolean;
    /** Through the VIP, a primary that is not this node answered. */
    answeredByOtherPrimary: boolean;
    /** Someone other than this host answers ARP for the VIP. */
    heldElsewhere: boolean;
  };
  standbyVip: { configured: boolean; heldHere: boolean };
  gateway: { configured: boolean; reachable: boolean };
  /** The last action result, so a failure is reasoned about in the next loop. */
  lastActionError?: string;
  /** The peer's beacon around this observation (undefined: the beacon is off). */
  peerBeacon?: BeaconEvidence;
}

export type SupervisorStateName =
  | 'starting'
  | 'standby'
  | 'primary'
  | 'promoting'
  | 'demoted'
  | 'rejoining'
  | 'blocked'
  | 'paused'
  | 'switchover';

export interface Memory {
  state: SupervisorStateName;
  /** Consecutive loops in which nothing showed the primary alive (standby view). */
  misses: number;
  /** Heartbeat value seen in the previous loop, to tell a fresh beat from a stale one. */
  lastHeartbeatValue?: number;
  /** When the primary was last seen alive by any of the three checks. */
  primaryLastAliveAt?: number;
  /** Primary: since when neither the peer nor any gateway answers. */
  isolatedSince?: number;
  /** Primary: since when its own server fails the liveness test. */
  unhealthySince?: number;
  /** Standby: since when its WAL receiver is not streaming. */
  notStreamingSince?: number;
  /** Primary: since when the peer has not been streaming (sync degrade timer). */
  peerGoneSince?: number;
  /** Standby: the last time its WAL receiver heard from the primary (sync eligibility). */
  lastReceiptAt?: number;
  /** Both standbys: the positions (timeline:LSN of each) seen in the previous loop, so the
   * election waits until they hold still and both nodes compare the same numbers. */
  electionPositions?: string;
  /** The switchover flag last seen (its startedAt) and when this node first saw it. */
  switchoverSeen?: { startedAt: number; seenAt: number };
}

export type Action =
  | { kind: 'start-standby' }
  /** A crashed primary's own data directory started again as the primary (crash recovery). */
  | { kind: 'restart-primary' }
  | { kind: 'take-vip'; role: 'primary' | 'standby' }
  | { kind: 'drop-vip'; role: 'primary' | 'standby' }
  /** Prove the old primary cannot write (fence it unless something already proves it); the
   * first phase of a promotion, always followed by promote in the same set. */
  | {
      kind: 'fence-peer';
      /** The observation that decided it found the peer answering nothing: once its fence
       * device says it is powered on, it gets only a moment to answer as a standby (a healthy
       * one answers at once), not the whole connect timeout, before it is fenced. */
      peerUnanswered?: true;
    }
  /** pg_promote() here, with the clearance fence-peer gave earlier in the same set. */
  | { kind: 'promote' }
  | { kind: 'demote'; mode: 'fast' | 'kill' }
  | { kind: 'rebuild' }
  | { kind: 'set-sync' }
  | { kind: 'set-async'; recordDegrade: boolean }
  /** Switchover, on the old primary: drop the primary VIP, stop cleanly, restart as a standby. */
  | { kind: 'hand-over' };

export interface Decision {
  state: SupervisorStateName;
  actions: Action[];
  /** One human sentence: what was decided and why. */
  reason: string;
  /** The transition row that matched (for logs and tests). */
  rule: string;
  memory: Memory;
  /** Look again this soon instead of after heartbeat.interval (waiting on something quick). */
  nextLoopMs?: number;
}

export const initialMemory: Memory = { state: 'starting', misses: 0 };
