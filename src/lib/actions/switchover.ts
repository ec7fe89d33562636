// switchover: a planned swap of roles, run on the standby that becomes the primary. The old
// primary's part (drop the VIP, clean shutdown, restart as a standby) is done by its own
// supervisor when the switchover flag says so; this node's part (check that it replayed the
// old primary's shutdown checkpoint, promote, take the VIP) is the write-unavailability window
// and runs here, without waiting for any supervisor loop. docs/operations.md has the runbook.
//
// The switchover is a list of named steps over one `Run`: checkRequest, checkPreconditions (the
// rules are pure, in failover/switchover-preconditions.ts), raiseFlag, handOver, confirmReplay,
// swap, finish; abortSwitchover and rollBack are the ways back. Every effect goes through
// SwitchoverDeps (switchover-deps.ts).
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { peerOf } from '../config/local-node.js';
import { formatDuration, formatSize } from '../config/units.js';
import { pollUntil } from './poll.js';
import { SkypgError, messageOf } from '../common/errors.js';
import type { Precondition } from './promote.js';
import { recordSteps, renderSteps, type StepRecord, type TimedStep } from './steps.js';
import {
  switchoverTimeoutCeilingMs,
  switchoverTimeoutUsable,
} from '../failover/switchover-timing.js';
import {
  judgeSwitchover,
  standAsideMarginMs,
  switchoverMaxLag,
  type CandidateView,
  type ServerReply,
  type SourceView,
  type SwitchoverFacts,
} from '../failover/switchover-preconditions.js';
import { lsnDistance, parseLsn } from '../pg/lsn.js';
import {
  realSwitchoverDeps,
  type Checkpoint,
  type HandoverAnswer,
  type SwitchoverDeps,
} from './switchover-deps.js';

export { switchoverMaxLag } from '../failover/switchover-preconditions.js';

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
  /** When (epoch ms, this node's clock) each moment of the swap was seen, for profiling. */
  moments: SwitchoverMoments;
  totalMs: number;
  timeline: number | undefined;
  final: { primary: string; standby: string; standbyStreaming: boolean } | undefined;
  warnings: string[];
}

export interface SwitchoverMoments {
  /** The phase was set to handover: the old primary's supervisor acts within a loop. */
  handoverAsked?: number;
  /** The last answer of the old primary as a primary, and the first that was not one. */
  lastPrimary?: number;
  notPrimary?: number;
  /** The old primary answered as a standby (its VIP dropped, its checkpoint readable). */
  standby?: number;
  /** This node had replayed past the old primary's shutdown checkpoint. */
  replayed?: number;
  /** pg_promote() was asked for, and this node answered as the primary. */
  promoteAsked?: number;
  promoted?: number;
  /** This node began to take the primary VIP, then held it and had started announcing it. */
  vipAsked?: number;
  vipTaken?: number;
}

/** One switchover under way: what every step reads, and the result it appends to. */
interface Run {
  config: ClusterConfig;
  /** This node, the one to become the primary. */
  node: NodeConfig;
  /** The old primary. */
  source: NodeConfig;
  options: SwitchoverOptions;
  deps: SwitchoverDeps;
  result: SwitchoverResult;
  timed: TimedStep;
  say: (line: string) => void;
  /** The supervisors stand aside for --timeout; the promotion must come this long before. */
  marginMs: number;
  /** Taking the primary VIP, started once the old primary's postmaster is gone: true when
   * taken, else why not. */
  earlyVip?: Promise<true | string>;
}

export async function switchover(
  config: ClusterConfig,
  node: NodeConfig,
  options: SwitchoverOptions,
  deps: SwitchoverDeps = realSwitchoverDeps,
): Promise<SwitchoverResult> {
  const started = performance.now();
  const source = checkRequest(config, node, options);
  const { steps, timed } = recordSteps(options.onStep);
  const run: Run = {
    config,
    node,
    source,
    options,
    deps,
    result: {
      from: source.name,
      to: node.name,
      dryRun: options.dryRun,
      preconditions: [],
      steps,
      writesRefusedMs: undefined,
      moments: {},
      totalMs: 0,
      timeline: undefined,
      final: undefined,
      warnings: [],
    },
    timed,
    say: (line) => options.onStep?.(line),
    marginMs: standAsideMarginMs(config.heartbeat),
  };
  const deadline = await checkPreconditions(run);
  if (options.dryRun) {
    for (const step of plan(run)) steps.push({ step, ms: 0, detail: 'planned (--dry-run)' });
  } else {
    const promoteBy = await raiseFlag(run);
    const handover = await handOver(run, promoteBy);
    await confirmReplay(run, handover.checkpoint, promoteBy);
    await swap(run, handover.lastPrimaryAt);
    await finish(run, deadline);
  }
  run.result.totalMs = Math.round(performance.now() - started);
  return run.result;
}

