// The whole failover policy: a pure function from what was seen (and remembered) to what to
// do. No I/O and no clock: time comes in the observation. The rules are a declared table keyed
// on the local situation (down, hung, primary, standby): a short preamble for any situation,
// then the situation's own rows, first match wins, and each situation ends in a catch-all.
// docs/failover.md is generated from it and explains each row.
import { compareWalPositions, lagAllowsPromotion, standbyLagBytes } from '../failover/promotion.js';
import {
  switchoverFlagExpired,
  switchoverTimeoutCeilingMs,
} from '../failover/switchover-timing.js';
import type { ClusterConfig } from '../config/types.js';
import { formatDuration, formatSize } from '../config/units.js';
import type {
  Action,
  Decision,
  Memory,
  Observation,
  ServerRole,
  SupervisorStateName,
  SwitchoverFlag,
} from './types.js';

/**
 * What this node's own server is doing, the key of the rule table: not running; running but
 * not answering a new connection (hung, or starting up); or answering as a primary or standby.
 */
export type Situation = 'down' | 'hung' | 'primary' | 'standby';

/** The situations in the order the table (and docs/failover.md) tells them. */
export const situations: readonly Situation[] = ['down', 'hung', 'primary', 'standby'];

/** Everything the rules test, derived once per loop from the observation and memory. */
export interface Facts {
  obs: Observation;
  mem: Memory;
  config: ClusterConfig;
  situation: Situation;
  paused: boolean;
  /** A planned switchover is in progress and has not timed out here. */
  switchover: SwitchoverFlag | undefined;
  localPrimary: boolean;
  localStandby: boolean;
  localDown: boolean;
  /** Running but not answering a new connection: hung, or starting up. */
  localHung: boolean;
  /** Primary: accepted a new connection and committed the beat. */
  localHealthyPrimary: boolean;
  /** Standby view: any of direct SQL, the primary VIP, or a fresh heartbeat shows a primary. */
  primaryAlive: boolean;
  /** The heartbeat row changed since the last loop. */
  heartbeatFresh: boolean;
  /** Standby view: consecutive failed checks including this loop. */
  misses: number;
  /** The peer's beacon went silent (or said its server stopped answering) before this
   * observation began, recently enough that it is the news (within beaconSignalWindowMs). */
  beaconSignal: boolean;
  /** Failed checks in a row that declare the primary failed: 1 after a beacon signal. */
  requiredMisses: number;
  /** The peer's beacon has been silent for beacon.timeout, recently (the primary's view). */
  beaconSilent: boolean;
  /** The peer, still beaconing, restarts its crashed primary in place, for less than
   * restartGraceMs: its failed checks are not counted against it yet. */
  peerRestarting: boolean;
  peerIsPrimary: boolean;
  peerIsStandby: boolean;
  peerNewerTimeline: boolean;
  /** Primary: neither the peer nor any gateway answers. */
  isolated: boolean;
  isolatedForMs: number;
  unhealthyForMs: number;
  notStreamingForMs: number;
  lagBytes: number;
  lagOk: boolean;
  /** Sync mode: this standby may lack writes the primary acknowledged (it went async). */
  syncUnsafe: string | undefined;
  /** Fencing none: how long until the old primary has certainly demoted itself. */
  selfDemotionWaitMs: number;
  /** Both standbys: this node has the better claim to lead (timeline, LSN, then name). */
  winsElection: boolean;
  /** Both standbys: each one's timeline and position, as one comparable key. */
  electionPositions: string | undefined;
  /** Both standbys, and their positions are the same as in the previous loop. */
  positionsSettled: boolean;
}

export interface Rule {
  /** Stable name, used in logs, tests and docs. */
  name: string;
  /** What the row means, for docs/failover.md (generated from this table). */
  doc: string;
  /** The local situation this row applies in; 'any': the preamble, tried before them all. */
  situation: Situation | 'any';
  /** Only where the row depends on it: the previous states it applies in (absent: any). */
  from?: readonly SupervisorStateName[];
  when: (facts: Facts) => boolean;
  to: SupervisorStateName | ((facts: Facts) => SupervisorStateName);
  actions: (facts: Facts) => Action[];
  why: (facts: Facts) => string;
  /** How soon to look again when sooner than heartbeat.interval (absent or undefined: the interval). */
  nextLoopMs?: (facts: Facts) => number | undefined;
}

/** The `when` of each situation's last row: it takes whatever the rows above it left. */
export const always = (): boolean => true;

/** A standby holds the standby VIP (while its peer is the primary), never the primary VIP. */
const standbyVipActions = (f: Facts): Action[] => [
  ...dropPrimaryVip(f),
  ...(f.obs.standbyVip.configured && !f.obs.standbyVip.heldHere && f.peerIsPrimary
    ? [{ kind: 'take-vip', role: 'standby' } as const]
    : []),
];

