// switchover: a planned swap of roles, run on the standby that becomes the primary. The old
// primary's part (drop the VIP, clean shutdown, restart as a standby) is done by its own
// supervisor when the switchover flag says so; this node's part (check that it replayed the
// old primary's shutdown checkpoint, promote, take the VIP) is the write-unavailability window
// and runs here, without waiting for any supervisor loop. docs/operations.md has the runbook.
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { peerOf } from '../config/local-node.js';
import { formatDuration, formatSize } from '../config/units.js';
import { pollUntil } from './poll.js';
import { promoteServer } from '../pg/promote-server.js';
import { SkypgError, messageOf } from '../common/errors.js';
import {
  clearSwitchoverFlag,
  readFlags,
  setSwitchoverPhase,
  writeSwitchoverFlag,
} from '../heartbeat/table.js';
import { withSuperuserSession } from '../heartbeat/targets.js';
import { localTarget, remoteTarget, withConnection, withTimeouts } from '../pg/connect.js';
import { lsnDistance, parseLsn } from '../pg/lsn.js';
import { readReplication, readServerStatus, readWalReceiver } from '../pg/server-status.js';
import type { Precondition } from './promote.js';
import { recordSteps, renderSteps, type StepRecord, type TimedStep } from './steps.js';
import {
  switchoverFlagExpired,
  switchoverTimeoutCeilingMs,
  switchoverTimeoutUsable,
} from '../failover/switchover-timing.js';
import { processStartTicks, readSupervisorState, stateFilePath } from '../supervisor/state-file.js';
import { vipDown, vipHeldHere, vipUp } from '../net/vip.js';

/** The standby must be this close before the swap: replaying it is then a matter of ms. */
export const switchoverMaxLag = 1024 * 1024;
/** After the old primary stopped: how long the standby may take to replay its last WAL. */
const replayWaitMs = 5000;
/** How often the swap looks at the servers (no fixed sleeps: each wait polls this fast). */
const pollMs = 20;

export interface SwitchoverOptions {
  /** The node to become the primary: must be this one (the command runs there). */
  to: string | undefined;
  dryRun: boolean;
  timeoutMs: number;
  /** Go on when the lag stays above the bound (the window grows by the replay time). */
  force: boolean;
  by: string;
  onStep?: (line: string) => void;
}

export interface SwitchoverResult {
  from: string;
  to: string;
  dryRun: boolean;
  preconditions: Precondition[];
  steps: StepRecord[];
  /** From the last moment the old primary answered as one to this node accepting writes
   * through the primary VIP (the command's own view; bench:switchover measures a client's). */
  writesRefusedMs: number | undefined;
  totalMs: number;
  timeline: number | undefined;
  final: { primary: string; standby: string; standbyStreaming: boolean } | undefined;
  warnings: string[];
}