/** The request itself: this node is the one to promote, and the timeout is one skypg obeys. */
function checkRequest(
  config: ClusterConfig,
  node: NodeConfig,
  options: SwitchoverOptions,
): NodeConfig {
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
  return peerOf(config, node.name);
}

/**
 * Gathers the facts in order and reports each precondition they settle. Without --dry-run the
 * first failed one refuses the switchover before anything slower (the lag wait) is asked.
 * Returns the deadline of the lag wait, which also bounds the final wait for the follower.
 */
async function checkPreconditions(run: Run): Promise<number> {
  const { config, node, source, deps } = run;
  const facts: SwitchoverFacts = {
    node: node.name,
    source: source.name,
    timeoutMs: run.options.timeoutMs,
    force: run.options.force,
    standAsideMarginMs: run.marginMs,
  };
  facts.here = await replyOf<CandidateView>(() => deps.servers.candidate(node));
  report(run, facts);
  facts.there = await replyOf<SourceView>(() => deps.servers.source(config, source, node));
  report(run, facts);
  facts.flags = await deps.flags.read(config, source).catch((error: unknown) => {
    const hint = error instanceof SkypgError ? error.hint : undefined;
    return { unreadable: `${messageOf(error)}${hint === undefined ? '' : `: ${hint}`}` };
  });
  report(run, facts);
  const deadline = deps.clock.now() + run.options.timeoutMs;
  facts.lag = await waitForLag(run, deadline);
  report(run, facts);
  return deadline;
}

function replyOf<View>(read: () => Promise<View>): Promise<ServerReply<View>> {
  return read().then(
    (view) => ({ answered: true, view }),
    (error: unknown) => ({ answered: false, error: messageOf(error) }),
  );
}

/** Says the preconditions the facts newly settle; without --dry-run a failed one refuses. */
function report(run: Run, facts: SwitchoverFacts): void {
  const known = run.result.preconditions;
  for (const precondition of judgeSwitchover(facts).preconditions.slice(known.length)) {
    known.push(precondition);
    run.say(`${precondition.ok ? 'ok  ' : 'FAIL'} ${precondition.check}: ${precondition.detail}`);
    if (!precondition.ok && !run.options.dryRun) {
      throw new SkypgError(
        'REFUSED',
        `not switching over to ${run.node.name}: ${precondition.check}: ${precondition.detail}`,
        { hint: 'nothing was changed; fix the cause and run it again' },
      );
    }
  }
}

function plan({ config, node, source }: Run): string[] {
  return [
    `write the switchover flag on ${source.name}; wait until ${node.name} replays it and its supervisor stands aside`,
    `${source.name}'s supervisor drops the primary VIP, shuts down (fast) and restarts as a standby`,
    `check that ${node.name} replayed ${source.name}'s shutdown checkpoint`,
    `promote ${node.name}${config.vip.primary ? '; take the primary VIP here' : ''}${config.vip.standby ? ', drop the standby VIP here' : ''}`,
    `clear the flag; wait until ${source.name} streams from ${node.name}`,
  ];
}

/**
 * The flag protocol: write the flag on the old primary (both supervisors stand aside until it
 * is cleared or times out), wait until this node replayed it and its supervisor stands aside.
 * Returns the moment by which this node must have promoted.
 */
async function raiseFlag(run: Run): Promise<number> {
  const { config, node, source, deps, options } = run;
  const commandStart = deps.clock.now();
  const flag = await run.timed(
    `write the switchover flag on ${source.name} (supervisors stand aside)`,
    () =>
      deps.flags.write(config, source, {
        to: node.name,
        by: options.by,
        timeoutMs: options.timeoutMs,
        phase: 'prepare',
      }),
    (written) => `at ${written.lsn}`,
  );
  // Never promote once the supervisors may have stopped standing aside: they count their
  // timeout from when they saw the flag, which is after commandStart.
  const promoteBy = commandStart + options.timeoutMs - run.marginMs;
  try {
    await run.timed(
      `${node.name} replays the flag`,
      () => waitForReplay(run, flag.lsn, promoteBy),
      (lsn) => `replayed ${lsn}`,
    );
    const supervisorBy = deps.clock.now() + 3 * config.heartbeat.interval + 5000;
    const detail = await run.timed(`${node.name}'s supervisor stands aside`, () =>
      waitForLocalSupervisor(run, supervisorBy),
    );
    if (detail !== 'standing aside') run.result.warnings.push(detail);
  } catch (error) {
    return abortSwitchover(run, messageOf(error), 'check that both nodes run their supervisors');
  }
  return promoteBy;
}