const dropPrimaryVip = (f: Facts): Action[] =>
  f.obs.primaryVip.heldHere ? [{ kind: 'drop-vip', role: 'primary' }] : [];

const primaryVipActions = (f: Facts): Action[] => {
  const actions: Action[] = [];
  if (f.obs.standbyVip.configured && f.obs.standbyVip.heldHere)
    actions.push({ kind: 'drop-vip', role: 'standby' });
  if (
    f.obs.primaryVip.configured &&
    !f.obs.primaryVip.heldHere &&
    !f.obs.primaryVip.heldElsewhere
  ) {
    actions.push({ kind: 'take-vip', role: 'primary' });
  }
  return actions;
};

/** Sync mode on the primary: name the standby while it streams; drop to async after it is gone. */
const syncActions = (f: Facts): Action[] => {
  const names = f.obs.local.syncStandbyNames ?? '';
  const peerStreaming = f.obs.local.peerReplication?.state === 'streaming';
  if (f.config.replication.mode === 'async')
    return names === '' ? [] : [{ kind: 'set-async', recordDegrade: false }];
  if (peerStreaming) return names === '' ? [{ kind: 'set-sync' }] : [];
  const goneFor = f.mem.peerGoneSince === undefined ? 0 : f.obs.now - f.mem.peerGoneSince;
  if (names !== '' && goneFor >= f.config.replication.sync_degrade_after)
    return [{ kind: 'set-async', recordDegrade: true }];
  return [];
};

const peer = (f: Facts): string => f.obs.peer;
const node = (f: Facts): string => f.obs.node;

/**
 * Whether observe() spends a duplicate-address probe on the primary VIP this loop: only when a
 * primary without it is about to take it (primary-healthy), since the probe takes time on
 * every loop; any other loop takes an answer through the VIP as the evidence instead.
 */
export function primaryVipProbeNeeded(
  config: ClusterConfig,
  localRole: ServerRole | undefined,
  heldHere: boolean,
): boolean {
  return config.vip.primary !== undefined && localRole === 'primary' && !heldHere;
}

/** How soon two standbys look at each other's positions again before they elect. */
export const settleRecheckMs = 250;

/** How soon a node that promoted looks at itself again once its promotion's actions end. */
export const afterPromotionRecheckMs = 100;

/** The row that starts a crashed primary again in place (its beacon then says so). */
export const restartInPlaceRule = 'down-crashed-primary-restart';

/**
 * How long a standby lets its peer restart a crashed primary in place (the peer's beacon says
 * so) before its failed checks count: crash recovery ends with a checkpoint, which takes a
 * while on a busy server. Past it the usual rules fence the peer and promote.
 */
export const restartGraceMs = 10_000;

/**
 * How long a beacon's signal counts as news: until the loops would have counted
 * heartbeat.misses failures without it. A beacon silent for longer (the peer's supervisor is
 * stopped) makes no check count for more than one miss.
 */
export function beaconSignalWindowMs(config: ClusterConfig): number {
  return config.heartbeat.misses * config.heartbeat.interval + (config.beacon?.timeout ?? 0);
}

/**
 * The transition table, in situation order. A loop tries the preamble ('any'), then the rows of
 * its own situation only; the first row whose `from` and `when` match wins, and each
 * situation's last row (`when: always`) takes whatever is left.
 */
