// promote: turn this standby into the primary, only once the old primary is proven unable to
// write, and move the VIPs. The supervisor's promotion runs this same code.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { peerOf } from '../config/local-node.js';
import { formatSize } from '../config/units.js';
import { SkypgError, messageOf } from '../common/errors.js';
import { fenceNode, type FenceResult } from '../fence/fence.js';
import { readHeartbeat } from '../heartbeat/table.js';
import { heartbeatDbTarget } from '../heartbeat/targets.js';
import { localTarget, remoteTarget, withConnection, withTimeouts } from '../pg/connect.js';
import { promotionBlockers } from '../pg/data-dir.js';
import { promoteServer } from '../pg/promote-server.js';
import { lsnDistance } from '../pg/lsn.js';
import { serverLogFile } from '../pg/server-control.js';
import { checkSamePair, readServerStatus } from '../pg/server-status.js';
import { ensureSlot, standbySlot } from '../pg/slots.js';
import { effectiveOsUser } from '../process/run-program.js';
import {
  judgePromotion,
  type OldPrimaryEvidence,
  type Precondition,
} from '../failover/promotion.js';
import { recordSteps, type StepRecord, type TimedStep } from './steps.js';
import { vipDown, vipUp } from '../net/vip.js';

export interface PromoteOptions {
  dryRun: boolean;
  /** Promote even when the lag is above failover.max_lag. */
  ignoreLag: boolean;
  /** Promote even when the old primary cannot be proven unable to write. */
  force: boolean;
  /** Once the old primary's fence device said it is powered on, how long it may still take to
   * answer as a standby before it is fenced (default: the whole connect timeout). The
   * supervisor sets it after an observation in which the peer answered nothing. */
  poweredOnAnswerMs?: number;
  onStep?: (step: string) => void;
}

export type { Precondition } from '../failover/promotion.js';

export interface PromoteResult {
  node: string;
  dryRun: boolean;
  alreadyPrimary: boolean;
  preconditions: Precondition[];
  /** What was done (or, with --dry-run, would be), in order, with durations. */
  steps: StepRecord[];
  timeline?: number;
  warnings: string[];
}

/**
 * What the first phase of a promotion established: whether this node is already the primary,
 * the report so far (preconditions, warnings, the fence step), and whether the old primary is
 * now verified off, so that nobody else can answer for the primary VIP.
 */
export interface PromotionClearance {
  result: PromoteResult;
  /** Every later phase appends its timed steps to result.steps through this. */
  timed: TimedStep;
  /** The old primary was fenced by this promotion or found powered off. */
  oldPrimaryOff: boolean;
  /** It was fenced by this promotion (so a failed pg_promote() says it stays off). */
  fenced: boolean;
}

/**
 * A promotion, in its phases: clear the old primary (fence it when the evidence does not already
 * prove it cannot write), pg_promote() here with the standby's slot, then move the VIPs. The
 * supervisor runs the same phases as separate actions of one set (fence-peer, promote, drop-vip,
 * take-vip), so its rule table shows the order; `skypg promote` runs them here in that order.
 */
export async function promote(
  config: ClusterConfig,
  node: NodeConfig,
  options: PromoteOptions,
): Promise<PromoteResult> {
  const clearance = await clearOldPrimary(config, node, options);
  const { result } = clearance;
  if (result.alreadyPrimary) {
    if (!options.dryRun) await moveVips(config, clearance.timed);
    return result;
  }
  if (options.dryRun) return result;
  await promoteHere(config, node, clearance);
  try {
    await moveVips(config, clearance.timed, clearance.oldPrimaryOff);
  } catch (error) {
    throw new SkypgError(
      'PARTIAL',
      `${node.name} is promoted (timeline ${String(result.timeline)}) but moving the VIPs failed: ${messageOf(error)}`,
      {
        hint: `clients may not reach the new primary yet; fix the cause and run 'skypg vip up primary' on ${node.name}`,
      },
    );
  }
  return result;
}

/**
 * The promotion's first phase (the supervisor's fence-peer action): this node must be a running
 * standby, the lag and data directory must allow it, and the old primary must be proven unable
 * to write, fenced here when nothing else proves it. Refuses (nothing changed) otherwise. With
 * --dry-run it only plans the later phases into the report.
 */
