// observe(): everything one supervisor loop needs, read concurrently, each part bounded by
// heartbeat.timeout. A part that fails or times out is reported as "not answering", never
// as an exception: the policy decides what a silence means.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { peerOf } from '../config/local-node.js';
import { beat } from '../heartbeat/beat.js';
import { readSupervisorRow } from '../heartbeat/table.js';
import { heartbeatDbTarget } from '../heartbeat/targets.js';
import { localTarget, withConnection, withTimeouts, type ConnectTarget } from '../pg/connect.js';
import { lsnDistance } from '../pg/lsn.js';
import {
  checkSamePair,
  readReplication,
  readServerStatus,
  readWalReceiver,
  systemIdentifierOnDisk,
  type ServerStatus,
} from '../pg/server-status.js';
import { runningPostmaster } from '../pg/server-control.js';
import { runProgram } from '../process/run-program.js';
import { vipHeldHere, vipStatus } from '../net/vip.js';
import { primaryVipProbeNeeded } from './decide.js';
import type { LocalObservation, Observation, PeerObservation } from './types.js';

export async function observe(
  config: ClusterConfig,
  node: NodeConfig,
  now: () => number,
): Promise<Observation> {
  const peer = peerOf(config, node.name);
  const timeoutMs = config.heartbeat.timeout;
  const [local, peerAnswer, viaVipAnswer, gatewayReachable, standbyVipHeld, primaryVipHeld] =
    await Promise.all([
      observeLocal(config, node, timeoutMs),
      answerOf(heartbeatDbTarget(config, peer, 'heartbeat', 'tcp'), timeoutMs),
      primaryThroughVip(config, timeoutMs),
      gatewayAnswers(config, timeoutMs),
      config.vip.standby
        ? vipHeldHere(config, 'standby').catch(() => false)
        : Promise.resolve(false),
      config.vip.primary
        ? vipHeldHere(config, 'primary').catch(() => false)
        : Promise.resolve(false),
    ]);
  // Answers count only from this pair's other server (docs/security.md, "Network trust").
  const expected =
    local.systemIdentifier ?? (await systemIdentifierOnDisk(node.data_dir).catch(() => undefined));
  const peerServer = peerObservation(peerAnswer, expected, peer.address);
  const viaVip = {
    answered: !(viaVipAnswer instanceof Error),
    primary: isPairStatus(viaVipAnswer, expected) && viaVipAnswer.role === 'primary',
  };
  // Whether another host answers ARP for the primary VIP costs a DAD probe: the policy says
  // when it is worth one (decide.ts); otherwise an answer through the VIP is the evidence.
  const heldElsewhere = primaryVipProbeNeeded(config, local.role, primaryVipHeld)
    ? await vipStatus(config, 'primary').then(
        (status) => status.otherHolders.length > 0,
        () => true,
      )
    : viaVip.answered && !primaryVipHeld;
  return {
    now: now(),
    node: node.name,
    peer: peer.name,
    local,
    peerServer,
    primaryVip: {
      configured: config.vip.primary !== undefined,
      heldHere: primaryVipHeld,
      answeredByOtherPrimary: viaVip.primary && !primaryVipHeld,
      heldElsewhere,
    },
    standbyVip: { configured: config.vip.standby !== undefined, heldHere: standbyVipHeld },
    gateway: { configured: config.gateway.length > 0, reachable: gatewayReachable },
  };
}

async function observeLocal(
  config: ClusterConfig,
  node: NodeConfig,
  timeoutMs: number,
): Promise<LocalObservation> {
  const running = (await runningPostmaster(node)) !== undefined;
  if (!running) {
    const dataIsStandby = await access(join(node.data_dir, 'standby.signal')).then(
      () => true,
      () => false,
    );
    return { running, answering: false, dataIsStandby };
  }
  try {
    const local = await withConnection(
      withTimeouts(localTarget(node), timeoutMs),
      async (session) => {
        const status = await readServerStatus(session);
        const observed: LocalObservation = {
          running,
          answering: true,
          role: status.role,
          timeline: status.timeline,
          ...(status.systemIdentifier === undefined
            ? {}
            : { systemIdentifier: status.systemIdentifier }),
          lsn: status.role === 'primary' ? status.currentLsn : status.replayLsn,
        };
        if (status.role === 'standby') {
          const receiver = await readWalReceiver(session, status.versionNum);
          observed.receiver = receiver?.status;
          if (receiver?.lastMessageAt !== undefined)
            observed.lastReceiptAt = receiver.lastMessageAt.getTime();
          if (status.receiveLsn !== undefined && status.replayLsn !== undefined) {
            observed.replayBacklog = lsnDistance(status.receiveLsn, status.replayLsn);
          }
        } else {
          const peerName = peerOf(config, node.name).name;
          const rows = await readReplication(session);
          const peerRow =
            rows.find((candidate) => candidate.applicationName === peerName) ??
            (rows.length === 1 ? rows[0] : undefined);
          if (peerRow)
            observed.peerReplication = { state: peerRow.state, syncState: peerRow.syncState };
          const [names] = await session.query<{ names: string }>(
            "select current_setting('synchronous_standby_names') as names",
          );
          observed.syncStandbyNames = names?.names ?? '';
        }
        return observed;
      },
    );
    await readHeartbeatRow(config, node, timeoutMs, local);
    if (local.role === 'primary') {
      // The beat is the primary's liveness test: a new connection that commits a write.
      local.beatCommitted = await beat(config, node).then(
        (result) => result.written,
        () => false,
      );
    }
    return local;
  } catch {
    return { running, answering: false };
  }
}