/** Before the old primary stopped: clear the flag (if it still can be) and refuse. */
async function abortSwitchover(run: Run, why: string, hint: string): Promise<never> {
  await run.deps.flags.clear(run.config, run.source).catch(() => undefined);
  throw new SkypgError('REFUSED', `not switching over to ${run.node.name}: ${why}`, {
    hint: `nothing was changed (the flag is cleared); ${hint}`,
    details: renderSteps(run.result.steps),
  });
}

/**
 * The swap's first half: the old primary's supervisor drops the VIP, stops cleanly and restarts
 * as a standby; the time it takes to notice is before the window (it still serves writes).
 */
async function handOver(
  run: Run,
  promoteBy: number,
): Promise<{ lastPrimaryAt: number; checkpoint: Checkpoint }> {
  const { config, source, deps } = run;
  // Runs its first program (and so loads the module that runs them, a few hundred ms on a
  // busy host) now, not when it takes the VIP inside the window, where that load would hold
  // up the polls of the old primary as well.
  if (config.vip.primary) await deps.vips.heldHere(config, 'primary').catch(() => false);
  await run.timed(`ask ${source.name}'s supervisor to hand over`, () =>
    deps.flags.setPhase(config, source, 'handover'),
  );
  run.result.moments.handoverAsked = deps.clock.now();
  const lastPrimaryAt = await waitUntilNotPrimary(run, promoteBy);
  if (lastPrimaryAt === undefined) {
    return abortSwitchover(
      run,
      `${source.name}'s supervisor did not hand over in time (--timeout ${formatDuration(run.options.timeoutMs)})`,
      `is the supervisor running on ${source.name} ('skypg check-alive' there)?`,
    );
  }
  const back = await waitUntilStandby(run, promoteBy);
  if ('down' in back) {
    // Nobody is promoted: the VIP must not stay on this standby.
    if (run.earlyVip !== undefined)
      await run.earlyVip.then(() => deps.vips.down(config, 'primary')).catch(() => undefined);
    // Nobody can write the flag now: it times out, and then the old primary's supervisor
    // starts it as a standby.
    throw new SkypgError(
      'PARTIAL',
      `${source.name} stopped for the switchover but did not come back as a standby (${back.down}); nothing was promoted`,
      {
        hint: `${source.name} has all the writes: start it ('skypg supervisor' there starts it as a standby once the switchover times out in ${formatDuration(run.options.timeoutMs)}), then 'skypg promote' on whichever node should lead`,
        details: renderSteps(run.result.steps),
      },
    );
  }
  return { lastPrimaryAt, checkpoint: back.checkpoint };
}

/** Polls the old primary until it no longer answers as one; the last moment it did, if so. */
async function waitUntilNotPrimary(run: Run, deadline: number): Promise<number | undefined> {
  const { config, source, deps } = run;
  let lastPrimaryAt = deps.clock.now();
  const stopped = await run.timed(`${source.name} stops accepting writes`, async () => {
    const seen = await pollUntil(
      async () => {
        const answer = await deps.servers.handover(config, source);
        if (answer.role === 'primary') lastPrimaryAt = deps.clock.now();
        else takeVipOnceStopped(run, answer);
        return answer.role === 'primary' ? undefined : true;
      },
      { deadline, everyMs: pollMs, clock: deps.clock },
    );
    return seen === true;
  });
  if (!stopped) return undefined;
  run.result.moments.lastPrimary = lastPrimaryAt;
  run.result.moments.notPrimary = deps.clock.now();
  return lastPrimaryAt;
}

/**
 * Takes the primary VIP here as soon as the old primary's postmaster is gone (its host refuses
 * the connection, or it answers as a standby): its WAL senders are done, so nothing streams
 * through the VIP any more, and no server that could write is left behind it. The old primary
 * keeps the VIP until it sees this node answer for it, so a client's connection is always
 * answered: refused there, or a read-only error here until the promotion. Runs in the
 * background; the swap awaits it.
 */
