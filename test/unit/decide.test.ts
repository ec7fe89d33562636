// The failover policy as a table of situations: one row per scenario, each independent,
// built from two fixtures (a healthy standby's view and a healthy primary's view).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConfigText } from '../../src/lib/config/load.js';
import { exampleConfig } from '../../src/lib/config/example.js';
import type { ClusterConfig } from '../../src/lib/config/types.js';
import { switchoverTimeoutCeilingMs } from '../../src/lib/failover/switchover-timing.js';
import {
  always,
  decide,
  primaryVipProbeNeeded,
  rules,
  selfDemotionDeadlineMs,
  situationOf,
  situations,
} from '../../src/lib/supervisor/decide.js';
import type { Action, Memory, Observation } from '../../src/lib/supervisor/types.js';
import { NOW, primaryView, standbyView, type ObsChanges } from '../support/observations.js';

const loaded = await checkConfigText(exampleConfig, 'example.yaml');
if (loaded.config === undefined) throw new Error('example config invalid');
const base: ClusterConfig = loaded.config;
const config = (
  changes: {
    failover?: Partial<ClusterConfig['failover']>;
    replication?: Partial<ClusterConfig['replication']>;
    gateway?: string[];
  } = {},
): ClusterConfig => ({
  ...base,
  failover: { ...base.failover, ...changes.failover },
  replication: { ...base.replication, ...changes.replication },
  gateway: changes.gateway ?? base.gateway,
});

const MiB = 1024 * 1024;

const memory = (changes: Partial<Memory> = {}): Memory => ({
  state: 'standby',
  misses: 0,
  lastHeartbeatValue: 500_000,
  primaryLastAliveAt: NOW - 1000,
  ...changes,
});
/** The switchover flag written at 400_000 (primary's clock) with a 30 s timeout. */
const switchoverFlag = (phase: 'prepare' | 'handover') => ({
  to: 'host2',
  by: 'dba',
  startedAt: 400_000,
  timeoutMs: 30_000,
  phase,
});
/** A primary that is down as every standby check sees it. */
const primaryGone: ObsChanges = {
  peerServer: { answering: false, role: undefined, timeline: undefined, lsn: undefined },
  primaryVip: { answeredByOtherPrimary: false, heldElsewhere: false },
  local: { receiver: undefined },
};

interface Row {
  name: string;
  obs: Observation;
  mem?: Partial<Memory>;
  config?: ClusterConfig;
  state: string;
  rule: string;
  actions?: string[];
  reason?: RegExp;
  /** Fields the decision's memory must have (what the next loop will compare against). */
  memory?: Partial<Memory>;
  /** A sooner next loop than heartbeat.interval; every other row must leave it unset. */
  nextLoopMs?: number;
}

const kinds = (actions: Action[]): string[] =>
  actions.map((a) =>
    'role' in a
      ? `${a.kind}:${a.role}`
      : a.kind === 'demote'
        ? `demote:${a.mode}`
        : a.kind === 'fence-peer' && a.peerUnanswered === true
          ? 'fence-peer:unanswered'
          : a.kind,
  );