export async function switchover(
  config: ClusterConfig,
  node: NodeConfig,
  options: SwitchoverOptions,
): Promise<SwitchoverResult> {
  const started = performance.now();
  const source = peerOf(config, node.name);
  if (options.to !== undefined && options.to !== node.name) {
    const known = config.nodes.some((candidate) => candidate.name === options.to);
    throw new SkypgError(
      known ? 'REFUSED' : 'NODE_UNKNOWN',
      known
        ? `switchover runs on the node that becomes the primary, and this is ${node.name}`
        : `--to ${options.to} is not a configured node`,
      {
        hint: known
          ? `run 'skypg switchover' on ${options.to}`
          : `name one of ${config.nodes.map((n) => n.name).join(', ')}`,
      },
    );
  }
  if (!switchoverTimeoutUsable(options.timeoutMs)) {
    throw new SkypgError(
      'USAGE',
      `--timeout ${formatDuration(options.timeoutMs)} is above the ${formatDuration(switchoverTimeoutCeilingMs)} the supervisors stand aside at most`,
      { hint: `give --timeout ${formatDuration(switchoverTimeoutCeilingMs)} or less` },
    );
  }
  const { steps, timed } = recordSteps(options.onStep);
  const result: SwitchoverResult = {
    from: source.name,
    to: node.name,
    dryRun: options.dryRun,
    preconditions: [],
    steps,
    writesRefusedMs: undefined,
    totalMs: 0,
    timeline: undefined,
    final: undefined,
    warnings: [],
  };
  const say = (line: string): void => options.onStep?.(line);
  const check = (precondition: Precondition): void => {
    result.preconditions.push(precondition);
    say(`${precondition.ok ? 'ok  ' : 'FAIL'} ${precondition.check}: ${precondition.detail}`);
    if (!precondition.ok && !options.dryRun) {
      throw new SkypgError(
        'REFUSED',
        `not switching over to ${node.name}: ${precondition.check}: ${precondition.detail}`,
        { hint: 'nothing was changed; fix the cause and run it again' },
      );
    }
  };

  // 1. Preconditions, each reported.
  const here = await checkHere(node);
  check(here);
  const there = await checkSource(config, source, node);
  check(there.precondition);
  // Why the row could not be read (an untrusted table says how to fix it) goes in the detail.
  let unreadable = '';
  const flags = await withSuperuserSession(config, source, 'tcp', readFlags).catch(
    (error: unknown) => {
      const hint = error instanceof SkypgError ? error.hint : undefined;
      unreadable = `${messageOf(error)}${hint === undefined ? '' : `: ${hint}`}`;
      return undefined;
    },
  );
  check({
    check: 'the cluster is not paused',
    ok: flags !== undefined && flags.pausedBy === undefined,
    detail:
      flags === undefined
        ? `cannot read the heartbeat row on ${source.name}: ${unreadable}`
        : flags.pausedBy === undefined
          ? 'not paused'
          : `paused by ${flags.pausedBy} ('skypg resume' first)`,
  });
  const running = flags?.switchover;
  // Stale by the clock that wrote it; a timeout above the ceiling is not obeyed by decide().
  const stale =
    running !== undefined && flags !== undefined && switchoverFlagExpired(running, flags.serverNow);
  check({
    check: 'no other switchover in progress',
    ok: running === undefined || stale,
    detail:
      running === undefined
        ? 'none'
        : stale
          ? `an old flag (by ${running.by}) has timed out and is replaced`
          : `a switchover to ${running.to} by ${running.by} is in progress`,
  });
  const deadline = Date.now() + options.timeoutMs;
  const lag = await waitForLag(config, node, source, deadline, options, say);
  check({
    check: `lag below ${formatSize(switchoverMaxLag)}`,
    ok: lag.ok || options.force,
    detail: `${formatSize(lag.bytes)} not replayed${lag.ok ? '' : ` after ${formatDuration(options.timeoutMs)}`}${!lag.ok && options.force ? ' (--force: the swap waits for the replay)' : ''}`,
  });
  // The supervisors stand aside for --timeout; the command must promote well before that.
  const standAsideMargin = config.heartbeat.misses * config.heartbeat.interval + 1000;
  check({
    check: '--timeout leaves time for the swap',
    ok: options.timeoutMs - standAsideMargin >= 5000,
    detail: `the supervisors stand aside for ${formatDuration(options.timeoutMs)}; the promotion must come ${formatDuration(standAsideMargin)} before that, and at least 5s is needed`,
  });
  if (options.dryRun) {
    for (const step of plan(config, node, source))
      steps.push({ step, ms: 0, detail: 'planned (--dry-run)' });
    result.totalMs = Math.round(performance.now() - started);
    return result;
  }

  // 2. Inform the supervisors: both stand aside until the flag is cleared or times out.
  const commandStart = Date.now();
  const flagTimeoutMs = options.timeoutMs;
  const flag = await timed(
    `write the switchover flag on ${source.name} (supervisors stand aside)`,
    () =>
      withSuperuserSession(config, source, 'tcp', (session) =>
        writeSwitchoverFlag(session, {
          to: node.name,
          by: options.by,
          timeoutMs: flagTimeoutMs,
          phase: 'prepare',
        }),
      ),
    (written) => `at ${written.lsn}`,
  );
  // Never promote once the supervisors may have stopped standing aside: they count their
  // timeout from when they saw the flag, which is after commandStart.
  const promoteBy = commandStart + flagTimeoutMs - standAsideMargin;
  const abort = async (why: string, hint: string): Promise<never> => {
    await withSuperuserSession(config, source, 'tcp', clearSwitchoverFlag).catch(() => undefined);
    throw new SkypgError('REFUSED', `not switching over to ${node.name}: ${why}`, {
      hint: `nothing was changed (the flag is cleared); ${hint}`,
      details: renderSteps(steps),
    });
  };
  try {
    await timed(
      `${node.name} replays the flag`,
      () => waitForReplay(node, flag.lsn, promoteBy),
      (lsn) => `replayed ${lsn}`,
    );
    await timed(`${node.name}'s supervisor stands aside`, () =>
      waitForLocalSupervisor(config, node, Date.now() + 3 * config.heartbeat.interval + 5000),
    ).then((detail) => {
      if (detail !== 'standing aside') result.warnings.push(detail);
    });
  } catch (error) {
    return abort(messageOf(error), 'check that both nodes run their supervisors');
  }

  // 3. The swap. The old primary's supervisor drops the VIP, stops cleanly and restarts as a
  //    standby; the time it takes to notice is before the window (it still serves writes).
  await timed(`ask ${source.name}'s supervisor to hand over`, () =>
    withSuperuserSession(config, source, 'tcp', (session) =>
      setSwitchoverPhase(session, 'handover'),
    ),
  );
  const handover = await waitForHandover(config, source, promoteBy, timed);
  if (handover.kind === 'still-primary') {
    return abort(
      `${source.name}'s supervisor did not hand over in time (--timeout ${formatDuration(options.timeoutMs)})`,
      `is the supervisor running on ${source.name} ('skypg check-alive' there)?`,
    );
  }
  if (handover.kind === 'down') {
    throw new SkypgError(
      'PARTIAL',
      `${source.name} stopped for the switchover but did not come back as a standby (${handover.detail}); nothing was promoted`,
      {
        hint: `${source.name} has all the writes: start it ('skypg supervisor' there starts it as a standby once the switchover times out in ${formatDuration(flagTimeoutMs)}), then 'skypg promote' on whichever node should lead`,
        details: renderSteps(steps),
      },
    );
  }
  const windowStart = handover.lastPrimaryAt;
  const checkpoint = handover.checkpoint;
  try {
    if (Date.now() >= promoteBy)
      throw new Error(
        `the switchover ran out of time (--timeout ${formatDuration(flagTimeoutMs)})`,
      );
    await timed(
      `${node.name} replayed ${source.name}'s shutdown checkpoint ${checkpoint.lsn}`,
      () => waitPastCheckpoint(node, checkpoint, Math.min(Date.now() + replayWaitMs, promoteBy)),
      (replayed) => `replayed to ${replayed}`,
    );
  } catch (error) {
    return rollBack(config, node, source, steps, timed, messageOf(error));
  }

  // Promotion and the VIPs at once: the old primary dropped the primary VIP before it stopped
  // (its hand-over does that first), so no duplicate address detection is needed.
  const vips = (async () => {
    if (config.vip.standby) await vipDown(config, 'standby');
    if (config.vip.primary) await vipUp(config, 'primary', { knownReleased: true });
  })();
  const signal = { sent: false };
  const promotion = timed(
    `promote ${node.name}`,
    () => promoteHere(node, signal),
    (tli) => `timeline ${tli}`,
  );
  const [vipOutcome, promoteOutcome] = await Promise.allSettled([
    timed('move the VIPs here (drop the standby VIP, take the primary VIP)', () => vips),
    promotion,
  ]);
  if (promoteOutcome.status === 'rejected') {
    const role = await withConnection(localTarget(node), readServerStatus).then(
      (status) => status.role,
      () => undefined,
    );
    if (role !== 'primary' && !signal.sent) {
      if (config.vip.primary) await vipDown(config, 'primary').catch(() => undefined);
      return rollBack(config, node, source, steps, timed, messageOf(promoteOutcome.reason));
    }
    if (role !== 'primary') {
      // Asked to promote, not confirmed: it may still promote, so the old primary must not.
      throw new SkypgError(
        'PARTIAL',
        `${node.name} was asked to promote but did not confirm it (${messageOf(promoteOutcome.reason)}); ${source.name} is a standby with every write`,
        {
          hint: `watch 'skypg status': once ${node.name} answers as the primary, run 'skypg vip up primary' on it if it does not hold the VIP; if it never does, 'skypg promote' on ${source.name}`,
          details: renderSteps(steps),
        },
      );
    }
  }
  const windowEnd = Date.now();
  result.writesRefusedMs = windowEnd - windowStart;
  result.timeline =
    promoteOutcome.status === 'fulfilled'
      ? promoteOutcome.value
      : (await withConnection(localTarget(node), readServerStatus)).timeline;
  if (vipOutcome.status === 'rejected') {
    throw new SkypgError(
      'PARTIAL',
      `${node.name} is the primary (timeline ${result.timeline}) but moving the VIPs failed: ${messageOf(vipOutcome.reason)}`,
      {
        hint: `clients may not reach it yet: fix the cause and run 'skypg vip up primary' on ${node.name}; the switchover flag times out in ${formatDuration(flagTimeoutMs)}`,
        details: renderSteps(steps),
      },
    );
  }

  // 4. Done: clear the flag here (it reaches the old primary by replication), wait until the
  //    old primary streams from this one.
  await timed(`clear the switchover flag on ${node.name}`, () =>
    withSuperuserSession(config, node, 'tcp', clearSwitchoverFlag),
  );
  const streaming = await timed(
    `${source.name} streams from ${node.name}`,
    () => waitForFollower(node, source, Math.max(deadline, Date.now() + 30_000)),
    (ok) => (ok ? 'streaming' : 'not yet: its supervisor rejoins it (rewind only if it diverged)'),
  );
  if (!streaming)
    result.warnings.push(
      `${source.name} does not stream yet: its supervisor rejoins it; watch 'skypg status'`,
    );
  result.final = { primary: node.name, standby: source.name, standbyStreaming: streaming };
  result.totalMs = Math.round(performance.now() - started);
  return result;
}