export const rules: readonly Rule[] = [
  // --- any situation: maintenance (pause and switchover are read from the heartbeat row, so
  // they can only hold while this node's server answers) ----------------------------------
  {
    name: 'paused-primary',
    doc: 'Paused, and this node is a healthy primary: no action (the beat in observe continues).',
    situation: 'any',
    when: (f) => f.paused && f.localHealthyPrimary,
    to: 'paused',
    actions: () => [],
    why: (f) =>
      `cluster paused by ${f.obs.local.pausedBy ?? 'an operator'}: observing only (the primary keeps beating)`,
  },
  {
    name: 'paused',
    doc: 'Paused: no automatic action of any kind.',
    situation: 'any',
    when: (f) => f.paused,
    to: 'paused',
    actions: () => [],
    why: (f) =>
      `cluster paused by ${f.obs.local.pausedBy ?? 'an operator'}: observing only, no automatic action`,
  },
  // --- planned switchover (skypg switchover): not a failure ------------------------------
  {
    name: 'switchover-hand-over',
    doc: 'Switchover to the peer, phase handover, and this node is the healthy primary: checkpoint, stop cleanly, restart as a standby of the peer, and drop the primary VIP once the peer answers for it (or after 3 s).',
    situation: 'any',
    when: (f) =>
      f.switchover?.phase === 'handover' && f.switchover.to === peer(f) && f.localHealthyPrimary,
    to: 'switchover',
    actions: () => [{ kind: 'hand-over' }],
    why: (f) =>
      `switchover to ${peer(f)} by ${f.switchover?.by ?? 'an operator'}: checkpoint, clean shutdown, restart of ${node(f)} as its standby, then the primary VIP goes`,
  },
  {
    name: 'switchover-stand-aside',
    doc: 'A switchover is in progress (until cleared or timed out): no automatic action, it is not a failure.',
    situation: 'any',
    when: (f) => f.switchover !== undefined,
    to: 'switchover',
    actions: () => [],
    why: (f) =>
      `switchover to ${f.switchover?.to ?? '?'} by ${f.switchover?.by ?? 'an operator'} in progress (${f.switchover?.phase ?? ''}): standing aside, no automatic action`,
  },
  // --- this node's server is down: it never starts as a primary ----------------------
  {
    name: 'down-isolated-stay-down',
    doc: 'A primary that demoted itself stays down while it still reaches neither its peer nor a gateway.',
    situation: 'down',
    from: ['demoted'],
    when: (f) =>
      !f.obs.peerServer.answering && f.obs.gateway.configured && !f.obs.gateway.reachable,
    to: 'demoted',
    actions: () => [],
    why: (f) =>
      `${node(f)} demoted itself and still reaches neither ${peer(f)} nor a gateway: staying down`,
  },
  {
    name: 'down-diverged-rejoin',
    doc: 'Down, its data was a primary, and the peer is now the primary: rebuild as its standby (auto_rejoin).',
    situation: 'down',
    when: (f) =>
      f.peerIsPrimary && f.obs.local.dataIsStandby === false && f.config.failover.auto_rejoin,
    to: 'rejoining',
    actions: (f) => [...dropPrimaryVip(f), { kind: 'rebuild' }],
    why: (f) =>
      `${node(f)} was a primary and ${peer(f)} is now the primary: rebuilding ${node(f)} as its standby`,
  },
  {
    name: 'down-diverged-blocked',
    doc: 'As above with auto_rejoin off: stay down and say so.',
    situation: 'down',
    when: (f) => f.peerIsPrimary && f.obs.local.dataIsStandby === false,
    to: 'blocked',
    actions: dropPrimaryVip,
    why: (f) =>
      `${node(f)} was a primary and ${peer(f)} is now the primary; failover.auto_rejoin is off: staying down until an operator runs 'skypg rebuild-standby'`,
  },
  {
    name: 'down-start-failed-rejoin',
    doc: "Down after its start as a standby failed, and the peer is the primary: its history forked from the primary's (an old primary whose first start as a standby was cut short by fencing), so rebuild it as its standby (auto_rejoin) instead of retrying the same start.",
    situation: 'down',
    from: ['starting'],
    when: (f) =>
      f.peerIsPrimary && f.obs.lastActionError !== undefined && f.config.failover.auto_rejoin,
    to: 'rejoining',
    actions: (f) => [...dropPrimaryVip(f), { kind: 'rebuild' }],
    why: (f) =>
      `${node(f)} could not start as a standby (${f.obs.lastActionError ?? ''}) and ${peer(f)} is the primary: rebuilding ${node(f)} as its standby`,
  },
  {
    name: restartInPlaceRule,
    doc:
      'Was the primary until its postmaster died (the data has no standby.signal), fencing is ' +
      'required, and the peer answers as a standby right now: start it again in place as the ' +
      'primary and keep the VIP; crash recovery replays every flushed record. Never a second ' +
      'primary: the peer promotes only after fence-peer, which powers this host off (it does ' +
      'not answer as a standby). Tried once: if it stays down, the next loop starts it as a standby.',
    situation: 'down',
    from: ['primary'],
    when: (f) =>
      f.obs.local.dataIsStandby === false &&
      f.config.failover.fencing === 'required' &&
      f.peerIsStandby,
    to: 'starting',
    actions: () => [{ kind: 'restart-primary' }],
    why: (f) =>
      `the primary on ${node(f)} went down and ${peer(f)} is still its standby: restarting it in place as the primary (crash recovery)`,
  },
  {
    name: 'down-start-standby',
    doc: 'Down, and none of the rows above: start as a standby. Apart from the restart in place above, a node never starts as a primary; the policy promotes it if it should lead.',
    situation: 'down',
    when: always,
    to: 'starting',
    actions: (f) => [...dropPrimaryVip(f), { kind: 'start-standby' }],
    why: (f) =>
      `PostgreSQL on ${node(f)} is down: starting it as a standby (a node never starts as a primary; the policy promotes it if it should lead)`,
  },
  // --- this node's server runs but does not answer ------------------------------------
  {
    name: 'primary-hung-self-fence',
    doc: 'This primary refuses new connections for misses x interval: kill it and drop the VIP before the peer takes over.',
    situation: 'hung',
    from: ['primary', 'paused'],
    when: (f) => f.unhealthyForMs >= f.config.heartbeat.misses * f.config.heartbeat.interval,
    to: 'demoted',
    actions: (f) => [
      ...(f.obs.primaryVip.heldHere ? [{ kind: 'drop-vip', role: 'primary' } as const] : []),
      { kind: 'demote', mode: 'kill' },
    ],
    why: (f) =>
      `the primary on ${node(f)} has refused new connections for ${formatDuration(f.unhealthyForMs)}: killing it and dropping the VIP before ${peer(f)} takes over`,
  },
  {
    name: 'hung-wait',
    doc: 'Running but not answering (starting up, or hung for less than misses x interval): wait.',
    situation: 'hung',
    when: always,
    to: (f) => f.mem.state,
    actions: () => [],
    why: (f) =>
      `PostgreSQL on ${node(f)} runs but does not answer a new connection (${formatDuration(f.unhealthyForMs)}): waiting`,
  },
  // --- this node is the primary ----------------------------------------------------------
  {
    name: 'primary-two-primaries-yield',
    doc: 'Both are primaries: the one without the primary VIP (or on the older timeline) stops.',
    situation: 'primary',
    when: (f) =>
      f.peerIsPrimary &&
      !f.obs.primaryVip.heldHere &&
      (f.obs.primaryVip.configured || f.peerNewerTimeline),
    to: 'demoted',
    actions: () => [{ kind: 'demote', mode: 'fast' }],
    why: (f) =>
      `${peer(f)} is also a primary${f.peerNewerTimeline ? ' on a newer timeline' : ' and holds the primary VIP'}: ${node(f)} stops so that only one accepts writes`,
  },
  {
    name: 'primary-isolated-demote',
    doc: "Primary reaching neither peer nor any gateway for isolation_timeout, or in one observation after the peer's beacon fell silent: drop the VIP and stop.",
    situation: 'primary',
    when: (f) =>
      f.isolated && (f.beaconSilent || f.isolatedForMs >= f.config.failover.isolation_timeout),
    to: 'demoted',
    actions: (f) => [
      ...(f.obs.primaryVip.heldHere ? [{ kind: 'drop-vip', role: 'primary' } as const] : []),
      { kind: 'demote', mode: 'fast' },
    ],
    why: (f) =>
      `${node(f)} has reached neither ${peer(f)} nor any gateway ${f.beaconSilent ? `since ${peer(f)}'s beacon fell silent` : `for ${formatDuration(f.isolatedForMs)}`}: it is the isolated one, so it drops the VIP and stops accepting writes`,
  },
  {
    name: 'primary-isolated-wait',
    doc: 'Primary isolated for less than isolation_timeout: keep going, count.',
    situation: 'primary',
    when: (f) => f.isolated,
    to: 'primary',
    actions: () => [],
    why: (f) =>
      `${node(f)} reaches neither ${peer(f)} nor any gateway (${formatDuration(f.isolatedForMs)}): demoting itself after ${formatDuration(f.config.failover.isolation_timeout)}`,
  },
  {
    name: 'primary-vip-elsewhere',
    doc: 'Primary, but another host answers for the primary VIP: never take it.',
    situation: 'primary',
    when: (f) =>
      f.obs.primaryVip.configured && !f.obs.primaryVip.heldHere && f.obs.primaryVip.heldElsewhere,
    to: 'primary',
    actions: syncActions,
    why: (f) =>
      `${node(f)} is the primary but another host answers for the primary VIP: not taking it (find that host)`,
  },
  {
    name: 'primary-healthy',
    doc: 'Any other primary (healthy, or its beat did not commit this loop): hold the primary VIP (take it if nobody answers for it), drop the standby VIP, manage sync mode.',
    situation: 'primary',
    when: always,
    to: 'primary',
    actions: (f) => [...primaryVipActions(f), ...syncActions(f)],
    why: (f) => {
      const standby = f.obs.local.peerReplication;
      const follower =
        standby === undefined
          ? `no standby connected`
          : `${peer(f)} ${standby.state} (${standby.syncState})`;
      // The catch-all also takes a primary whose beat did not commit this loop: say so.
      const health = f.localHealthyPrimary
        ? 'and healthy'
        : 'but its heartbeat write did not commit this loop';
      return `${node(f)} is the primary ${health}; ${follower}`;
    },
  },
  // --- this node is a standby ----------------------------------------------------------
  {
    name: 'standby-diverged-rejoin',
    doc: "Standby that cannot stream the peer's newer timeline for misses x interval: rebuild (auto_rejoin).",
    situation: 'standby',
    when: (f) =>
      f.peerIsPrimary &&
      f.peerNewerTimeline &&
      f.notStreamingForMs >= f.config.heartbeat.misses * f.config.heartbeat.interval &&
      f.config.failover.auto_rejoin,
    to: 'rejoining',
    actions: (f) => [...dropPrimaryVip(f), { kind: 'rebuild' }],
    why: (f) =>
      `${node(f)} cannot stream from ${peer(f)} on its newer timeline ${String(f.obs.peerServer.timeline)}: rebuilding it (follow, rewind or base backup)`,
  },
  {
    name: 'standby-diverged-blocked',
    doc: 'As above with auto_rejoin off: blocked until an operator rebuilds it.',
    situation: 'standby',
    when: (f) =>
      f.peerIsPrimary &&
      f.peerNewerTimeline &&
      f.notStreamingForMs >= f.config.heartbeat.misses * f.config.heartbeat.interval,
    to: 'blocked',
    actions: dropPrimaryVip,
    why: (f) =>
      `${node(f)} cannot stream from ${peer(f)} on its newer timeline; failover.auto_rejoin is off: run 'skypg rebuild-standby'`,
  },
  {
    name: 'standby-following',
    doc: 'A primary is alive (direct SQL, through the VIP, or a fresh heartbeat): follow it, hold the standby VIP.',
    situation: 'standby',
    when: (f) => f.primaryAlive,
    to: 'standby',
    actions: standbyVipActions,
    why: (f) =>
      `${node(f)} follows primary ${peer(f)} (${f.obs.local.receiver ?? 'no WAL receiver'}, ${formatSize(f.lagBytes)} behind)`,
  },
  {
    name: 'standby-suspect',
    doc:
      'Nothing showed a primary alive, fewer than heartbeat.misses times in a row (one after a ' +
      "beacon signal), or the peer's beacon says it restarts its crashed primary in place (for " +
      'less than 10 s): count. If the ' +
      'peer answers as a standby there is certainly no primary: only wait until both positions ' +
      'hold still for a loop, so both nodes elect from the same numbers.',
    situation: 'standby',
    when: (f) =>
      f.peerIsStandby ? !f.positionsSettled : f.peerRestarting || f.misses < f.requiredMisses,
    to: 'standby',
    actions: dropPrimaryVip,
    // Both standbys, waiting for their positions to hold still: nothing else needs a full
    // interval to show (the peer answered directly), so the election is not put off a second.
    nextLoopMs: (f) =>
      f.peerIsStandby ? Math.min(f.config.heartbeat.interval, settleRecheckMs) : undefined,
    why: (f) =>
      f.peerIsStandby
        ? `no primary: ${peer(f)} answers as a standby too (waiting until both positions hold still for a loop)`
        : f.peerRestarting
          ? `${peer(f)} restarts its crashed primary in place (its beacon says so): waiting up to ${formatDuration(restartGraceMs)} before counting its failed checks`
          : `nothing showed primary ${peer(f)} alive (check ${f.misses} of ${f.requiredMisses}: direct, VIP, heartbeat)`,
  },
  {
    name: 'standby-self-suspect',
    doc: 'Primary failed but the gateway does not answer (or none is configured): suspect itself, no failover.',
    situation: 'standby',
    when: (f) => !f.obs.gateway.reachable,
    to: 'standby',
    actions: dropPrimaryVip,
    why: (f) =>
      f.obs.gateway.configured
        ? `primary ${peer(f)} looks failed, but ${node(f)} cannot reach the gateway either: it suspects itself, no failover`
        : `primary ${peer(f)} looks failed, but no gateway is configured: automatic failover is off`,
  },
  {
    name: 'standby-both-standbys-wait',
    doc: 'No primary and the peer is a standby further ahead (timeline, LSN, then name): let it lead.',
    situation: 'standby',
    when: (f) => f.peerIsStandby && !f.winsElection,
    to: 'standby',
    actions: dropPrimaryVip,
    why: (f) =>
      `no primary, and ${peer(f)} (also a standby) is further ahead: waiting for it to lead`,
  },
  {
    name: 'standby-lag-too-high',
    doc:
      'Primary failed but this standby is beyond failover.max_lag: do not promote, alert. (Not ' +
      'when the peer answers as a standby: then this node won the election, so it has every ' +
      'WAL record either node has, and refusing would leave the pair without a primary.)',
    situation: 'standby',
    when: (f) => !f.lagOk,
    to: 'standby',
    actions: dropPrimaryVip,
    why: (f) =>
      `primary ${peer(f)} failed, but ${node(f)} is ${formatSize(f.lagBytes)} behind (failover.max_lag ${formatSize(f.config.failover.max_lag)}): not promoting; an operator may run 'skypg promote --ignore-lag'`,
  },
  {
    name: 'standby-sync-unsafe',
    doc:
      'Sync mode: the primary may have gone async and acknowledged writes this standby lacks: do ' +
      'not promote. (Not when the peer answers as a standby: the election winner has every ' +
      'record either node has, acknowledged ones included.)',
    situation: 'standby',
    when: (f) => !f.peerIsStandby && f.syncUnsafe !== undefined,
    to: 'standby',
    actions: dropPrimaryVip,
    why: (f) =>
      `primary ${peer(f)} failed, but ${f.syncUnsafe ?? ''}: not promoting (it may lack acknowledged writes)`,
  },
  {
    name: 'standby-wait-self-demotion',
    doc: "Fencing none: wait until the old primary's self-demotion deadline has certainly passed.",
    situation: 'standby',
    when: (f) =>
      !f.peerIsStandby && f.config.failover.fencing === 'none' && f.selfDemotionWaitMs > 0,
    to: 'standby',
    actions: dropPrimaryVip,
    why: (f) =>
      `primary ${peer(f)} failed; fencing is "none", so waiting ${formatDuration(f.selfDemotionWaitMs)} more for its self-demotion deadline`,
  },
  {
    name: 'standby-promote',
    doc: 'Primary failed (or no primary and this node leads): fence-peer (prove the old primary cannot write, fencing it when nothing else does), promote, then move the VIPs.',
    situation: 'standby',
    when: always,
    to: 'promoting',
    actions: (f) => [
      f.obs.peerServer.answering
        ? { kind: 'fence-peer' }
        : { kind: 'fence-peer', peerUnanswered: true },
      { kind: 'promote' },
      ...(f.obs.standbyVip.configured ? [{ kind: 'drop-vip', role: 'standby' } as const] : []),
      ...(f.obs.primaryVip.configured ? [{ kind: 'take-vip', role: 'primary' } as const] : []),
    ],
    // Seen as the primary holding the VIP in the very next loop, not a full interval later:
    // the health API (so HAProxy), the state file and status answer from that loop.
    nextLoopMs: () => afterPromotionRecheckMs,
    why: (f) =>
      f.peerIsStandby
        ? `no primary, ${peer(f)} is a standby and ${node(f)} is further ahead: promoting ${node(f)}`
        : `primary ${peer(f)} failed ${f.beaconSignal ? `the check after its beacon ${f.obs.peerBeacon?.silentForMs === undefined ? 'said its server stopped answering' : 'fell silent'}` : `${f.misses} checks in a row`}, the gateway answers and the lag is ${formatSize(f.lagBytes)}: ${f.config.failover.fencing === 'required' ? 'fencing it, then promoting' : 'its self-demotion deadline has passed: promoting'} ${node(f)}`,
  },
];