const rows: Row[] = [
  // healthy pair
  {
    name: 'healthy standby follows, keeps its standby VIP',
    obs: standbyView(),
    state: 'standby',
    rule: 'standby-following',
    actions: [],
    reason: /host2 follows primary host1 \(streaming, 0B behind\)/,
  },
  {
    name: 'healthy standby without its standby VIP takes it',
    obs: standbyView({ standbyVip: { heldHere: false } }),
    state: 'standby',
    rule: 'standby-following',
    actions: ['take-vip:standby'],
  },
  {
    name: 'healthy primary beats and keeps the VIP',
    obs: primaryView(),
    mem: { state: 'primary' },
    state: 'primary',
    rule: 'primary-healthy',
    actions: [],
    reason: /host1 is the primary and healthy; host2 streaming \(async\)/,
  },
  {
    name: 'primary without the VIP takes it when nobody answers for it',
    obs: primaryView({ primaryVip: { heldHere: false } }),
    mem: { state: 'primary' },
    state: 'primary',
    rule: 'primary-healthy',
    actions: ['take-vip:primary'],
  },
  {
    name: 'primary never takes a VIP another host answers for',
    obs: primaryView({ primaryVip: { heldHere: false, heldElsewhere: true } }),
    mem: { state: 'primary' },
    state: 'primary',
    rule: 'primary-vip-elsewhere',
    actions: [],
    reason: /another host answers for the primary VIP/,
  },
  {
    name: 'primary holding the standby VIP drops it',
    obs: primaryView({ standbyVip: { heldHere: true } }),
    mem: { state: 'primary' },
    state: 'primary',
    rule: 'primary-healthy',
    actions: ['drop-vip:standby'],
  },
  {
    name: 'primary with its standby gone keeps running (gateway answers)',
    obs: primaryView({ peerServer: { answering: false }, local: { peerReplication: undefined } }),
    mem: { state: 'primary' },
    state: 'primary',
    rule: 'primary-healthy',
    actions: [],
    reason: /no standby connected/,
  },
  {
    name: 'a standby holding the primary VIP drops it',
    obs: standbyView({ primaryVip: { heldHere: true } }),
    state: 'standby',
    rule: 'standby-following',
    actions: ['drop-vip:primary'],
  },
  {
    name: 'a crashed primary still holding the VIP drops it before starting as a standby',
    obs: standbyView({
      ...primaryGone,
      local: { running: false, answering: false, role: undefined },
      primaryVip: { heldHere: true },
    }),
    mem: { state: 'primary' },
    state: 'starting',
    rule: 'down-start-standby',
    actions: ['drop-vip:primary', 'start-standby'],
  },
  {
    name: 'no standby VIP is taken while the peer is a standby too',
    obs: standbyView({
      ...primaryGone,
      standbyVip: { heldHere: false },
      peerServer: { answering: true, role: 'standby', timeline: 1, lsn: '0/2000000' },
    }),
    state: 'standby',
    rule: 'standby-suspect',
    actions: [],
    nextLoopMs: 250,
  },
  {
    name: 'a beat this node wrote itself (replayed after its own crash) is no evidence of the peer',
    obs: standbyView({
      ...primaryGone,
      local: { heartbeat: { lastAlive: 501_000, writer: 'host2' } },
    }),
    mem: { misses: 2 },
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
  },
  // primary database crash (standby's view): counting misses, then failover
  {
    name: 'a beat that arrives while the peer refuses connections is not counted: it was written before the crash',
    obs: standbyView({
      ...primaryGone,
      peerServer: { answering: false, refused: true },
      local: { heartbeat: { lastAlive: 501_000, writer: 'host1' } },
    }),
    state: 'standby',
    rule: 'standby-suspect',
    reason: /check 1 of 3/,
  },
  {
    name: 'a fresh beat while the peer only times out still counts (it may be busy, not dead)',
    obs: standbyView({
      ...primaryGone,
      local: { heartbeat: { lastAlive: 501_000, writer: 'host1' } },
    }),
    mem: { misses: 2 },
    state: 'standby',
    rule: 'standby-following',
  },
  {
    name: 'primary DB crash: first failed check',
    obs: standbyView(primaryGone),
    state: 'standby',
    rule: 'standby-suspect',
    actions: [],
    reason: /check 1 of 3/,
  },
  {
    name: 'primary DB crash: second failed check',
    obs: standbyView(primaryGone),
    mem: { misses: 1 },
    state: 'standby',
    rule: 'standby-suspect',
    reason: /check 2 of 3/,
  },
  {
    name: 'primary DB crash: third failed check -> fence and promote',
    obs: standbyView(primaryGone),
    mem: { misses: 2 },
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
    actions: ['fence-peer:unanswered', 'promote', 'drop-vip:standby', 'take-vip:primary'],
    reason:
      /failed 3 checks in a row, the gateway answers and the lag is 0B: fencing it, then promoting host2/,
  },
  {
    name: 'a fresh heartbeat alone keeps the primary alive (direct and VIP checks failed)',
    obs: standbyView({
      ...primaryGone,
      local: { heartbeat: { lastAlive: 501_000, writer: 'host1' } },
    }),
    mem: { misses: 2 },
    state: 'standby',
    rule: 'standby-following',
  },
  {
    name: 'the VIP check alone keeps the primary alive',
    obs: standbyView({
      peerServer: { answering: false },
      primaryVip: { answeredByOtherPrimary: true },
    }),
    mem: { misses: 2 },
    state: 'standby',
    rule: 'standby-following',
  },
  {
    name: 'a stale heartbeat does not count as alive',
    obs: standbyView({ ...primaryGone }),
    mem: { misses: 2, lastHeartbeatValue: 500_000 },
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
  },
  // primary host power loss: same as a crash from the standby's side
  {
    name: 'primary host power loss -> promote after misses',
    obs: standbyView({
      ...primaryGone,
      primaryVip: { answeredByOtherPrimary: false, heldElsewhere: false },
    }),
    mem: { misses: 5 },
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
  },
  // network failures
  {
    name: 'standby network loss: primary and gateway unreachable -> suspects itself',
    obs: standbyView({ ...primaryGone, gateway: { reachable: false } }),
    mem: { misses: 2 },
    state: 'standby',
    rule: 'standby-self-suspect',
    actions: [],
    reason: /cannot reach the gateway either: it suspects itself/,
  },
  {
    name: 'no gateway configured -> no automatic failover',
    obs: standbyView({ ...primaryGone, gateway: { configured: false, reachable: false } }),
    mem: { misses: 2 },
    config: config({ gateway: [] }),
    state: 'standby',
    rule: 'standby-self-suspect',
    reason: /no gateway is configured: automatic failover is off/,
  },
  // the beacon: a silence (or the peer's word) makes one failed check enough
  {
    name: 'beacon silent before the check, and the check fails: fence and promote at the first miss',
    obs: standbyView({
      ...primaryGone,
      peerBeacon: { heard: true, silentForMs: 600, signalForMs: 600 },
    }),
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
    actions: ['fence-peer:unanswered', 'promote', 'drop-vip:standby', 'take-vip:primary'],
    reason: /failed the check after its beacon fell silent, the gateway answers/,
  },
  {
    name: 'beacon silent, and the one beat new to this look came before the silence: no evidence, promote',
    obs: standbyView({
      ...primaryGone,
      peerBeacon: { heard: true, silentForMs: 1400, signalForMs: 1400, signalSince: NOW - 1400 },
      // WAL came in 60 ms after the last beacon, before the next one was due (100 ms).
      local: {
        heartbeat: { lastAlive: 501_000, writer: 'host1' },
        lastReceiptAt: NOW - 1340,
      },
    }),
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
    reason: /failed the check after its beacon fell silent/,
  },
  {
    name: 'beacon silent, but the WAL receiver heard the peer after the silence began: the new beat counts',
    obs: standbyView({
      ...primaryGone,
      peerBeacon: { heard: true, silentForMs: 1400, signalForMs: 1400, signalSince: NOW - 1400 },
      local: {
        heartbeat: { lastAlive: 501_000, writer: 'host1' },
        lastReceiptAt: NOW - 300,
      },
    }),
    state: 'standby',
    rule: 'standby-following',
  },
  {
    name: 'no beacon signal: a beat new to this look counts, however old the last receipt',
    obs: standbyView({
      ...primaryGone,
      peerBeacon: { heard: true },
      local: {
        heartbeat: { lastAlive: 501_000, writer: 'host1' },
        lastReceiptAt: NOW - 5000,
      },
    }),
    mem: { misses: 2 },
    state: 'standby',
    rule: 'standby-following',
  },
  {
    name: 'the beacon said its server stopped answering, and the check fails: promote at the first miss',
    obs: standbyView({ ...primaryGone, peerBeacon: { heard: true, signalForMs: 1200 } }),
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
    reason: /after its beacon said its server stopped answering/,
  },
  {
    name: 'beacon silent, but the check finds the primary alive: follow it (the beacon is never the verdict)',
    obs: standbyView({ peerBeacon: { heard: true, silentForMs: 900, signalForMs: 900 } }),
    state: 'standby',
    rule: 'standby-following',
  },
  {
    name: "the peer's beacon says it restarts its crashed primary in place: its failed checks wait",
    obs: standbyView({ ...primaryGone, peerBeacon: { heard: true, restartingForMs: 1500 } }),
    mem: { misses: 4 },
    state: 'standby',
    rule: 'standby-suspect',
    reason: /host1 restarts its crashed primary in place \(its beacon says so\): waiting up to 10s/,
  },
  {
    name: 'a restart in place that outlasts the grace: the failed checks count, fence and promote',
    obs: standbyView({ ...primaryGone, peerBeacon: { heard: true, restartingForMs: 10_000 } }),
    mem: { misses: 4 },
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
  },
  {
    name: 'beacon heard, no signal: a failed check is the first of heartbeat.misses',
    obs: standbyView({ ...primaryGone, peerBeacon: { heard: true } }),
    state: 'standby',
    rule: 'standby-suspect',
    reason: /check 1 of 3/,
  },
  {
    name: 'a beacon silent for longer than the window (its supervisor stopped) is no news: misses count as usual',
    obs: standbyView({
      ...primaryGone,
      peerBeacon: { heard: true, silentForMs: 4000, signalForMs: 4000 },
    }),
    state: 'standby',
    rule: 'standby-suspect',
    reason: /check 1 of 3/,
  },
  {
    name: 'beacon silent and the gateway does not answer either: suspect itself, no failover',
    obs: standbyView({
      ...primaryGone,
      gateway: { reachable: false },
      peerBeacon: { heard: true, silentForMs: 600, signalForMs: 600 },
    }),
    state: 'standby',
    rule: 'standby-self-suspect',
  },
  {
    name: "primary isolated in the first check after the standby's beacon fell silent: drop the VIP and stop at once",
    obs: primaryView({
      peerServer: { answering: false },
      gateway: { reachable: false },
      peerBeacon: { heard: true, silentForMs: 700, signalForMs: 700 },
    }),
    mem: { state: 'primary' },
    state: 'demoted',
    rule: 'primary-isolated-demote',
    actions: ['drop-vip:primary', 'demote:fast'],
    reason: /since host2's beacon fell silent/,
  },
  {
    name: 'primary isolated with the beacon silent for long (standby supervisor stopped): isolation_timeout applies',
    obs: primaryView({
      peerServer: { answering: false },
      gateway: { reachable: false },
      peerBeacon: { heard: true, silentForMs: 60_000, signalForMs: 60_000 },
    }),
    mem: { state: 'primary' },
    state: 'primary',
    rule: 'primary-isolated-wait',
  },
  {
    name: 'primary network loss (primary view): isolated, waiting',
    obs: primaryView({ peerServer: { answering: false }, gateway: { reachable: false } }),
    mem: { state: 'primary' },
    state: 'primary',
    rule: 'primary-isolated-wait',
    actions: [],
    reason: /demoting itself after 5s/,
  },
  {
    name: 'primary network loss: isolated past isolation_timeout -> drop VIP and demote',
    obs: primaryView({ peerServer: { answering: false }, gateway: { reachable: false } }),
    mem: { state: 'primary', isolatedSince: NOW - 5000 },
    state: 'demoted',
    rule: 'primary-isolated-demote',
    actions: ['drop-vip:primary', 'demote:fast'],
  },
  {
    name: 'primary reaching the gateway but not the peer is not isolated',
    obs: primaryView({ peerServer: { answering: false } }),
    mem: { state: 'primary', isolatedSince: NOW - 60_000 },
    state: 'primary',
    rule: 'primary-healthy',
  },
  {
    name: 'primary reaching the peer but not the gateway is not isolated',
    obs: primaryView({ gateway: { reachable: false } }),
    mem: { state: 'primary' },
    state: 'primary',
    rule: 'primary-healthy',
  },
  {
    name: 'both networks lost: primary isolated demotes',
    obs: primaryView({ peerServer: { answering: false }, gateway: { reachable: false } }),
    mem: { state: 'primary', isolatedSince: NOW - 10_000 },
    state: 'demoted',
    rule: 'primary-isolated-demote',
  },
  {
    name: 'both networks lost: standby suspects itself',
    obs: standbyView({ ...primaryGone, gateway: { reachable: false } }),
    mem: { misses: 9 },
    state: 'standby',
    rule: 'standby-self-suspect',
  },
  {
    name: 'gateway down only: the pair carries on (standby)',
    obs: standbyView({ gateway: { reachable: false } }),
    state: 'standby',
    rule: 'standby-following',
  },
  {
    name: 'gateway down only: the pair carries on (primary)',
    obs: primaryView({ gateway: { reachable: false } }),
    mem: { state: 'primary' },
    state: 'primary',
    rule: 'primary-healthy',
  },
  {
    name: 'demoted node still isolated stays down',
    obs: primaryView({
      local: { running: false, answering: false, role: undefined },
      peerServer: { answering: false },
      gateway: { reachable: false },
    }),
    mem: { state: 'demoted' },
    state: 'demoted',
    rule: 'down-isolated-stay-down',
    actions: [],
  },
  // flapping network
  {
    name: 'flapping: a check that succeeds resets the count',
    obs: standbyView(),
    mem: { misses: 2 },
    state: 'standby',
    rule: 'standby-following',
  },
  {
    name: 'flapping: after a reset the count starts again at 1',
    obs: standbyView(primaryGone),
    mem: { misses: 0 },
    state: 'standby',
    rule: 'standby-suspect',
    reason: /check 1 of 3/,
  },
  // lag and sync mode
  {
    name: 'standby beyond max_lag does not promote',
    obs: standbyView({ ...primaryGone, local: { replayBacklog: 20 * MiB } }),
    mem: { misses: 2 },
    state: 'standby',
    rule: 'standby-lag-too-high',
    actions: [],
    reason: /20MiB behind \(failover\.max_lag 16MiB\): not promoting/,
  },
  {
    name: "the primary's last view of the lag counts too",
    obs: standbyView({
      ...primaryGone,
      local: { heartbeat: { lastAlive: 500_000, writer: 'host1', repLag: 17 * MiB } },
    }),
    mem: { misses: 2 },
    state: 'standby',
    rule: 'standby-lag-too-high',
  },
  {
    name: 'sync mode: a degrade record makes the standby ineligible',
    obs: standbyView({
      ...primaryGone,
      local: { heartbeat: { lastAlive: 500_000, writer: 'host1', syncDegradedAt: 400_000 } },
    }),
    mem: { misses: 2 },
    config: config({ replication: { mode: 'sync' } }),
    state: 'standby',
    rule: 'standby-sync-unsafe',
    reason: /recorded that it went async/,
  },
  {
    name: 'sync mode: stream lost longer than sync_degrade_after -> ineligible',
    obs: standbyView(primaryGone),
    mem: { misses: 2, notStreamingSince: NOW - 11_000 },
    config: config({ replication: { mode: 'sync' } }),
    state: 'standby',
    rule: 'standby-sync-unsafe',
    reason: /last heard from host1 11s ago, longer than replication\.sync_degrade_after/,
  },
  {
    name: 'sync mode: stream lost recently -> promote',
    obs: standbyView(primaryGone),
    mem: { misses: 2, notStreamingSince: NOW - 3000 },
    config: config({ replication: { mode: 'sync' } }),
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
  },
  {
    name: 'async mode: the degrade rule does not apply',
    obs: standbyView(primaryGone),
    mem: { misses: 2, notStreamingSince: NOW - 60_000 },
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
  },
  {
    name: 'sync primary names its streaming standby',
    obs: primaryView(),
    mem: { state: 'primary' },
    config: config({ replication: { mode: 'sync' } }),
    state: 'primary',
    rule: 'primary-healthy',
    actions: ['set-sync'],
  },
  {
    name: 'sync primary keeps sync while the standby is briefly gone',
    obs: primaryView({ local: { peerReplication: undefined, syncStandbyNames: '"host2"' } }),
    mem: { state: 'primary', peerGoneSince: NOW - 3000 },
    config: config({ replication: { mode: 'sync' } }),
    state: 'primary',
    rule: 'primary-healthy',
    actions: [],
  },
  {
    name: 'sync primary degrades to async (recorded) after sync_degrade_after',
    obs: primaryView({ local: { peerReplication: undefined, syncStandbyNames: '"host2"' } }),
    mem: { state: 'primary', peerGoneSince: NOW - 10_000 },
    config: config({ replication: { mode: 'sync' } }),
    state: 'primary',
    rule: 'primary-healthy',
    actions: ['set-async'],
  },
  {
    name: 'async primary clears a leftover synchronous_standby_names',
    obs: primaryView({ local: { syncStandbyNames: '"host2"' } }),
    mem: { state: 'primary' },
    state: 'primary',
    rule: 'primary-healthy',
    actions: ['set-async'],
  },
  {
    name: 'sync mode: the last message from the primary is what counts, not when the receiver noticed',
    obs: standbyView({
      ...primaryGone,
      local: { receiver: undefined, lastReceiptAt: NOW - 12_000 },
    }),
    mem: { misses: 2, notStreamingSince: NOW - 2000 },
    config: config({ replication: { mode: 'sync' } }),
    state: 'standby',
    rule: 'standby-sync-unsafe',
    reason: /last heard from host1 12s ago/,
  },
  // fencing none: wait for the old primary's self-demotion deadline
  {
    name: 'fencing none: waits for the self-demotion deadline',
    obs: standbyView(primaryGone),
    mem: { misses: 2, primaryLastAliveAt: NOW - 3000 },
    config: config({ failover: { fencing: 'none' } }),
    state: 'standby',
    rule: 'standby-wait-self-demotion',
    reason: /fencing is "none", so waiting/,
  },
  {
    name: 'fencing none: promotes once the deadline has passed',
    obs: standbyView(primaryGone),
    mem: {
      misses: 20,
      primaryLastAliveAt: NOW - selfDemotionDeadlineMs(config({ failover: { fencing: 'none' } })),
    },
    config: config({ failover: { fencing: 'none' } }),
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
    reason: /self-demotion deadline has passed/,
  },
  // frozen primary (SIGSTOP)
  {
    name: 'frozen primary, its own supervisor: waiting while below misses x interval',
    obs: primaryView({ local: { answering: false, role: undefined, beatCommitted: false } }),
    mem: { state: 'primary', unhealthySince: NOW - 1000 },
    state: 'primary',
    rule: 'hung-wait',
  },
  {
    name: 'frozen primary, its own supervisor: kills it and drops the VIP',
    obs: primaryView({ local: { answering: false, role: undefined, beatCommitted: false } }),
    mem: { state: 'primary', unhealthySince: NOW - 3000 },
    state: 'demoted',
    rule: 'primary-hung-self-fence',
    actions: ['drop-vip:primary', 'demote:kill'],
  },
  {
    name: 'frozen primary, the standby: old connections may work, new ones do not -> failover',
    obs: standbyView(primaryGone),
    mem: { misses: 2 },
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
  },
  // old primary returning after failover
  {
    name: 'old primary down, peer now primary -> rebuild (auto_rejoin)',
    obs: standbyView({
      local: { running: false, answering: false, role: undefined, dataIsStandby: false },
      peerServer: { role: 'primary', timeline: 2 },
    }),
    mem: { state: 'starting' },
    state: 'rejoining',
    rule: 'down-diverged-rejoin',
    actions: ['rebuild'],
  },
  {
    name: 'old primary down, peer primary, auto_rejoin off -> stays down',
    obs: standbyView({
      local: { running: false, answering: false, role: undefined, dataIsStandby: false },
      peerServer: { role: 'primary', timeline: 2 },
    }),
    mem: { state: 'starting' },
    config: config({ failover: { auto_rejoin: false } }),
    state: 'blocked',
    rule: 'down-diverged-blocked',
    actions: [],
  },
  {
    name: 'a crashed primary whose peer is still its standby restarts in place as the primary, keeping the VIP',
    obs: primaryView({
      local: { running: false, answering: false, role: undefined, dataIsStandby: false },
    }),
    mem: { state: 'primary' },
    state: 'starting',
    rule: 'down-crashed-primary-restart',
    actions: ['restart-primary'],
    reason: /host2 is still its standby: restarting it in place as the primary/,
  },
  {
    name: 'with fencing none a crashed primary starts as a standby (the peer could promote without fencing it)',
    obs: primaryView({
      local: { running: false, answering: false, role: undefined, dataIsStandby: false },
    }),
    mem: { state: 'primary' },
    config: config({ failover: { fencing: 'none' } }),
    state: 'starting',
    rule: 'down-start-standby',
    actions: ['drop-vip:primary', 'start-standby'],
  },
  {
    name: 'a down node that was not the primary a moment ago never restarts as one',
    obs: primaryView({
      local: { running: false, answering: false, role: undefined, dataIsStandby: false },
    }),
    mem: { state: 'starting' },
    state: 'starting',
    rule: 'down-start-standby',
  },
  {
    name: 'a node that was a standby just starts as one',
    obs: standbyView({
      local: { running: false, answering: false, role: undefined, dataIsStandby: true },
    }),
    mem: { state: 'starting' },
    state: 'starting',
    rule: 'down-start-standby',
    actions: ['start-standby'],
  },
  {
    name: 'never starts as a primary, even with the peer gone',
    obs: standbyView({
      ...primaryGone,
      local: { running: false, answering: false, role: undefined, dataIsStandby: false },
    }),
    mem: { state: 'starting' },
    state: 'starting',
    rule: 'down-start-standby',
    actions: ['start-standby'],
  },
  {
    name: 'started as standby but cannot stream the newer timeline -> rebuild',
    obs: standbyView({ local: { receiver: 'waiting' }, peerServer: { timeline: 2 } }),
    mem: { state: 'standby', notStreamingSince: NOW - 3000 },
    state: 'rejoining',
    rule: 'standby-diverged-rejoin',
    actions: ['rebuild'],
  },
  {
    name: 'cannot stream the newer timeline, auto_rejoin off -> blocked, says so',
    obs: standbyView({ local: { receiver: 'waiting' }, peerServer: { timeline: 2 } }),
    mem: { state: 'standby', notStreamingSince: NOW - 3000 },
    config: config({ failover: { auto_rejoin: false } }),
    state: 'blocked',
    rule: 'standby-diverged-blocked',
    actions: [],
    reason: /run 'skypg rebuild-standby'/,
  },
  {
    name: 'a restarted old primary on an older timeline, still starting its receiver, waits',
    obs: standbyView({ local: { receiver: 'waiting' }, peerServer: { timeline: 2 } }),
    mem: { state: 'standby', notStreamingSince: NOW - 500 },
    state: 'standby',
    rule: 'standby-following',
  },
  {
    name: 'two primaries: the one without the VIP yields',
    obs: primaryView({
      peerServer: { role: 'primary', timeline: 2 },
      primaryVip: { heldHere: false, heldElsewhere: true },
    }),
    mem: { state: 'primary' },
    state: 'demoted',
    rule: 'primary-two-primaries-yield',
    actions: ['demote:fast'],
  },
  {
    name: 'two primaries: the one holding the VIP stays',
    obs: primaryView({ peerServer: { role: 'primary', timeline: 2 } }),
    mem: { state: 'primary' },
    state: 'primary',
    rule: 'primary-healthy',
  },
  // both databases down, then back
  {
    name: 'down after a failed start as a standby, the peer the primary: rebuild instead of the same start again',
    obs: standbyView({
      local: { running: false, answering: false, role: undefined, dataIsStandby: true },
      lastActionError: 'pg_ctl failed (exit 1): Examine the log output.',
    }),
    mem: { state: 'starting' },
    state: 'rejoining',
    rule: 'down-start-failed-rejoin',
    actions: ['rebuild'],
  },
  {
    name: 'down after a failed start, but the last state was not starting: start as a standby',
    obs: standbyView({
      local: { running: false, answering: false, role: undefined, dataIsStandby: true },
      lastActionError: 'pg_ctl failed (exit 1): Examine the log output.',
    }),
    mem: { state: 'standby' },
    state: 'starting',
    rule: 'down-start-standby',
  },
  {
    name: 'both standbys after a double crash: the first look only records the positions',
    obs: standbyView({
      ...primaryGone,
      peerServer: { answering: true, role: 'standby', timeline: 1, lsn: '0/2000000' },
    }),
    mem: { misses: 0 },
    state: 'standby',
    rule: 'standby-suspect',
    reason: /answers as a standby too \(waiting until both positions hold still/,
    memory: { electionPositions: '1:0/3000000|1:0/2000000' },
    nextLoopMs: 250,
  },
  {
    name: 'both standbys: positions still moving (one was replaying) -> no election yet, whatever the misses',
    obs: standbyView({
      ...primaryGone,
      peerServer: { answering: true, role: 'standby', timeline: 1, lsn: '0/2000000' },
    }),
    mem: { misses: 5, electionPositions: '1:0/3000000|1:0/1800000' },
    state: 'standby',
    rule: 'standby-suspect',
    nextLoopMs: 250,
  },
  {
    name: 'both standbys: the one further ahead promotes',
    obs: standbyView({
      ...primaryGone,
      peerServer: { answering: true, role: 'standby', timeline: 1, lsn: '0/2000000' },
    }),
    mem: { misses: 1, electionPositions: '1:0/3000000|1:0/2000000' },
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
    // The peer answered as a standby: fence-peer waits for its answer again, never cuts it short.
    actions: ['fence-peer', 'promote', 'drop-vip:standby', 'take-vip:primary'],
    reason: /host1 is a standby and host2 is further ahead/,
  },
  {
    name: 'both standbys: the one behind waits for the other to lead',
    obs: standbyView({
      ...primaryGone,
      peerServer: { answering: true, role: 'standby', timeline: 1, lsn: '0/4000000' },
    }),
    mem: { misses: 1, electionPositions: '1:0/3000000|1:0/4000000' },
    state: 'standby',
    rule: 'standby-both-standbys-wait',
  },
  {
    name: 'both standbys, same position: the smaller name leads (host1 waits? no: host2 waits)',
    obs: standbyView({
      ...primaryGone,
      peerServer: { answering: true, role: 'standby', timeline: 1, lsn: '0/3000000' },
    }),
    mem: { misses: 1, electionPositions: '1:0/3000000|1:0/3000000' },
    state: 'standby',
    rule: 'standby-both-standbys-wait',
  },
  {
    name: 'both standbys: a higher timeline wins over a further LSN',
    obs: standbyView({
      ...primaryGone,
      local: { timeline: 2, lsn: '0/1000000' },
      peerServer: { answering: true, role: 'standby', timeline: 1, lsn: '0/9000000' },
    }),
    mem: { misses: 1, electionPositions: '2:0/1000000|1:0/9000000' },
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
  },
  {
    name: 'both standbys in sync mode: the old primary restarted as a standby leads despite its own degrade record',
    obs: standbyView({
      ...primaryGone,
      local: { heartbeat: { lastAlive: 500_000, writer: 'host2', syncDegradedAt: 499_000 } },
      peerServer: { answering: true, role: 'standby', timeline: 1, lsn: '0/2000000' },
    }),
    mem: { misses: 1, electionPositions: '1:0/3000000|1:0/2000000' },
    config: config({ replication: { mode: 'sync' } }),
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
  },
  {
    name: 'both standbys: the one ahead leads even when the last rep_lag it recorded is beyond max_lag',
    obs: standbyView({
      ...primaryGone,
      local: { heartbeat: { lastAlive: 500_000, writer: 'host2', repLag: 500 * MiB } },
      peerServer: { answering: true, role: 'standby', timeline: 1, lsn: '0/2000000' },
    }),
    mem: { misses: 1, electionPositions: '1:0/3000000|1:0/2000000' },
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
  },
  {
    name: 'a primary forgets when it last received WAL as a standby',
    obs: primaryView(),
    mem: { state: 'primary', lastReceiptAt: NOW - 60_000 },
    state: 'primary',
    rule: 'primary-healthy',
    memory: { lastReceiptAt: undefined },
  },
  // fence failure / timeout: the promote action fails, the next loop retries, never promotes on its own
  {
    name: 'after a failed fence the next loop tries again (promote re-checks and re-fences)',
    obs: standbyView({
      ...primaryGone,
      lastActionError: 'fencing host1: power is not off after 20000ms',
    }),
    mem: { state: 'promoting', misses: 3 },
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
    actions: ['fence-peer:unanswered', 'promote', 'drop-vip:standby', 'take-vip:primary'],
  },
  // VIP answered by an unexpected host
  {
    name: 'standby VIP is not taken by the primary; primary VIP held elsewhere is left alone',
    obs: primaryView({
      primaryVip: { heldHere: false, heldElsewhere: true },
      peerServer: { answering: false },
    }),
    mem: { state: 'primary' },
    state: 'primary',
    rule: 'primary-vip-elsewhere',
  },
  // paused cluster
  {
    name: 'paused: a healthy primary keeps beating, nothing else',
    obs: primaryView({
      local: { pausedBy: 'dba', peerReplication: undefined },
      primaryVip: { heldHere: false },
    }),
    mem: { state: 'primary' },
    state: 'paused',
    rule: 'paused-primary',
    actions: [],
    reason: /cluster paused by dba/,
  },
  {
    name: 'paused: a standby whose primary failed does nothing',
    obs: standbyView({ ...primaryGone, local: { pausedBy: 'dba' } }),
    mem: { misses: 5 },
    state: 'paused',
    rule: 'paused',
    actions: [],
  },
  {
    name: 'paused: a down node is not started',
    obs: standbyView({
      local: { running: false, answering: false, role: undefined, pausedBy: 'dba' },
    }),
    state: 'paused',
    rule: 'paused',
    actions: [],
  },
  // planned switchover (skypg switchover)
  {
    name: 'switchover, phase prepare: the primary stands aside (no VIP or sync management)',
    obs: primaryView({
      local: { switchover: switchoverFlag('prepare') },
      primaryVip: { heldHere: false },
    }),
    mem: { state: 'primary' },
    state: 'switchover',
    rule: 'switchover-stand-aside',
    actions: [],
    reason: /switchover to host2 by dba in progress \(prepare\): standing aside/,
  },
  {
    name: 'switchover, phase handover: the healthy primary hands over',
    obs: primaryView({ local: { switchover: switchoverFlag('handover') } }),
    mem: { state: 'switchover' },
    state: 'switchover',
    rule: 'switchover-hand-over',
    actions: ['hand-over'],
    reason:
      /checkpoint, clean shutdown, restart of host1 as its standby, then the primary VIP goes/,
  },
  {
    name: 'switchover: the standby whose primary is down does not count, fence or promote',
    obs: standbyView({ ...primaryGone, local: { switchover: switchoverFlag('handover') } }),
    mem: { misses: 5, state: 'switchover' },
    state: 'switchover',
    rule: 'switchover-stand-aside',
    actions: [],
  },
  {
    name: 'switchover: the old primary, restarted as a standby, stands aside until the flag is cleared',
    obs: standbyView({
      ...primaryGone,
      local: { switchover: switchoverFlag('handover'), receiver: 'waiting' },
      standbyVip: { heldHere: false },
    }),
    mem: { state: 'switchover', switchoverSeen: { startedAt: 400_000, seenAt: NOW - 5000 } },
    state: 'switchover',
    rule: 'switchover-stand-aside',
    actions: [],
  },
  {
    name: 'switchover timed out on this node: the usual rules apply again',
    obs: standbyView({ ...primaryGone, local: { switchover: switchoverFlag('handover') } }),
    mem: {
      state: 'switchover',
      misses: 2,
      switchoverSeen: { startedAt: 400_000, seenAt: NOW - 60_000 },
    },
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
    actions: ['fence-peer:unanswered', 'promote', 'drop-vip:standby', 'take-vip:primary'],
  },
  {
    name: 'a switchover timeout above the ceiling (9000000000000 ms) is not obeyed: no hand-over',
    obs: primaryView({
      local: { switchover: { ...switchoverFlag('handover'), timeoutMs: 9_000_000_000_000 } },
    }),
    mem: { state: 'primary' },
    state: 'primary',
    rule: 'primary-healthy',
    actions: [],
  },
  {
    name: 'a switchover timeout above the ceiling does not make a standby stand aside',
    obs: standbyView({
      ...primaryGone,
      local: { switchover: { ...switchoverFlag('prepare'), timeoutMs: 9_000_000_000_000 } },
    }),
    mem: { state: 'standby', misses: 2 },
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
    actions: ['fence-peer:unanswered', 'promote', 'drop-vip:standby', 'take-vip:primary'],
  },
  {
    name: 'a flag past due by the clock that wrote it is not obeyed, even when first seen now',
    obs: standbyView({
      ...primaryGone,
      local: {
        switchover: {
          ...switchoverFlag('prepare'),
          startedAt: NOW - 2 * switchoverTimeoutCeilingMs,
        },
      },
    }),
    mem: { state: 'standby', misses: 2 },
    state: 'promoting',
    rule: 'standby-promote',
    nextLoopMs: 100,
    actions: ['fence-peer:unanswered', 'promote', 'drop-vip:standby', 'take-vip:primary'],
  },
  {
    name: 'a flag naming this node as the target does not make a primary hand over',
    obs: primaryView({ local: { switchover: { ...switchoverFlag('handover'), to: 'host1' } } }),
    mem: { state: 'primary' },
    state: 'switchover',
    rule: 'switchover-stand-aside',
    actions: [],
  },
  {
    name: 'a node still starting up (running, not answering) waits',
    obs: standbyView({ local: { answering: false, role: undefined } }),
    mem: { state: 'starting', unhealthySince: NOW - 10_000 },
    state: 'starting',
    rule: 'hung-wait',
  },
];

describe('decide(): the failover policy table', () => {
  it('has at least 40 scenarios', () => {
    assert.ok(rows.length >= 40, `${rows.length} rows`);
  });
  for (const row of rows) {
    it(row.name, () => {
      const decision = decide(row.obs, memory(row.mem), row.config ?? base);
      assert.equal(decision.rule, row.rule, decision.reason);
      assert.equal(decision.state, row.state);
      if (row.actions) assert.deepEqual(kinds(decision.actions), row.actions);
      if (row.reason) assert.match(decision.reason, row.reason);
      assert.equal(decision.nextLoopMs, row.nextLoopMs, 'nextLoopMs');
      for (const [key, value] of Object.entries(row.memory ?? {}))
        assert.deepEqual(decision.memory[key as keyof Memory], value, `memory.${key}`);
      assert.ok(decision.reason.length > 20, 'every decision says why in a sentence');
    });
  }
});

describe('the rule table checks itself', () => {
  it('every rule is reached by some scenario (none is dead or shadowed)', () => {
    const reached = new Set(
      rows.map((row) => decide(row.obs, memory(row.mem), row.config ?? base).rule),
    );
    const unreached = rules.map((rule) => rule.name).filter((name) => !reached.has(name));
    assert.deepEqual(unreached, []);
  });
  it('rule names are unique', () => {
    const names = rules.map((rule) => rule.name);
    assert.equal(new Set(names).size, names.length);
  });
  it('every situation ends in a catch-all, so no loop is ever without a matching row', () => {
    for (const situation of situations) {
      const own = rules.filter((rule) => rule.situation === situation);
      assert.ok(own.length > 0, `${situation} has rows`);
      assert.equal(own.at(-1)?.when, always, `the last ${situation} row is a catch-all`);
      assert.equal(own.at(-1)?.from, undefined, `the last ${situation} row applies from any state`);
      const catchAlls = own.filter((rule) => rule.when === always);
      assert.equal(catchAlls.length, 1, `${situation}: only the last row is a catch-all`);
    }
    assert.ok(!rules.some((rule) => rule.situation === 'any' && rule.when === always));
  });
  it('rows are ordered by situation: the preamble first, then each situation in turn', () => {
    const order = ['any', ...situations];
    const positions = rules.map((rule) => order.indexOf(rule.situation));
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => a - b),
    );
  });
  it('every scenario is decided by a row of its own situation (or the preamble)', () => {
    for (const row of rows) {
      const decision = decide(row.obs, memory(row.mem), row.config ?? base);
      const rule = rules.find((candidate) => candidate.name === decision.rule);
      assert.ok(
        rule?.situation === 'any' || rule?.situation === situationOf(row.obs.local),
        `${row.name}: ${decision.rule} (${rule?.situation ?? 'unknown'})`,
      );
    }
  });
  it('the local situation comes from the observation alone: down, hung, primary or standby', () => {
    assert.equal(situationOf({ running: false, answering: false }), 'down');
    assert.equal(situationOf({ running: true, answering: false }), 'hung');
    assert.equal(situationOf({ running: true, answering: true }), 'hung');
    assert.equal(situationOf({ running: true, answering: true, role: 'primary' }), 'primary');
    assert.equal(situationOf({ running: true, answering: true, role: 'standby' }), 'standby');
  });
  it('actions come in safety order: drop the primary VIP before demoting, fence before promoting, promote before taking the primary VIP', () => {
    const order = [
      'drop-vip:primary',
      'demote:fast',
      'demote:kill',
      'fence-peer',
      'promote',
      'drop-vip:standby',
      'take-vip:primary',
    ];
    for (const row of rows) {
      const actions = kinds(decide(row.obs, memory(row.mem), row.config ?? base).actions).filter(
        (kind) => order.includes(kind),
      );
      const positions = actions.map((kind) => order.indexOf(kind));
      assert.deepEqual(
        positions,
        [...positions].sort((a, b) => a - b),
        `${row.name}: ${actions.join(', ')}`,
      );
    }
  });
  it('every promote comes right after a fence-peer in the same set, and never a fence-peer alone', () => {
    for (const row of rows) {
      const actions = kinds(decide(row.obs, memory(row.mem), row.config ?? base).actions);
      actions.forEach((kind, at) => {
        if (kind === 'promote')
          assert.ok(actions[at - 1]?.startsWith('fence-peer') === true, row.name);
        if (kind.startsWith('fence-peer')) assert.equal(actions[at + 1], 'promote', row.name);
      });
    }
  });
  it('is pure: the same input gives the same decision, and the input is not modified', () => {
    const obs = standbyView(primaryGone);
    const mem = memory({ misses: 2 });
    const before = JSON.stringify({ obs, mem });
    const first = decide(obs, mem, base);
    const second = decide(obs, mem, base);
    assert.deepEqual(first, second);
    assert.equal(JSON.stringify({ obs, mem }), before);
  });
  it('never promotes while the primary is seen alive, whatever the memory says', () => {
    for (const misses of [0, 3, 100]) {
      const decision = decide(standbyView(), memory({ misses }), base);
      assert.ok(!decision.actions.some((a) => a.kind === 'promote'));
    }
  });
});

describe('when observe() spends a duplicate-address probe on the primary VIP', () => {
  const noVip: ClusterConfig = { ...base, vip: { ...base.vip, primary: undefined } };
  it('a primary without the VIP probes before it takes it', () => {
    assert.ok(base.vip.primary !== undefined, 'the example config has a primary VIP');
    assert.equal(primaryVipProbeNeeded(base, 'primary', false), true);
  });
  it('nobody else does: a primary holding it, a standby, a server that did not answer, no VIP', () => {
    assert.equal(primaryVipProbeNeeded(base, 'primary', true), false);
    assert.equal(primaryVipProbeNeeded(base, 'standby', false), false);
    assert.equal(primaryVipProbeNeeded(base, undefined, false), false);
    assert.equal(primaryVipProbeNeeded(noVip, 'primary', false), false);
  });
});