/**
 * The heartbeat row as replicated here: liveness of the primary, pause flag, degrade record.
 * Read as the heartbeat role (whatever the object is, its code runs with no more rights than
 * that role has), and only believed when it is a superuser's table: another owner could write
 * the pause and switchover columns (docs/security.md).
 */
async function readHeartbeatRow(
  config: ClusterConfig,
  node: NodeConfig,
  timeoutMs: number,
  into: LocalObservation,
): Promise<void> {
  const target = withTimeouts(heartbeatDbTarget(config, node, 'heartbeat', 'socket'), timeoutMs);
  const row = await withConnection(target, readSupervisorRow).catch(() => undefined);
  if (row === undefined) return;
  into.heartbeat = {
    lastAlive: row.lastAlive,
    writer: row.writer,
    ...(row.repLag === undefined ? {} : { repLag: row.repLag }),
    ...(row.syncDegradedAt === undefined ? {} : { syncDegradedAt: row.syncDegradedAt }),
  };
  if (row.pausedBy !== undefined) into.pausedBy = row.pausedBy;
  if (row.switchover !== undefined) into.switchover = row.switchover;
}

/** A server's status over TCP, or the error that kept it from answering. */
function answerOf(target: ConnectTarget, timeoutMs: number): Promise<ServerStatus | Error> {
  return withConnection(withTimeouts(target, timeoutMs), readServerStatus).catch(
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
}

function isPairStatus(
  answer: ServerStatus | Error,
  expected: string | undefined,
): answer is ServerStatus {
  return !(answer instanceof Error) && checkSamePair(answer, expected, '') === undefined;
}

function peerObservation(
  answer: ServerStatus | Error,
  expected: string | undefined,
  address: string,
): PeerObservation {
  if (answer instanceof Error)
    return connectionRefused(answer) ? { answering: false, refused: true } : { answering: false };
  const notPeer = checkSamePair(answer, expected, address);
  // Another cluster's answer is no answer: never proof of the peer's role.
  if (notPeer !== undefined) return { answering: false, notPeer: notPeer.message };
  const lsn = answer.role === 'primary' ? answer.currentLsn : answer.replayLsn;
  return {
    answering: true,
    role: answer.role,
    timeline: answer.timeline,
    ...(lsn === undefined ? {} : { lsn }),
  };
}

/** ECONNREFUSED anywhere in the cause chain: the host is up and nothing listens on the port. */
function connectionRefused(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; depth += 1) {
    if ((cause as NodeJS.ErrnoException).code === 'ECONNREFUSED') return true;
    cause = cause.cause;
  }
  return false;
}

/** What answers through the primary VIP (a new connection), if anything is configured. */
function primaryThroughVip(
  config: ClusterConfig,
  timeoutMs: number,
): Promise<ServerStatus | Error> {
  const vip = config.vip.primary;
  if (vip === undefined) return Promise.resolve(new Error('no primary VIP'));
  const [first] = config.nodes;
  const host = vip.host;
  return answerOf({ ...heartbeatDbTarget(config, first, 'heartbeat', 'tcp'), host }, timeoutMs);
}

/** Any configured gateway answers a ping within the timeout. */
async function gatewayAnswers(config: ClusterConfig, timeoutMs: number): Promise<boolean> {
  if (config.gateway.length === 0) return false;
  const seconds = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  const answers = await Promise.all(
    config.gateway.map((address) =>
      runProgram('ping', ['-n', '-q', '-c', '1', '-W', seconds, address], {
        allowFailure: true,
        timeoutMs: timeoutMs + 1000,
      }).then(
        (result) => result.exitCode === 0,
        () => false,
      ),
    ),
  );
  return answers.some(Boolean);
}