export async function clearOldPrimary(
  config: ClusterConfig,
  node: NodeConfig,
  options: PromoteOptions,
): Promise<PromotionClearance> {
  const peer = peerOf(config, node.name);
  const { steps, timed } = recordSteps(options.onStep);
  const result: PromoteResult = {
    node: node.name,
    dryRun: options.dryRun,
    alreadyPrimary: false,
    preconditions: [],
    steps,
    warnings: [],
  };
  const clearance: PromotionClearance = { result, timed, oldPrimaryOff: false, fenced: false };
  const plan = (step: string): void => {
    result.steps.push({ step, ms: 0, detail: 'planned (--dry-run)' });
  };

  // This node must be a running standby (a primary only gets its VIPs ensured).
  const local = await withConnection(localTarget(node), readServerStatus).catch(
    (error: unknown) => {
      throw new SkypgError(
        'REFUSED',
        `cannot promote ${node.name}: its PostgreSQL does not answer (${messageOf(error)})`,
        {
          hint: 'a standby must be running to be promoted; start it, or rebuild it',
        },
      );
    },
  );
  if (local.role === 'primary') {
    result.alreadyPrimary = true;
    result.preconditions.push({
      check: `${node.name} is a standby`,
      ok: true,
      detail: 'already primary: only the VIPs are ensured',
    });
    if (options.dryRun) plan('ensure the VIPs');
    result.timeline = local.timeline;
    return clearance;
  }
  result.preconditions.push({
    check: `${node.name} is a standby`,
    ok: true,
    detail: `in recovery on timeline ${local.timeline}`,
  });

  // The evidence, gathered side by side (a failover should not wait on one after another):
  // the lag (WAL received but not replayed, and the last lag the primary saw), whether
  // PostgreSQL here can write what a promotion writes, and what proves the old primary cannot.
  const [lag, blockers, oldPrimary] = await Promise.all([
    readLag(config, node, local.receiveLsn, local.replayLsn),
    promotionBlockers(node).catch((error: unknown) => ({
      problems: [`cannot check ${node.data_dir}: ${messageOf(error)}`],
      fix: undefined,
    })),
    findOldPrimary(config, peer, local.systemIdentifier, options),
  ]);
  const judgement = judgePromotion(
    {
      node: node.name,
      peer: peer.name,
      fencing: config.failover.fencing,
      maxLag: config.failover.max_lag,
      lag,
      local: { timeline: local.timeline, lsn: local.replayLsn },
      dataDir: {
        ...blockers,
        okDetail: `writable by ${effectiveOsUser(node.postgres.os_user)}, room for new WAL`,
      },
      oldPrimary: oldPrimary.evidence,
    },
    { ignoreLag: options.ignoreLag },
  );
  if (oldPrimary.statusStep) result.steps.push(oldPrimary.statusStep);
  result.preconditions.push(...judgement.preconditions);
  result.warnings.push(...judgement.warnings);

  if (options.dryRun) {
    if (judgement.fenceFirst) plan(`fence ${peer.name} (power off, verified)`);
    plan(`pg_promote() on ${node.name}`);
    if (config.vip.standby) plan('drop the standby VIP here');
    if (config.vip.primary)
      plan('take the primary VIP here (after checking nobody answers for it)');
    return clearance;
  }
  if (judgement.refusal !== undefined) {
    const { code, message, hint } = judgement.refusal;
    throw new SkypgError(code, message, { hint });
  }
  if (judgement.fenceFirst) {
    try {
      await timed(
        `fence ${peer.name} (power off, verified)`,
        () => fenceNode(peer, 'off'),
        (fence) => (fence.changed ? 'powered off' : 'was already off'),
      );
    } catch (error) {
      throw new SkypgError('FENCE_FAILED', `not promoting ${node.name}: ${messageOf(error)}`, {
        hint: `nothing was changed; fix a fence level of ${peer.name} ('skypg fence ${peer.name} --action status'), or --force if you know it is off`,
      });
    }
    clearance.fenced = true;
  }
  clearance.oldPrimaryOff = judgement.fenceFirst || judgement.oldPrimaryOff;
  return clearance;
}

/**
 * The promotion's second phase (the supervisor's promote action), only after clearOldPrimary:
 * pg_promote() here, then the replication slot the old primary will stream through once it
 * rejoins (a quick local statement; its failure is only a warning).
 */