function deriveFacts(obs: Observation, mem: Memory, config: ClusterConfig): Facts {
  const { local, peerServer } = obs;
  const localPrimary = local.answering && local.role === 'primary';
  const localStandby = local.answering && local.role === 'standby';
  const localDown = !local.running;
  const localHung = local.running && !local.answering;
  const localHealthyPrimary = localPrimary && local.beatCommitted === true;
  const heartbeatValue = local.heartbeat?.lastAlive;
  // Only a beat written by the peer is evidence that the peer is alive, and not when its host
  // refuses connections: no PostgreSQL runs there, so a beat arriving now was written before
  // it died (replication delivers the last beats after the fact).
  const window = beaconSignalWindowMs(config);
  const beacon = obs.peerBeacon;
  const beaconSignal = beacon?.signalForMs !== undefined && beacon.signalForMs <= window;
  // Nor, after a beacon signal, when nothing at all came through the WAL receiver since the
  // signal began: that beat was already on its way when the peer fell silent (or said its
  // server stopped answering), so it shows the peer alive before the signal, not after it.
  // Both times are this host's clock. A peer that is alive and streams keeps the receiver hearing.
  // A silence begins when the next beacon was due, one interval after the last one heard: WAL
  // that came in between (a busy primary streams every few ms) was sent before it began.
  const signalSince =
    beaconSignal && beacon.signalSince !== undefined
      ? beacon.signalSince + (beacon.silentForMs !== undefined ? (config.beacon?.interval ?? 0) : 0)
      : undefined;
  const beatBeforeSignal =
    signalSince !== undefined &&
    local.lastReceiptAt !== undefined &&
    local.lastReceiptAt <= signalSince;
  const heartbeatFresh =
    peerServer.refused !== true &&
    peerServer.poweredOff !== true &&
    !beatBeforeSignal &&
    local.heartbeat?.writer === obs.peer &&
    heartbeatValue !== undefined &&
    mem.lastHeartbeatValue !== undefined &&
    heartbeatValue > mem.lastHeartbeatValue;
  const peerIsPrimary = peerServer.answering && peerServer.role === 'primary';
  const peerIsStandby = peerServer.answering && peerServer.role === 'standby';
  const primaryAlive = peerIsPrimary || obs.primaryVip.answeredByOtherPrimary || heartbeatFresh;
  const misses = localStandby && !primaryAlive ? mem.misses + 1 : 0;
  const beaconSilent = beacon?.silentForMs !== undefined && beacon.silentForMs <= window;
  const peerRestarting =
    beacon?.restartingForMs !== undefined && beacon.restartingForMs < restartGraceMs;
  const isolated = !peerServer.answering && obs.gateway.configured && !obs.gateway.reachable;
  const electionPositions = electionKey(obs, localStandby && peerIsStandby);
  const since = (start: number | undefined): number => (start === undefined ? 0 : obs.now - start);
  const lagBytes = standbyLagBytes(local);
  const primaryLastAliveAt = primaryAlive ? obs.now : mem.primaryLastAliveAt;
  return {
    obs,
    mem,
    config,
    situation: situationOf(local),
    paused: local.pausedBy !== undefined,
    switchover: activeSwitchover(obs, mem),
    localPrimary,
    localStandby,
    localDown,
    localHung,
    localHealthyPrimary,
    primaryAlive,
    heartbeatFresh,
    misses,
    beaconSignal,
    requiredMisses: beaconSignal ? 1 : config.heartbeat.misses,
    beaconSilent,
    peerRestarting,
    peerIsPrimary,
    peerIsStandby,
    peerNewerTimeline:
      peerServer.timeline !== undefined &&
      local.timeline !== undefined &&
      peerServer.timeline > local.timeline,
    isolated,
    isolatedForMs: isolated ? since(mem.isolatedSince ?? obs.now) : 0,
    unhealthyForMs: localHung ? since(mem.unhealthySince ?? obs.now) : 0,
    notStreamingForMs:
      localStandby && local.receiver !== 'streaming' ? since(mem.notStreamingSince ?? obs.now) : 0,
    lagBytes,
    // The rule promote applies too (failover/promotion.ts): the two cannot disagree.
    lagOk: lagAllowsPromotion(
      lagBytes,
      config.failover.max_lag,
      peerIsStandby && winsElection(obs),
    ),
    syncUnsafe: syncUnsafe(obs, mem, config),
    selfDemotionWaitMs: selfDemotionWait(obs, config, primaryLastAliveAt),
    winsElection: winsElection(obs),
    electionPositions,
    positionsSettled:
      electionPositions !== undefined && electionPositions === mem.electionPositions,
  };
}

