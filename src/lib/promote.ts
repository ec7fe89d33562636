// promote: turn this standby into the primary, only once the old primary is proven unable to
// write, and move the VIPs. The supervisor's promotion runs this same code.
import type { ClusterConfig, NodeConfig } from './config/types.js';
import { peerOf } from './config/local-node.js';
import { formatSize } from './config/units.js';
import { SkypgError, messageOf } from './errors.js';
import { fenceNode, type FenceResult } from './fence/fence.js';
import { heartbeatTarget, readHeartbeat } from './heartbeat.js';
import {
  localTarget,
  remoteTarget,
  withConnection,
  withTimeouts,
  type ServerProof,
} from './pg/connect.js';
import { promotionBlockers } from './pg/data-dir.js';
import { lsnDistance } from './pg/lsn.js';
import { serverLogFile } from './pg/server-control.js';
import { checkSamePair, readServerStatus, type ServerRole } from './pg/server-status.js';
import { ensureSlot, standbySlot } from './pg/slots.js';
import { effectiveOsUser } from './process/run-program.js';
import { recordSteps, type StepRecord, type TimedStep } from './steps.js';
import { vipDown, vipUp } from './vip.js';

export interface PromoteOptions {
  dryRun: boolean;
  /** Promote even when the lag is above failover.max_lag. */
  ignoreLag: boolean;
  /** Promote even when the old primary cannot be proven unable to write. */
  force: boolean;
  onStep?: (step: string) => void;
}

export interface Precondition {
  check: string;
  ok: boolean;
  detail: string;
}

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

export async function promote(
  config: ClusterConfig,
  node: NodeConfig,
  options: PromoteOptions,
): Promise<PromoteResult> {
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
  const plan = (step: string): void => {
    result.steps.push({ step, ms: 0, detail: 'planned (--dry-run)' });
  };

  // 1. This node must be a running standby (a primary only gets its VIPs ensured).
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
    if (!options.dryRun) await moveVips(config, timed);
    else plan('ensure the VIPs');
    result.timeline = local.timeline;
    return result;
  }
  result.preconditions.push({
    check: `${node.name} is a standby`,
    ok: true,
    detail: `in recovery on timeline ${local.timeline}`,
  });

  // The data directory check (step 3) runs beside the others: a failover should not wait on it.
  const blockersPending = promotionBlockers(node).catch((error: unknown) => ({
    problems: [`cannot check ${node.data_dir}: ${messageOf(error)}`],
    fix: undefined,
  }));

  // 2. Lag within failover.max_lag: WAL received but not replayed, and the last lag the primary saw.
  const lag = await readLag(config, node, local.receiveLsn, local.replayLsn);
  const lagOk = lag.bytes <= config.failover.max_lag;
  result.preconditions.push({
    check: `lag within failover.max_lag (${formatSize(config.failover.max_lag)})`,
    ok: lagOk || options.ignoreLag,
    detail: `${lag.detail}${!lagOk && options.ignoreLag ? ' (ignored: --ignore-lag)' : ''}`,
  });
  if (!lagOk && options.ignoreLag)
    result.warnings.push(
      `promoting ${node.name} ${formatSize(lag.bytes)} behind: writes the old primary acknowledged may be lost`,
    );

  // 3. PostgreSQL here can write what a promotion writes: the promote signal, new WAL.
  // 4. The old primary must be unable to write.
  const [blockers, fencedCheck] = await Promise.all([
    blockersPending,
    checkOldPrimary(config, peer, local.systemIdentifier, options),
  ]);
  const dataDirCheck: Precondition = {
    check: `${node.name}'s data directory can take the promotion`,
    ok: blockers.problems.length === 0,
    detail:
      blockers.problems.length === 0
        ? `writable by ${effectiveOsUser(node.postgres.os_user)}, room for new WAL`
        : blockers.problems.join('; '),
  };
  result.preconditions.push(dataDirCheck);

  if (fencedCheck.statusStep) result.steps.push(fencedCheck.statusStep);
  result.preconditions.push(fencedCheck.precondition);
  result.warnings.push(...fencedCheck.warnings);

  const failed = result.preconditions.filter((condition) => !condition.ok);
  if (options.dryRun) {
    if (fencedCheck.fenceNeeded) plan(`fence ${peer.name} (power off, verified)`);
    plan(`pg_promote() on ${node.name}`);
    if (config.vip.standby) plan('drop the standby VIP here');
    if (config.vip.primary)
      plan('take the primary VIP here (after checking nobody answers for it)');
    return result;
  }
  const fenceError = fencedCheck.fenceError;
  if (fenceError !== undefined && failed.length === 1) {
    // No fence level answered: the supervisor reports this loudly (state fence-failed).
    throw new SkypgError('FENCE_FAILED', `not promoting ${node.name}: ${fenceError.message}`, {
      hint: `nothing was changed; no fence level of ${peer.name} answers, so ${peer.name} may still run: ${fenceHint(fenceError) ?? "repair a level ('skypg doctor')"}, or --force once you know it is off`,
    });
  }
  if (failed.length > 0) {
    const fixes: string[] = [];
    if (failed.some((condition) => condition.check.startsWith('lag')))
      fixes.push(
        'wait for the standby to catch up, or --ignore-lag to accept losing the difference',
      );
    if (!dataDirCheck.ok && blockers.fix !== undefined) fixes.push(blockers.fix);
    if (!fencedCheck.precondition.ok)
      fixes.push(
        fencedCheck.hint ??
          'make sure the old primary is down (fence it), or --force if you are certain',
      );
    throw new SkypgError(
      'REFUSED',
      `not promoting ${node.name}: ${failed.map((condition) => `${condition.check}: ${condition.detail}`).join('; ')}`,
      { hint: `nothing was changed; ${fixes.join('; ')}` },
    );
  }
  if (fencedCheck.fenceNeeded) {
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
  }
  const timeline = await timed(
    `pg_promote() on ${node.name}`,
    async () => {
      const rows = await withConnection(
        { ...localTarget(node), statementTimeoutMs: 65_000 },
        (session) =>
          session.query<{ promoted: boolean }>('select pg_promote(true, 60) as promoted'),
      );
      if (rows[0]?.promoted !== true) {
        throw new SkypgError('PARTIAL', `pg_promote() on ${node.name} did not finish within 60s`, {
          hint: "check the server's log; it may still be promoting",
        });
      }
      return (await withConnection(localTarget(node), readServerStatus)).timeline;
    },
    (value) => `now primary on timeline ${value}`,
  ).catch((error: unknown) =>
    promoteFailed(node, error, fencedCheck.fenceNeeded ? peer.name : undefined),
  );
  result.timeline = timeline;
  try {
    await moveVips(config, timed, fencedCheck.fenceNeeded || fencedCheck.poweredOff);
  } catch (error) {
    throw new SkypgError(
      'PARTIAL',
      `${node.name} is promoted (timeline ${timeline}) but moving the VIPs failed: ${messageOf(error)}`,
      {
        hint: `clients may not reach the new primary yet; fix the cause and run 'skypg vip up primary' on ${node.name}`,
      },
    );
  }
  // After the VIPs (clients first): the slot the old primary will stream through once it rejoins.
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
  return result;
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

