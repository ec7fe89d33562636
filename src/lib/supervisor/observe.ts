// observe(): everything one supervisor loop needs, read concurrently, each part bounded by
// heartbeat.timeout (the peer's, the VIP's and the gateway's by beacon.confirm_timeout in a look
// that follows a beacon signal). A part that fails or times out is reported as "not answering", never
// as an exception: the policy decides what a silence means. Every read goes through
// ObserveDeps (observe-deps.ts), so this file holds only how the reads become facts.
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { peerOf } from '../config/local-node.js';
import { lsnDistance } from '../pg/lsn.js';
import { checkSamePair, type ServerStatus } from '../pg/server-status.js';
import { primaryVipProbeNeeded } from './decide.js';
import { realObserveDeps, type LocalServerReads, type ObserveDeps } from './observe-deps.js';
import type { LocalObservation, Observation, PeerObservation } from './types.js';

/** What the loop knows before it observes, when it changes what is worth reading. */
export interface ObserveHints {
  /** The peer's beacon signalled (silence, or its server stopped answering): with fencing
   * required, its fence device is asked for the power state beside the checks, and an OFF ends
   * the wait for the peer's and the VIP's answers at once (a powered-off host never answers). */
  peerSignal?: boolean;
  /** Resolves when a signal comes while this look is under way (the loop's waker): the peer's
   * checks and the gateway's ping then start again at once, bounded by beacon.confirm_timeout,
   * beside the ones under way, and the fence device is asked too (with fencing required). */
  signalDuringLook?: Promise<void>;
}