export async function promoteHere(
  config: ClusterConfig,
  node: NodeConfig,
  clearance: PromotionClearance,
): Promise<number> {
  const { result, timed } = clearance;
  if (result.alreadyPrimary && result.timeline !== undefined) return result.timeline;
  const peer = peerOf(config, node.name);
  const timeline = await timed(
    `pg_promote() on ${node.name}`,
    () => promoteServer(localTarget(node), node.name, { wait: 'server' }),
    (value) => `now primary on timeline ${value}`,
  ).catch((error: unknown) => promoteFailed(node, error, clearance.fenced ? peer.name : undefined));
  result.timeline = timeline;
  const slot = standbySlot(config, peer);
  if (slot !== undefined) {
    await timed(
      `replication slot ${slot} for ${peer.name}`,
      () => withConnection(localTarget(node), (session) => ensureSlot(session, slot)),
      (made) => (made ? 'made (WAL reserved from now)' : 'already there'),
    ).catch((error: unknown) => {
      result.warnings.push(
        `${node.name} is promoted but the replication slot ${slot} for ${peer.name} could not be made: ${messageOf(error)}; run 'select pg_create_physical_replication_slot('${slot}', true)' on ${node.name} before ${peer.name} rejoins`,
      );
    });
  }
  return timeline;
}

/**
 * pg_promote() failed (PostgreSQL could not write the promote signal, or its startup process
 * died writing the new timeline): one line saying what state the node is in now.
 */
async function promoteFailed(
  node: NodeConfig,
  error: unknown,
  fencedPeer: string | undefined,
): Promise<never> {
  if (error instanceof SkypgError && error.code === 'PARTIAL') throw error;
  const now = await withConnection(localTarget(node), readServerStatus).then(
    (status) =>
      status.role === 'primary'
        ? `${node.name} answers as a primary on timeline ${status.timeline}, but the VIPs were not moved`
        : `${node.name} is still a standby`,
    () => `${node.name}'s PostgreSQL no longer answers`,
  );
  const fenced = fencedPeer === undefined ? '' : `; ${fencedPeer} was fenced and stays off`;
  throw new SkypgError(
    'PARTIAL',
    `pg_promote() on ${node.name} failed: ${messageOf(error)}; ${now}${fenced}`,
    {
      hint: `read ${serverLogFile(node)} (a full pg_wal or a read-only data directory?), fix it, then run 'skypg promote' again`,
      cause: error,
    },
  );
}

/**
 * Once the old primary is verified powered off, the other host that could answer for the
 * primary VIP cannot: duplicate address detection only guards against a stray holder, whose
 * kernel answers ARP within milliseconds (in softirq, ahead of any busy process), so it listens
 * briefly; the netns test checks that a live holder is still heard within it.
 */
export const dadAfterFenceMs = 100;

export async function moveVips(
  config: ClusterConfig,
  timed: TimedStep,
  oldPrimaryOff = false,
): Promise<void> {
  if (config.vip.standby)
    await timed(
      'drop the standby VIP here',
      () => vipDown(config, 'standby'),
      (change) => (change.changed ? 'dropped' : 'not held'),
    );
  if (config.vip.primary)
    await timed(
      'take the primary VIP here',
      () => vipUp(config, 'primary', primaryVipTakeOptions(config, oldPrimaryOff)),
      (change) => (change.changed ? 'taken and announced' : 'already held; re-announced'),
    );
}

/** How the new primary takes the primary VIP: briefly checked for a holder once the old one is off. */
export function primaryVipTakeOptions(
  config: ClusterConfig,
  oldPrimaryOff: boolean,
): { dadTimeoutMs?: number } {
  return oldPrimaryOff ? { dadTimeoutMs: Math.min(dadAfterFenceMs, config.vip.dad_timeout) } : {};
}

async function readLag(
  config: ClusterConfig,
  node: NodeConfig,
  receiveLsn: string | undefined,
  replayLsn: string | undefined,
): Promise<{ bytes: number; detail: string }> {
  const backlog =
    receiveLsn !== undefined && replayLsn !== undefined ? lsnDistance(receiveLsn, replayLsn) : 0;
  let repLag: number | undefined;
  try {
    // As the heartbeat role: a superuser must not read an object that role could replace.
    const heartbeat = await withConnection(
      heartbeatDbTarget(config, node, 'heartbeat', 'socket'),
      (session) => readHeartbeat(session, node),
    );
    repLag = heartbeat.row.repLag;
  } catch {
    // Without a heartbeat only the local backlog is known.
  }
  const bytes = Math.max(backlog, repLag ?? 0);
  const primaryView =
    repLag === undefined
      ? 'no heartbeat lag known'
      : `the primary last saw ${formatSize(repLag)} not yet flushed here`;
  return { bytes, detail: `${formatSize(backlog)} received but not replayed; ${primaryView}` };
}