function plan(config: ClusterConfig, node: NodeConfig, source: NodeConfig): string[] {
  return [
    `write the switchover flag on ${source.name}; wait until ${node.name} replays it and its supervisor stands aside`,
    `${source.name}'s supervisor drops the primary VIP, shuts down (fast) and restarts as a standby`,
    `check that ${node.name} replayed ${source.name}'s shutdown checkpoint`,
    `promote ${node.name}${config.vip.primary ? '; take the primary VIP here' : ''}${config.vip.standby ? ', drop the standby VIP here' : ''}`,
    `clear the flag; wait until ${source.name} streams from ${node.name}`,
  ];
}

async function checkHere(node: NodeConfig): Promise<Precondition> {
  const check = `${node.name} is a streaming standby`;
  try {
    return await withConnection(localTarget(node), async (session) => {
      const status = await readServerStatus(session);
      if (status.role !== 'standby')
        return {
          check,
          ok: false,
          detail: `${node.name} is the primary: run 'skypg switchover' on the standby that is to become the primary`,
        };
      const receiver = await readWalReceiver(session, status.versionNum);
      return receiver?.status === 'streaming'
        ? { check, ok: true, detail: `streaming on timeline ${status.timeline}` }
        : { check, ok: false, detail: `its WAL receiver is ${receiver?.status ?? 'not running'}` };
    });
  } catch (error) {
    return { check, ok: false, detail: `its PostgreSQL does not answer (${messageOf(error)})` };
  }
}