/** Both standbys: "timeline:LSN" of this node and of the peer, or undefined otherwise. */
function electionKey(obs: Observation, bothStandbys: boolean): string | undefined {
  if (!bothStandbys) return undefined;
  const position = (timeline: number | undefined, lsn: string | undefined): string =>
    `${String(timeline ?? '?')}:${lsn ?? '?'}`;
  return `${position(obs.local.timeline, obs.local.lsn)}|${position(obs.peerServer.timeline, obs.peerServer.lsn)}`;
}

/**
 * The switchover flag, while it is younger than its timeout by this node's own clock. By the
 * clock that wrote it, it is past due after its timeout plus the ceiling (room for clock skew):
 * a flag replayed late is not obeyed anew.
 */
function activeSwitchover(obs: Observation, mem: Memory): SwitchoverFlag | undefined {
  const flag = obs.local.switchover;
  if (flag === undefined || switchoverFlagExpired(flag, obs.now, switchoverTimeoutCeilingMs))
    return undefined;
  const seenAt = switchoverSeenAt(obs, mem) ?? obs.now;
  return obs.now - seenAt < flag.timeoutMs ? flag : undefined;
}

function switchoverSeenAt(obs: Observation, mem: Memory): number | undefined {
  const flag = obs.local.switchover;
  if (flag === undefined) return undefined;
  return mem.switchoverSeen?.startedAt === flag.startedAt ? mem.switchoverSeen.seenAt : obs.now;
}