function takeVipOnceStopped(run: Run, answer: HandoverAnswer): void {
  const { config, deps, result } = run;
  if (!config.vip.primary || run.earlyVip !== undefined) return;
  const stopped = answer.role === 'standby' || (answer.role === 'down' && answer.refused === true);
  if (!stopped) return;
  // No duplicate address detection: the old primary answers for it until it sees it here.
  result.moments.vipAsked = deps.clock.now();
  run.earlyVip = deps.vips.up(config, 'primary', { knownReleased: true }).then(
    () => {
      result.moments.vipTaken = deps.clock.now();
      return true as const;
    },
    (error: unknown) => messageOf(error),
  );
}

/** Then until it answers as a standby, whose control file still holds the shutdown checkpoint. */
async function waitUntilStandby(
  run: Run,
  deadline: number,
): Promise<{ checkpoint: Checkpoint } | { down: string }> {
  const { config, source, deps } = run;
  let detail = 'not answering';
  const back = await run.timed(
    `${source.name} shut down cleanly and restarted as a standby`,
    () =>
      pollUntil(
        async () => {
          const seen = await deps.servers.handover(config, source);
          takeVipOnceStopped(run, seen);
          if (seen.role === 'standby' && seen.checkpoint !== undefined) return seen.checkpoint;
          if (seen.role === 'down') detail = seen.error;
          if (seen.role === 'primary') detail = 'it answers as a primary again';
          return undefined;
        },
        {
          deadline: Math.max(deadline, deps.clock.now() + 30_000),
          everyMs: pollMs,
          clock: deps.clock,
        },
      ),
    (checkpoint) =>
      checkpoint === undefined ? 'not back' : `shutdown checkpoint ${checkpoint.lsn}`,
  );
  if (back === undefined) return { down: detail };
  run.result.moments.standby = deps.clock.now();
  return { checkpoint: { lsn: back.lsn, timeline: back.timeline } };
}

/** This node replayed the old primary's shutdown checkpoint in time; else the rollback. */
async function confirmReplay(run: Run, checkpoint: Checkpoint, promoteBy: number): Promise<void> {
  const { node, source, deps } = run;
  try {
    if (deps.clock.now() >= promoteBy)
      throw new Error(
        `the switchover ran out of time (--timeout ${formatDuration(run.options.timeoutMs)})`,
      );
    const replayBy = Math.min(deps.clock.now() + replayWaitMs, promoteBy);
    await run.timed(
      `${node.name} replayed ${source.name}'s shutdown checkpoint ${checkpoint.lsn}`,
      () => waitPastCheckpoint(run, checkpoint, replayBy),
      (replayed) => `replayed to ${replayed}`,
    );
    run.result.moments.replayed = deps.clock.now();
  } catch (error) {
    await rollBack(run, messageOf(error));
  }
}

/**
 * The swap's second half, the write window: promote here and move the VIPs at once. The
 * primary VIP is normally here already (taken once the old primary's postmaster was gone).
 */
async function swap(run: Run, windowStart: number): Promise<void> {
  const { config, node, deps, result } = run;
  const vips = (async () => {
    if (config.vip.standby) await deps.vips.down(config, 'standby');
    if (!config.vip.primary) return;
    // Taken already once the old primary stopped; else (or when that failed) now.
    if ((await run.earlyVip) === true) return;
    await deps.vips.up(config, 'primary', { knownReleased: true });
    result.moments.vipTaken = deps.clock.now();
  })();
  const signal = { sent: false };
  const promotion = run.timed(
    `promote ${node.name}`,
    async () => {
      const timeline = await deps.servers.promoteHere(node, () => {
        signal.sent = true;
        result.moments.promoteAsked = deps.clock.now();
      });
      result.moments.promoted = deps.clock.now();
      return timeline;
    },
    (tli) => `timeline ${tli}`,
  );
  const [vipOutcome, promoteOutcome] = await Promise.allSettled([
    run.timed('move the VIPs here (drop the standby VIP, take the primary VIP)', () => vips),
    promotion,
  ]);
  if (promoteOutcome.status === 'rejected')
    await promotionFailed(run, signal.sent, messageOf(promoteOutcome.reason));
  result.writesRefusedMs = deps.clock.now() - windowStart;
  result.timeline =
    promoteOutcome.status === 'fulfilled'
      ? promoteOutcome.value
      : (await deps.servers.localStatus(node)).timeline;
  if (vipOutcome.status === 'rejected') {
    // The supervisors stand aside until the flag times out: the operator moves the VIP.
    throw new SkypgError(
      'PARTIAL',
      `${node.name} is the primary (timeline ${result.timeline}) but moving the VIPs failed: ${messageOf(vipOutcome.reason)}`,
      {
        hint: `clients may not reach it yet: fix the cause and run 'skypg vip up primary' on ${node.name}; the switchover flag times out in ${formatDuration(run.options.timeoutMs)}`,
        details: renderSteps(result.steps),
      },
    );
  }
}