async function checkSource(
  config: ClusterConfig,
  source: NodeConfig,
  node: NodeConfig,
): Promise<{ precondition: Precondition }> {
  const check = `${source.name} is the primary and ${node.name} streams from it`;
  try {
    return await withConnection(
      withTimeouts(remoteTarget(source), Math.max(1000, config.heartbeat.timeout)),
      async (session) => {
        const status = await readServerStatus(session);
        if (status.role !== 'primary')
          return { precondition: { check, ok: false, detail: `${source.name} is a standby` } };
        const rows = await readReplication(session);
        const row = rows.find((candidate) => candidate.applicationName === node.name);
        return {
          precondition: {
            check,
            ok: row?.state === 'streaming',
            detail:
              row === undefined
                ? `${node.name} is not connected to it`
                : `${row.state} (${row.syncState}) on timeline ${status.timeline}`,
          },
        };
      },
    );
  } catch (error) {
    return {
      precondition: {
        check,
        ok: false,
        detail: `${source.name} does not answer (${messageOf(error)})`,
      },
    };
  }
}

/** Bytes between the primary's WAL position and this standby's replay, waited down to the bound. */
async function waitForLag(
  config: ClusterConfig,
  node: NodeConfig,
  source: NodeConfig,
  deadline: number,
  options: SwitchoverOptions,
  say: (line: string) => void,
): Promise<{ ok: boolean; bytes: number }> {
  let lastReport = Date.now();
  let bytes = 0;
  const caughtUp = await pollUntil(
    async () => {
      const primaryLsn = await withConnection(remoteTarget(source), readServerStatus).then(
        (status) => status.currentLsn ?? '0/0',
      );
      const replay = await withConnection(localTarget(node), readServerStatus).then(
        (status) => status.replayLsn ?? '0/0',
      );
      bytes = lsnDistance(primaryLsn, replay);
      if (bytes <= switchoverMaxLag) return true;
      if (options.force) return false;
      if (Date.now() - lastReport >= 1000) {
        say(
          `waiting for ${node.name} to catch up: ${formatSize(bytes)} behind (bound ${formatSize(switchoverMaxLag)}, ${formatDuration(Math.max(0, deadline - Date.now()))} left)`,
        );
        lastReport = Date.now();
      }
      return undefined;
    },
    { deadline, everyMs: Math.min(200, config.heartbeat.interval) },
  );
  return { ok: caughtUp === true, bytes };
}