/**
 * In sync mode the primary drops to async only after the standby has been gone for
 * sync_degrade_after, counted from when the primary noticed, which is never before the last
 * message this standby received from it. So a standby whose last message is older than that,
 * or that has replayed a degrade record not yet cleared, may lack acknowledged writes.
 */
function syncUnsafe(obs: Observation, mem: Memory, config: ClusterConfig): string | undefined {
  if (config.replication.mode !== 'sync') return undefined;
  if (obs.local.heartbeat?.syncDegradedAt !== undefined) {
    return `${obs.peer} recorded that it went async and this standby has not caught up since`;
  }
  const lastReceipt = obs.local.lastReceiptAt ?? mem.lastReceiptAt ?? mem.notStreamingSince;
  if (lastReceipt !== undefined && obs.now - lastReceipt >= config.replication.sync_degrade_after) {
    return `${obs.node} last heard from ${obs.peer} ${formatDuration(obs.now - lastReceipt)} ago, longer than replication.sync_degrade_after`;
  }
  return undefined;
}

/**
 * With fencing "none" the old primary must have demoted itself before this node promotes.
 * It notices its isolation at most one loop and one timeout after this node last saw it,
 * demotes isolation_timeout later, and needs up to one more loop and a stop: wait that long
 * after the primary was last seen alive.
 */