/**
 * pg_promote() failed. Returns when this node is the primary all the same; rolls back when it
 * was never asked to promote; otherwise it may still promote, so the old primary must not.
 */
async function promotionFailed(run: Run, signalSent: boolean, why: string): Promise<void> {
  const { config, node, source, deps } = run;
  const role = await deps.servers.localStatus(node).then(
    (status) => status.role,
    () => undefined,
  );
  if (role === 'primary') return;
  if (!signalSent) {
    if (config.vip.primary) await deps.vips.down(config, 'primary').catch(() => undefined);
    await rollBack(run, why);
  }
  throw new SkypgError(
    'PARTIAL',
    `${node.name} was asked to promote but did not confirm it (${why}); ${source.name} is a standby with every write`,
    {
      hint: `watch 'skypg status': once ${node.name} answers as the primary, run 'skypg vip up primary' on it if it does not hold the VIP; if it never does, 'skypg promote' on ${source.name}`,
      details: renderSteps(run.result.steps),
    },
  );
}

/** Rollback before this node was promoted: the old primary, now a standby, is promoted again. */
async function rollBack(run: Run, why: string): Promise<never> {
  const { config, node, source, deps, timed } = run;
  const details = (): string[] => renderSteps(run.result.steps);
  let timeline: number;
  try {
    // A VIP take still under way must land before it is looked for (it never rejects).
    await run.earlyVip;
    if (config.vip.primary && (await deps.vips.heldHere(config, 'primary')))
      await timed('drop the primary VIP here', () => deps.vips.down(config, 'primary'));
    timeline = await timed(
      `roll back: promote ${source.name} again`,
      () => deps.servers.promoteSource(source),
      (tli) => `primary again on timeline ${tli}`,
    );
    await timed(`clear the switchover flag on ${source.name}`, () =>
      deps.flags.clear(config, source),
    );
  } catch (error) {
    // A promotion that did not finish says so itself: it may still be promoting.
    if (error instanceof SkypgError && error.code === 'PARTIAL') throw error;
    // The flag stays on a standby nobody can write: the supervisors stand aside until it expires.
    throw new SkypgError(
      'PARTIAL',
      `switchover to ${node.name} failed before its promotion (${why}), and the rollback failed too (${messageOf(error)}): nobody is the primary; ${source.name} runs as a standby with every acknowledged write`,
      {
        hint: `promote ${source.name} by hand ('skypg promote' there); the supervisors stand aside until the switchover times out`,
        details: details(),
      },
    );
  }
  throw new SkypgError(
    'PARTIAL',
    `switchover to ${node.name} failed before its promotion (${why}); rolled back: ${source.name} is the primary again (timeline ${timeline}), its supervisor takes the primary VIP back within a loop, ${node.name} stays its standby`,
    {
      hint: `no acknowledged write is lost; find out why ${node.name} fell behind ('skypg check-lag' on it) before trying again`,
      details: details(),
    },
  );
}

/** Done: clear the flag here (it reaches the old primary by replication), wait for it to follow. */
async function finish(run: Run, deadline: number): Promise<void> {
  const { config, node, source, deps, result } = run;
  await run.timed(`clear the switchover flag on ${node.name}`, () =>
    deps.flags.clear(config, node),
  );
  const streaming = await run.timed(
    `${source.name} streams from ${node.name}`,
    () => waitForFollower(run, Math.max(deadline, deps.clock.now() + 30_000)),
    (ok) => (ok ? 'streaming' : 'not yet: its supervisor rejoins it (rewind only if it diverged)'),
  );
  if (!streaming)
    result.warnings.push(
      `${source.name} does not stream yet: its supervisor rejoins it; watch 'skypg status'`,
    );
  result.final = { primary: node.name, standby: source.name, standbyStreaming: streaming };
}