async function waitForReplay(node: NodeConfig, lsn: string, deadline: number): Promise<string> {
  const wanted = parseLsn(lsn);
  let replayed = '0/0';
  const done = await pollUntil(
    async () => {
      replayed = await withConnection(localTarget(node), readServerStatus).then(
        (status) => status.replayLsn ?? '0/0',
      );
      return parseLsn(replayed) >= wanted ? replayed : undefined;
    },
    { deadline, everyMs: pollMs },
  );
  if (done === undefined)
    throw new Error(`${node.name} did not replay ${lsn} in time (replayed ${replayed})`);
  return done;
}

/**
 * Waits until this node's supervisor reports the switchover state in a loop that began after
 * the flag was replayed here. Without a live supervisor there is nothing to wait for (a warning).
 */
async function waitForLocalSupervisor(
  config: ClusterConfig,
  node: NodeConfig,
  deadline: number,
): Promise<string> {
  const path = stateFilePath(config, node.name);
  const since = Date.now();
  let says = 'nothing yet';
  const outcome = await pollUntil(
    async () => {
      const state = await readSupervisorState(path).catch(() => undefined);
      const alive =
        state !== undefined && (await processStartTicks(state.pid)) === state.pidStartTicks;
      if (!alive) return `no supervisor runs on ${node.name} (state file ${path})`;
      says = state.state;
      return state.state === 'switchover' && Date.parse(state.updatedAt) > since
        ? 'standing aside'
        : undefined;
    },
    { deadline, everyMs: pollMs * 5 },
  );
  if (outcome === undefined)
    throw new Error(`${node.name}'s supervisor did not stand aside (it says: ${says})`);
  return outcome;
}

interface Checkpoint {
  lsn: string;
  timeline: number;
}

type Handover =
  | { kind: 'standby'; lastPrimaryAt: number; checkpoint: Checkpoint }
  | { kind: 'still-primary' }
  | { kind: 'down'; detail: string };

/**
 * Polls the old primary: still a primary (its supervisor has not acted yet), then not answering
 * (stopping), then a standby again, whose control file still holds the shutdown checkpoint.
 */
async function waitForHandover(
  config: ClusterConfig,
  source: NodeConfig,
  deadline: number,
  timed: TimedStep,
): Promise<Handover> {
  const target = withTimeouts(remoteTarget(source), Math.max(1000, config.heartbeat.timeout));
  const observe = () =>
    withConnection(target, async (session) => {
      const status = await readServerStatus(session);
      if (status.role === 'primary') return { role: 'primary' as const };
      const [row] = await session.query<{ lsn: string; timeline: number }>(
        'select checkpoint_lsn::text as lsn, timeline_id as timeline from pg_control_checkpoint()',
      );
      return { role: 'standby' as const, checkpoint: row };
    }).catch((error: unknown) => ({ role: 'down' as const, error: messageOf(error) }));
  let lastPrimaryAt = Date.now();
  const stopped = await timed(`${source.name} stops accepting writes`, async () => {
    const seen = await pollUntil(
      async () => {
        const answer = await observe();
        if (answer.role === 'primary') lastPrimaryAt = Date.now();
        return answer.role === 'primary' ? undefined : true;
      },
      { deadline, everyMs: pollMs },
    );
    return seen === true;
  });
  if (!stopped) return { kind: 'still-primary' };
  let detail = 'not answering';
  const back = await timed(
    `${source.name} shut down cleanly and restarted as a standby`,
    () =>
      pollUntil(
        async () => {
          const seen = await observe();
          if (seen.role === 'standby' && seen.checkpoint !== undefined) return seen.checkpoint;
          if (seen.role === 'down') detail = seen.error;
          if (seen.role === 'primary') detail = 'it answers as a primary again';
          return undefined;
        },
        { deadline: Math.max(deadline, Date.now() + 30_000), everyMs: pollMs },
      ),
    (checkpoint) =>
      checkpoint === undefined ? 'not back' : `shutdown checkpoint ${checkpoint.lsn}`,
  );
  if (back === undefined) return { kind: 'down', detail };
  return {
    kind: 'standby',
    lastPrimaryAt,
    checkpoint: { lsn: back.lsn, timeline: back.timeline },
  };
}