/** What was found about the old primary, and the fence status query when its answer was used. */
interface OldPrimaryFindings {
  evidence: OldPrimaryEvidence;
  /** The fence status query (it runs beside the peer's check), when its answer was used. */
  statusStep?: StepRecord;
}

/**
 * Gathers what proves the old primary cannot write; judging it is judgePromotion's. A dead
 * peer costs the whole connect timeout, so the fence device is asked at the same time: a
 * verified power OFF is proof enough without waiting for the peer's answer. An answer counts
 * only from this pair's server (same system identifier), authenticated by SCRAM (connect.ts
 * refuses anything else over TCP).
 */
async function findOldPrimary(
  config: ClusterConfig,
  peer: NodeConfig,
  systemIdentifier: string | undefined,
  options: PromoteOptions,
): Promise<OldPrimaryFindings> {
  if (options.force) return { evidence: { kind: 'forced' } };
  let peerError: unknown;
  const peerAnswer = withConnection(
    withTimeouts(remoteTarget(peer), Math.max(1000, config.heartbeat.timeout)),
    async (session) => ({ status: await readServerStatus(session), proof: session.proof }),
  ).then(
    (answer): OldPrimaryEvidence | undefined => {
      peerError = checkSamePair(answer.status, systemIdentifier, peer.address);
      if (peerError !== undefined) return undefined;
      const { status } = answer;
      return status.role === 'standby'
        ? {
            kind: 'standby',
            proof: answer.proof,
            position: { timeline: status.timeline, lsn: status.replayLsn },
          }
        : { kind: 'primary' };
    },
    (error: unknown) => {
      peerError = error;
      return undefined;
    },
  );
  if (config.failover.fencing === 'required' && peer.fence.length > 0) {
    const queryStarted = performance.now();
    let queryMs = 0;
    const status: Promise<FenceResult | Error> = fenceNode(peer, 'status')
      .catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))))
      .finally(() => {
        queryMs = Math.round(performance.now() - queryStarted);
      });
    const isOff = (value: FenceResult | Error): boolean =>
      !(value instanceof Error) && value.power === 'off';
    type FirstProof = { off: true } | { off: false; answer: OldPrimaryEvidence | undefined };
    const answerProof = (): Promise<FirstProof> =>
      peerAnswer.then((answer) => ({ off: false as const, answer }));
    // Powered on and just found answering nothing: a standby would answer within a moment, and
    // anything else is fenced anyway, so the rest of its connect timeout is not waited for (the
    // probe goes on and closes itself; its late answer is ignored).
    const { poweredOnAnswerMs } = options;
    const answerWithin = (value: FenceResult | Error): Promise<FirstProof> =>
      poweredOnAnswerMs === undefined || value instanceof Error
        ? answerProof()
        : Promise.race([
            answerProof(),
            sleep(poweredOnAnswerMs).then(() => ({ off: false as const, answer: undefined })),
          ]);
    const first: FirstProof = await Promise.race([
      answerProof(),
      status.then((value) => (isOff(value) ? { off: true as const } : answerWithin(value))),
    ]);
    // A standby peer needs no fence device (which may not even answer): not waited for.
    // There is no old primary to stop (both came back as standbys, or a switchover), and
    // fencing it would only lose the standby.
    if (!first.off && first.answer?.kind === 'standby') return { evidence: first.answer };
    const power = await status;
    // Its own duration; the peer's check, run beside it, may have taken longer.
    const statusStep = { step: `query ${peer.name}'s fence device`, ms: queryMs };
    if (isOff(power)) return { evidence: { kind: 'powered-off' }, statusStep };
    if (power instanceof Error)
      return { evidence: { kind: 'fence-unanswered', error: power }, statusStep };
    return { evidence: { kind: 'powered-on' }, statusStep };
  }
  const answer = await peerAnswer;
  if (answer?.kind === 'standby') return { evidence: answer };
  if (config.failover.fencing === 'required') return { evidence: { kind: 'no-fence-device' } };
  if (answer !== undefined) return { evidence: answer };
  const silent =
    peerError instanceof SkypgError && ['PG_REFUSED', 'PG_TIMEOUT'].includes(peerError.code);
  if (silent) return { evidence: { kind: 'silent' } };
  const loginHint =
    peerError instanceof SkypgError && peerError.code === 'PG_AUTH' ? peerError.hint : undefined;
  return {
    evidence: {
      kind: 'unreadable',
      message: messageOf(peerError),
      ...(loginHint === undefined ? {} : { loginHint }),
    },
  };
}