/** Bytes between the primary's WAL position and this standby's replay, waited down to the bound. */
async function waitForLag(
  run: Run,
  deadline: number,
): Promise<{ caughtUp: boolean; bytes: number }> {
  const { node, source, deps } = run;
  const clock = deps.clock;
  let lastReport = clock.now();
  let bytes = 0;
  const caughtUp = await pollUntil(
    async () => {
      const primaryLsn = (await deps.servers.sourceStatus(source)).currentLsn ?? '0/0';
      const replay = (await deps.servers.localStatus(node)).replayLsn ?? '0/0';
      bytes = lsnDistance(primaryLsn, replay);
      if (bytes <= switchoverMaxLag) return true;
      if (run.options.force) return false;
      if (clock.now() - lastReport >= 1000) {
        run.say(
          `waiting for ${node.name} to catch up: ${formatSize(bytes)} behind (bound ${formatSize(switchoverMaxLag)}, ${formatDuration(Math.max(0, deadline - clock.now()))} left)`,
        );
        lastReport = clock.now();
      }
      return undefined;
    },
    { deadline, everyMs: Math.min(200, run.config.heartbeat.interval), clock },
  );
  return { caughtUp: caughtUp === true, bytes };
}

async function waitForReplay(run: Run, lsn: string, deadline: number): Promise<string> {
  const { node, deps } = run;
  const wanted = parseLsn(lsn);
  let replayed = '0/0';
  const done = await pollUntil(
    async () => {
      replayed = (await deps.servers.localStatus(node)).replayLsn ?? '0/0';
      return parseLsn(replayed) >= wanted ? replayed : undefined;
    },
    { deadline, everyMs: pollMs, clock: deps.clock },
  );
  if (done === undefined)
    throw new Error(`${node.name} did not replay ${lsn} in time (replayed ${replayed})`);
  return done;
}

/**
 * Waits until this node's supervisor reports the switchover state in a loop that began after
 * the flag was replayed here. Without a live supervisor there is nothing to wait for (a warning).
 */
async function waitForLocalSupervisor(run: Run, deadline: number): Promise<string> {
  const { config, node, deps } = run;
  const since = deps.clock.now();
  let says = 'nothing yet';
  const outcome = await pollUntil(
    async () => {
      const supervisor = await deps.supervisor(config, node);
      if (!supervisor.alive || supervisor.state === undefined)
        return `no supervisor runs on ${node.name} (state file ${supervisor.path})`;
      says = supervisor.state.state;
      return supervisor.state.state === 'switchover' &&
        Date.parse(supervisor.state.updatedAt) > since
        ? 'standing aside'
        : undefined;
    },
    { deadline, everyMs: pollMs * 5, clock: deps.clock },
  );
  if (outcome === undefined)
    throw new Error(`${node.name}'s supervisor did not stand aside (it says: ${says})`);
  return outcome;
}

/** This standby has replayed the checkpoint record (its replay position is past its start). */
async function waitPastCheckpoint(
  run: Run,
  checkpoint: Checkpoint,
  deadline: number,
): Promise<string> {
  const { node, deps } = run;
  const at = parseLsn(checkpoint.lsn);
  let last = 'nothing';
  const past = await pollUntil(
    async () => {
      const status = await deps.servers.localStatus(node);
      // The same history: this standby streamed from that primary until it stopped (checked).
      last = status.replayLsn ?? '?';
      return status.replayLsn !== undefined && parseLsn(status.replayLsn) > at
        ? status.replayLsn
        : undefined;
    },
    { deadline, everyMs: pollMs / 2, clock: deps.clock },
  );
  if (past !== undefined) return past;
  throw new Error(
    `${node.name} did not replay past the shutdown checkpoint ${checkpoint.lsn} in time (replayed ${last})`,
  );
}

/** The old primary streams from this new primary (pg_stat_replication here). */
async function waitForFollower(run: Run, deadline: number): Promise<boolean> {
  const { node, source, deps } = run;
  const streaming = await pollUntil(
    async () => {
      const rows = await deps.servers.followers(node);
      return rows.some((row) => row.applicationName === source.name && row.state === 'streaming')
        ? true
        : undefined;
    },
    { deadline, everyMs: 100, clock: deps.clock },
  );
  return streaming === true;
}