export function selfDemotionDeadlineMs(config: ClusterConfig): number {
  const { interval, timeout } = config.heartbeat;
  const stopAllowance = 5000;
  return config.failover.isolation_timeout + 2 * interval + 2 * timeout + stopAllowance;
}

function selfDemotionWait(
  obs: Observation,
  config: ClusterConfig,
  lastAliveAt: number | undefined,
): number {
  if (config.failover.fencing !== 'none') return 0;
  if (lastAliveAt === undefined) return 0;
  return Math.max(0, lastAliveAt + selfDemotionDeadlineMs(config) - obs.now);
}

/** Between two standbys: higher timeline, then further WAL position, then the smaller name. */
function winsElection(obs: Observation): boolean {
  const order = compareWalPositions(
    { timeline: obs.local.timeline ?? 0, lsn: obs.local.lsn },
    { timeline: obs.peerServer.timeline ?? 0, lsn: obs.peerServer.lsn },
  );
  return order === 0 ? obs.node < obs.peer : order > 0;
}

function nextMemory(facts: Facts, state: SupervisorStateName): Memory {
  const { obs, mem } = facts;
  const keepSince = (active: boolean, since: number | undefined): number | undefined =>
    active ? (since ?? obs.now) : undefined;
  const peerStreaming = obs.local.peerReplication?.state === 'streaming';
  return {
    state,
    misses: facts.misses,
    ...(facts.electionPositions === undefined
      ? {}
      : { electionPositions: facts.electionPositions }),
    lastHeartbeatValue: obs.local.heartbeat?.lastAlive ?? mem.lastHeartbeatValue,
    primaryLastAliveAt: facts.primaryAlive ? obs.now : mem.primaryLastAliveAt,
    isolatedSince: keepSince(facts.localPrimary && facts.isolated, mem.isolatedSince),
    unhealthySince: keepSince(facts.localHung, mem.unhealthySince),
    notStreamingSince: keepSince(
      facts.localStandby && obs.local.receiver !== 'streaming',
      mem.notStreamingSince,
    ),
    peerGoneSince: keepSince(facts.localPrimary && !peerStreaming, mem.peerGoneSince),
    // A primary receives nothing: what it heard as a standby long ago must not follow it into
    // its next time as a standby, where it would look like a standby that lost touch.
    lastReceiptAt: facts.localPrimary ? undefined : (obs.local.lastReceiptAt ?? mem.lastReceiptAt),
    ...switchoverMemory(obs, mem),
  };
}