/** This standby has replayed the checkpoint record (its replay position is past its start). */
async function waitPastCheckpoint(
  node: NodeConfig,
  checkpoint: Checkpoint,
  deadline: number,
): Promise<string> {
  const at = parseLsn(checkpoint.lsn);
  let last = 'nothing';
  const past = await pollUntil(
    async () => {
      const status = await withConnection(localTarget(node), readServerStatus);
      // The same history: this standby streamed from that primary until it stopped (checked).
      last = status.replayLsn ?? '?';
      return status.replayLsn !== undefined && parseLsn(status.replayLsn) > at
        ? status.replayLsn
        : undefined;
    },
    { deadline, everyMs: pollMs / 2 },
  );
  if (past !== undefined) return past;
  throw new Error(
    `${node.name} did not replay past the shutdown checkpoint ${checkpoint.lsn} in time (replayed ${last})`,
  );
}

/** pg_promote without its own wait (it checks every 100 ms); polled here every few ms. */
function promoteHere(node: NodeConfig, signal: { sent: boolean }): Promise<number> {
  return promoteServer(localTarget(node), node.name, {
    wait: 'poll',
    onSignal: () => {
      signal.sent = true;
    },
  });
}

/** Rollback before this node was promoted: the old primary, now a standby, is promoted again. */
async function rollBack(
  config: ClusterConfig,
  node: NodeConfig,
  source: NodeConfig,
  steps: StepRecord[],
  timed: TimedStep,
  why: string,
): Promise<never> {
  try {
    if (config.vip.primary && (await vipHeldHere(config, 'primary')))
      await timed('drop the primary VIP here', () => vipDown(config, 'primary'));
    const timeline = await timed(
      `roll back: promote ${source.name} again`,
      () => promoteServer(remoteTarget(source), source.name, { wait: 'server' }),
      (tli) => `primary again on timeline ${tli}`,
    );
    await timed(`clear the switchover flag on ${source.name}`, () =>
      withSuperuserSession(config, source, 'tcp', clearSwitchoverFlag),
    );
    throw new SkypgError(
      'PARTIAL',
      `switchover to ${node.name} failed before its promotion (${why}); rolled back: ${source.name} is the primary again (timeline ${timeline}), its supervisor takes the primary VIP back within a loop, ${node.name} stays its standby`,
      {
        hint: `no acknowledged write is lost; find out why ${node.name} fell behind ('skypg check-lag' on it) before trying again`,
        details: renderSteps(steps),
      },
    );
  } catch (error) {
    if (error instanceof SkypgError && error.code === 'PARTIAL') throw error;
    throw new SkypgError(
      'PARTIAL',
      `switchover to ${node.name} failed before its promotion (${why}), and the rollback failed too (${messageOf(error)}): nobody is the primary; ${source.name} runs as a standby with every acknowledged write`,
      {
        hint: `promote ${source.name} by hand ('skypg promote' there); the supervisors stand aside until the switchover times out`,
        details: renderSteps(steps),
      },
    );
  }
}

/** The old primary streams from this new primary (pg_stat_replication here). */
async function waitForFollower(
  node: NodeConfig,
  follower: NodeConfig,
  deadline: number,
): Promise<boolean> {
  const streaming = await pollUntil(
    async () => {
      const rows = await withConnection(localTarget(node), readReplication).catch(() => []);
      return rows.some((row) => row.applicationName === follower.name && row.state === 'streaming')
        ? true
        : undefined;
    },
    { deadline, everyMs: 100 },
  );
  return streaming === true;
}