/** The fix a fence failure names, if it names one (e.g. a missing password file). */
function fenceHint(error: Error): string | undefined {
  return error instanceof SkypgError ? error.hint : undefined;
}

/**
 * Once the old primary is verified powered off, the other host that could answer for the
 * primary VIP cannot: duplicate address detection only guards against a stray holder, whose
 * kernel answers ARP within milliseconds, so it listens briefly.
 */
const dadAfterFenceMs = 200;

async function moveVips(
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
      () =>
        vipUp(
          config,
          'primary',
          oldPrimaryOff ? { dadTimeoutMs: Math.min(dadAfterFenceMs, config.vip.dad_timeout) } : {},
        ),
      (change) => (change.changed ? 'taken and announced' : 'already held; re-announced'),
    );
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
    const heartbeat = await withConnection(heartbeatTarget(config, node), (session) =>
      readHeartbeat(session, node),
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

interface OldPrimaryCheck {
  precondition: Precondition;
  fenceNeeded: boolean;
  /** The fence device reported the old primary powered off. */
  poweredOff: boolean;
  /** The fence status query, when its answer was used (it runs beside the peer's check). */
  statusStep?: StepRecord;
  /** No fence level answered the status query. */
  fenceError?: Error;
  /** The fix, when the check failed for a reason with its own (a refused login). */
  hint?: string;
  warnings: string[];
}

/** What a "standby" answer rests on, for the report (docs/security.md, "Network trust"). */
function standbyAnswer(
  peer: NodeConfig,
  proof: ServerProof,
): { detail: string; warnings: string[] } {
  const relayProof = proof.tls === 'verified-full' || proof.channelBinding;
  const how = `SCRAM, this pair's system identifier${relayProof ? `, TLS ${proof.channelBinding ? 'with channel binding' : 'verify-full'}` : ''}`;
  return {
    detail: `${peer.name} answers as a standby (${how})`,
    warnings: relayProof
      ? []
      : [
          `${peer.name}'s "standby" answer came without verified TLS: an on-path relay could have rewritten it; set postgres.sslmode: verify-full`,
        ],
  };
}

async function checkOldPrimary(
  config: ClusterConfig,
  peer: NodeConfig,
  systemIdentifier: string | undefined,
  options: PromoteOptions,
): Promise<OldPrimaryCheck> {
  const check = `the old primary ${peer.name} cannot write`;
  if (options.force) {
    return {
      precondition: { check, ok: true, detail: 'NOT VERIFIED: --force' },
      fenceNeeded: false,
      poweredOff: false,
      warnings: [
        `--force: promoting without proof that ${peer.name} is down; if it is still running there will be two primaries`,
      ],
    };
  }
  // A peer that answers as a standby cannot write: there is no old primary to stop (both
  // servers came back as standbys, or a switchover). Fencing it would only lose the standby.
  // A dead peer costs the whole connect timeout, so the fence device is asked at the same time:
  // a verified power OFF is proof enough without waiting for the peer's answer.
  // An answer counts only from this pair's server (same system identifier), authenticated by
  // SCRAM (connect.ts refuses anything else over TCP).
  let peerError: unknown;
  let proof: ServerProof = { scram: false, channelBinding: false, tls: 'none' };
  const peerRole = withConnection(
    withTimeouts(remoteTarget(peer), Math.max(1000, config.heartbeat.timeout)),
    async (session) => ({ status: await readServerStatus(session), proof: session.proof }),
  ).then(
    (answer) => {
      peerError = checkSamePair(answer.status, systemIdentifier, peer.address);
      proof = answer.proof;
      return peerError === undefined ? answer.status.role : undefined;
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
    type FirstProof = { off: true } | { off: false; role: ServerRole | undefined };
    const roleProof = (): Promise<FirstProof> =>
      peerRole.then((role) => ({ off: false as const, role }));
    const first: FirstProof = await Promise.race([
      roleProof(),
      status.then((value) => (isOff(value) ? { off: true as const } : roleProof())),
    ]);
    // A standby peer needs no fence device (which may not even answer): not waited for.
    if (!first.off && first.role === 'standby') {
      const answer = standbyAnswer(peer, proof);
      return {
        precondition: { check, ok: true, detail: answer.detail },
        fenceNeeded: false,
        poweredOff: false,
        warnings: answer.warnings,
      };
    }
    const power = await status;
    // Its own duration; the peer's check, run beside it, may have taken longer.
    const statusStep = { step: `query ${peer.name}'s fence device`, ms: queryMs };
    if (isOff(power)) {
      return {
        precondition: { check, ok: true, detail: `${peer.name} is powered off (fence status OFF)` },
        fenceNeeded: false,
        poweredOff: true,
        statusStep,
        warnings: [],
      };
    }
    if (power instanceof Error) {
      return {
        precondition: { check, ok: false, detail: `no fence level answers: ${power.message}` },
        fenceNeeded: false,
        poweredOff: false,
        statusStep,
        fenceError: power,
        warnings: [],
      };
    }
    return {
      precondition: {
        check,
        ok: true,
        detail: `${peer.name} is powered on: it will be fenced first`,
      },
      fenceNeeded: true,
      poweredOff: false,
      statusStep,
      warnings: [],
    };
  }
  const role = await peerRole;
  if (role === 'standby') {
    const answer = standbyAnswer(peer, proof);
    return {
      precondition: { check, ok: true, detail: answer.detail },
      fenceNeeded: false,
      poweredOff: false,
      // With fencing: none the answer replaces no fence.
      warnings: config.failover.fencing === 'required' ? answer.warnings : [],
    };
  }
  if (config.failover.fencing === 'required') {
    return {
      precondition: {
        check,
        ok: false,
        detail: `fencing is required but ${peer.name} has no fence device`,
      },
      fenceNeeded: false,
      poweredOff: false,
      warnings: [],
    };
  }
  // fencing: none — the peer must not answer as a primary.
  if (role === 'primary') {
    return {
      precondition: {
        check,
        ok: false,
        detail: `${peer.name} still answers as a primary: promoting now would make two primaries`,
      },
      fenceNeeded: false,
      poweredOff: false,
      warnings: [],
    };
  }
  // Only silence proves anything without fencing: a server that answers but refuses the login
  // or the query (pg_hba, password, permissions) may well be a running primary.
  const silent =
    peerError instanceof SkypgError && ['PG_REFUSED', 'PG_TIMEOUT'].includes(peerError.code);
  if (!silent) {
    const loginHint =
      peerError instanceof SkypgError && peerError.code === 'PG_AUTH' ? peerError.hint : undefined;
    return {
      precondition: {
        check,
        ok: false,
        detail: `${peer.name} answered but its role could not be read (${messageOf(peerError)}), so it may still be a primary`,
      },
      fenceNeeded: false,
      poweredOff: false,
      warnings: [],
      ...(loginHint === undefined
        ? {}
        : { hint: `${loginHint}; or make sure ${peer.name} is down, then --force` }),
    };
  }
  return {
    precondition: {
      check,
      ok: true,
      detail: `${peer.name} does not answer (fencing: none)`,
    },
    fenceNeeded: false,
    poweredOff: false,
    warnings: [],
  };
}