/** Remembers when this node first saw the current switchover flag (its timeout counts from then). */
function switchoverMemory(obs: Observation, mem: Memory): Pick<Memory, 'switchoverSeen'> {
  const flag = obs.local.switchover;
  const seenAt = switchoverSeenAt(obs, mem);
  if (flag !== undefined && seenAt !== undefined)
    return { switchoverSeen: { startedAt: flag.startedAt, seenAt } };
  // While the server is down the row cannot be read: keep the memory until it can be.
  return mem.switchoverSeen === undefined || obs.local.answering
    ? {}
    : { switchoverSeen: mem.switchoverSeen };
}

/** Which situation's rows apply: derived once, from the observation of this node's server. */
export function situationOf(local: Observation['local']): Situation {
  if (!local.running) return 'down';
  // Answering without a role cannot come from observe(); it is no usable answer either.
  if (!local.answering || local.role === undefined) return 'hung';
  switch (local.role) {
    case 'primary':
      return 'primary';
    case 'standby':
      return 'standby';
    default: {
      const unknownRole: never = local.role;
      return unknownRole;
    }
  }
}

/** Each situation's rows in table order; its last row is the catch-all. */
const rowsBySituation: Readonly<Record<Situation, readonly Rule[]>> = {
  down: rules.filter((rule) => rule.situation === 'down'),
  hung: rules.filter((rule) => rule.situation === 'hung'),
  primary: rules.filter((rule) => rule.situation === 'primary'),
  standby: rules.filter((rule) => rule.situation === 'standby'),
};
const preamble = rules.filter((rule) => rule.situation === 'any');

/** The situation's last row, checked to be a catch-all: the policy has no "no rule matched". */
function catchAllOf(situation: Situation): Rule {
  const last = rowsBySituation[situation].at(-1);
  if (last?.when !== always)
    throw new Error(`the ${situation} rows of the failover table do not end in a catch-all`);
  return last;
}
const catchAlls: Readonly<Record<Situation, Rule>> = {
  down: catchAllOf('down'),
  hung: catchAllOf('hung'),
  primary: catchAllOf('primary'),
  standby: catchAllOf('standby'),
};

/** The failover policy: one pure decision per loop. */
export function decide(obs: Observation, mem: Memory, config: ClusterConfig): Decision {
  const facts = deriveFacts(obs, mem, config);
  const applies = (rule: Rule): boolean =>
    (rule.from === undefined || rule.from.includes(mem.state)) && rule.when(facts);
  const rule =
    preamble.find(applies) ??
    rowsBySituation[facts.situation].find(applies) ??
    catchAlls[facts.situation];
  const state = typeof rule.to === 'function' ? rule.to(facts) : rule.to;
  const nextLoopMs = rule.nextLoopMs?.(facts);
  return {
    state,
    actions: rule.actions(facts),
    reason: rule.why(facts),
    rule: rule.name,
    memory: nextMemory(facts, state),
    ...(nextLoopMs === undefined ? {} : { nextLoopMs }),
  };
}