export async function observe(
  config: ClusterConfig,
  node: NodeConfig,
  now: () => number,
  deps: ObserveDeps = realObserveDeps,
  hints: ObserveHints = {},
): Promise<Observation> {
  const peer = peerOf(config, node.name);
  const timeoutMs = config.heartbeat.timeout;
  // After a signal the peer's checks are the confirmation, and on a LAN a live peer answers
  // well within beacon.confirm_timeout: a cut-off one is declared that much sooner. The local
  // server keeps heartbeat.timeout (its silence is not the news here).
  const confirmMs = config.beacon?.confirm_timeout ?? timeoutMs;
  const peerTimeoutMs = hints.peerSignal === true ? confirmMs : timeoutMs;
  // A signal in the middle of a look: the checks under way began before it, with the loop's
  // timeout, so the fresh ones decide when the peer is silent (see againOnSignal).
  const midLook =
    hints.peerSignal === true || config.beacon === undefined ? undefined : hints.signalDuringLook;
  const mayAskPower = config.failover.fencing === 'required' && peer.fence.length > 0;
  const askPowerNow = (): Promise<boolean> => orElse(() => deps.peerPoweredOff(peer), false);
  const peerOff = !mayAskPower
    ? Promise.resolve(false)
    : hints.peerSignal === true
      ? askPowerNow()
      : midLook === undefined
        ? Promise.resolve(false)
        : midLook.then(askPowerNow);
  const poweredOff = new Error('the fence device says the peer is powered off');
  /** The read's answer, or poweredOff as soon as the fence device says OFF. */
  const unlessOff = (read: Promise<ServerStatus | Error>): Promise<ServerStatus | Error> =>
    Promise.race([read, peerOff.then((off) => (off ? poweredOff : read))]);
  const primaryVipHeldHere =
    config.vip.primary === undefined
      ? Promise.resolve(false)
      : orElse(() => deps.vipHeldHere(config, 'primary'), false);
  // Through the VIP this host reaches itself while it holds the VIP, and every use of that
  // answer below is for a VIP held elsewhere: the connection is made only when it is not here.
  const heldHereAnswer = new Error('the primary VIP is held here');
  const [local, peerAnswer, viaVipAnswer, gatewayReachable, standbyVipHeld, primaryVipHeld] =
    await Promise.all([
      observeLocal(config, node, timeoutMs, deps),
      unlessOff(
        againOnSignal(
          (ms) => answerOf(() => deps.peerStatus(config, peer, ms)),
          peerTimeoutMs,
          midLook,
          confirmMs,
          isAnswer,
        ),
      ),
      config.vip.primary === undefined
        ? Promise.resolve(new Error('no primary VIP'))
        : primaryVipHeldHere.then((held) =>
            held
              ? heldHereAnswer
              : unlessOff(
                  againOnSignal(
                    (ms) => answerOf(() => deps.statusThroughPrimaryVip(config, ms)),
                    peerTimeoutMs,
                    midLook,
                    confirmMs,
                    isAnswer,
                  ),
                ),
          ),
      againOnSignal(
        (ms) => gatewayAnswers(config, ms, deps),
        peerTimeoutMs,
        midLook,
        confirmMs,
        (reachable) => reachable,
      ),
      config.vip.standby === undefined
        ? Promise.resolve(false)
        : orElse(() => deps.vipHeldHere(config, 'standby'), false),
      primaryVipHeldHere,
    ]);
  // Answers count only from this pair's other server (docs/security.md, "Network trust").
  const expected =
    local.systemIdentifier ??
    (await orElse(() => deps.systemIdentifierOnDisk(node.data_dir), undefined));
  const peerServer =
    peerAnswer === poweredOff
      ? { answering: false, poweredOff: true }
      : peerObservation(peerAnswer, expected, peer.address);
  const viaVip = {
    answered: !(viaVipAnswer instanceof Error),
    primary: isPairStatus(viaVipAnswer, expected) && viaVipAnswer.role === 'primary',
  };
  // Whether another host answers ARP for the primary VIP costs a DAD probe: the policy says
  // when it is worth one (decide.ts); otherwise an answer through the VIP is the evidence. A
  // probe that fails cannot rule another holder out.
  const heldElsewhere = primaryVipProbeNeeded(config, local.role, primaryVipHeld)
    ? await orElse(async () => (await deps.primaryVipStatus(config)).otherHolders.length > 0, true)
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

/**
 * The local server. Whether a postmaster runs is not guessed: if that cannot be read, the
 * observation fails (the loop's "observation failed" path), since "down" would invite a start.
 */
async function observeLocal(
  config: ClusterConfig,
  node: NodeConfig,
  timeoutMs: number,
  deps: ObserveDeps,
): Promise<LocalObservation> {
  const pid = await deps.runningPostmaster(node);
  const running = pid !== undefined;
  if (!running) {
    const dataIsStandby = await deps.standbySignalPresent(node.data_dir);
    return { running, answering: false, dataIsStandby };
  }
  let local: LocalObservation;
  try {
    local = await deps.withLocalServer(node, timeoutMs, (server) =>
      readLocalServer(config, node, server),
    );
  } catch {
    return { running, pid, answering: false };
  }
  local.pid = pid;
  const row = await orElse(() => deps.heartbeatRow(config, node, timeoutMs), undefined);
  if (row !== undefined) {
    local.heartbeat = {
      lastAlive: row.lastAlive,
      writer: row.writer,
      ...(row.repLag === undefined ? {} : { repLag: row.repLag }),
      ...(row.syncDegradedAt === undefined ? {} : { syncDegradedAt: row.syncDegradedAt }),
    };
    if (row.pausedBy !== undefined) local.pausedBy = row.pausedBy;
    if (row.switchover !== undefined) local.switchover = row.switchover;
  }
  if (local.role === 'primary') {
    // The beat is the primary's liveness test: a new connection that commits a write.
    local.beatCommitted = await orElse(() => deps.writeBeat(config, node), false);
  }
  return local;
}

/** What one connection to the local server shows: its role, and the role's own facts. */
async function readLocalServer(
  config: ClusterConfig,
  node: NodeConfig,
  server: LocalServerReads,
): Promise<LocalObservation> {
  const status = await server.status();
  const observed: LocalObservation = {
    running: true,
    answering: true,
    role: status.role,
    timeline: status.timeline,
    ...(status.systemIdentifier === undefined ? {} : { systemIdentifier: status.systemIdentifier }),
    lsn: status.role === 'primary' ? status.currentLsn : status.replayLsn,
  };
  if (status.role === 'standby') {
    const receiver = await server.walReceiver(status.versionNum);
    observed.receiver = receiver?.status;
    if (receiver?.lastMessageAt !== undefined)
      observed.lastReceiptAt = receiver.lastMessageAt.getTime();
    if (status.receiveLsn !== undefined && status.replayLsn !== undefined) {
      observed.replayBacklog = lsnDistance(status.receiveLsn, status.replayLsn);
    }
    return observed;
  }
  const peerName = peerOf(config, node.name).name;
  const rows = await server.replication();
  // The peer's row by name; a single row without the name is taken as the peer's.
  const peerRow =
    rows.find((candidate) => candidate.applicationName === peerName) ??
    (rows.length === 1 ? rows[0] : undefined);
  if (peerRow) observed.peerReplication = { state: peerRow.state, syncState: peerRow.syncState };
  observed.syncStandbyNames = await server.syncStandbyNames();
  return observed;
}

/**
 * read(timeoutMs), and when a signal comes while it is under way, read(confirmMs) at once beside
 * it: the first answer from either counts; a fresh read that fails ends the wait without the
 * old one, which has waited longer already (a look that began just before a cut would
 * otherwise sit out its whole timeout). Neither read rejects (they come wrapped).
 */
async function againOnSignal<T>(
  read: (timeoutMs: number) => Promise<T>,
  timeoutMs: number,
  signal: Promise<void> | undefined,
  confirmMs: number,
  answered: (value: T) => boolean,
): Promise<T> {
  const first = read(timeoutMs);
  if (signal === undefined) return first;
  const early = await Promise.race([
    first.then((value) => ({ value })),
    signal.then(() => undefined),
  ]);
  if (early !== undefined) return early.value;
  const fresh = read(confirmMs);
  return new Promise<T>((resolve) => {
    void first.then((value) => {
      if (answered(value)) resolve(value);
    });
    void fresh.then(resolve);
  });
}

function isAnswer(value: ServerStatus | Error): boolean {
  return !(value instanceof Error);
}

/** The read's value, or fallback when it rejects (or throws before it returns a promise). */
async function orElse<T>(read: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await read();
  } catch {
    return fallback;
  }
}

/** A server's status, or the error that kept it from answering. */
async function answerOf(read: () => Promise<ServerStatus>): Promise<ServerStatus | Error> {
  try {
    return await read();
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
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

/** Any configured gateway answers a ping within the timeout. */
async function gatewayAnswers(
  config: ClusterConfig,
  timeoutMs: number,
  deps: ObserveDeps,
): Promise<boolean> {
  if (config.gateway.length === 0) return false;
  const answers = await Promise.all(
    config.gateway.map((address) => orElse(() => deps.pingGateway(address, timeoutMs), false)),
  );
  return answers.some(Boolean);
}
