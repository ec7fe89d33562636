// Recording fakes for observe()'s outside reads (ObserveDeps in supervisor/observe-deps.ts): a
// scripted world (what each server, VIP, gateway and file would say) and a journal of every
// read observe() made, in order. The observe() under test is the real one.
import { SkypgError } from '../../src/lib/common/errors.js';
import { exampleConfig } from '../../src/lib/config/example.js';
import { checkConfigText } from '../../src/lib/config/load.js';
import type { ClusterConfig } from '../../src/lib/config/types.js';
import type { SupervisorRowRead } from '../../src/lib/heartbeat/table.js';
import type { VipStatus } from '../../src/lib/net/vip.js';
import type {
  ReplicationRow,
  ServerStatus,
  WalReceiverRow,
} from '../../src/lib/pg/server-status.js';
import type { LocalServerReads, ObserveDeps } from '../../src/lib/supervisor/observe-deps.js';

/** The pair's system identifier (pg_control): both servers of the pair carry it. */
export const PAIR_ID = '7300000000000000001';

/** The example configuration (two nodes, both VIPs, one gateway, heartbeat.timeout 1s). */
export async function exampleClusterConfig(): Promise<ClusterConfig> {
  const loaded = await checkConfigText(exampleConfig, 'example.yaml');
  if (loaded.config === undefined) throw new Error('example config invalid');
  return loaded.config;
}

/** A primary's answer to the status query. */
export function primaryStatus(changes: Partial<ServerStatus> = {}): ServerStatus {
  return {
    versionNum: 150004,
    version: '15.4',
    role: 'primary',
    timeline: 2,
    currentLsn: '0/3000100',
    receiveLsn: undefined,
    replayLsn: undefined,
    lastReplayAt: undefined,
    replayPaused: false,
    systemIdentifier: PAIR_ID,
    ...changes,
  };
}

/** A standby's answer to the status query: received a little more than it replayed. */
export function standbyStatus(changes: Partial<ServerStatus> = {}): ServerStatus {
  return {
    ...primaryStatus(),
    role: 'standby',
    currentLsn: undefined,
    receiveLsn: '0/3000100',
    replayLsn: '0/3000000',
    ...changes,
  };
}

export function replicationRow(changes: Partial<ReplicationRow> = {}): ReplicationRow {
  return {
    applicationName: 'host2',
    clientAddr: undefined,
    state: 'streaming',
    syncState: 'async',
    sentLsn: undefined,
    writeLsn: undefined,
    flushLsn: undefined,
    replayLsn: undefined,
    replayLagBytes: undefined,
    flushLagBytes: undefined,
    replayLagSeconds: undefined,
    replyTime: undefined,
    ...changes,
  };
}

export function walReceiverRow(changes: Partial<WalReceiverRow> = {}): WalReceiverRow {
  return {
    status: 'streaming',
    flushedLsn: undefined,
    receivedTimeline: undefined,
    senderHost: undefined,
    senderPort: undefined,
    slotName: undefined,
    lastMessageAt: undefined,
    ...changes,
  };
}

export function heartbeatRow(changes: Partial<SupervisorRowRead> = {}): SupervisorRowRead {
  return {
    lastAlive: 500_000,
    writer: 'host1',
    repLag: undefined,
    syncDegradedAt: undefined,
    pausedBy: undefined,
    switchover: undefined,
    ...changes,
  };
}

/** The error a connection's deadline raises: what a silent server looks like to observe(). */
export function timedOut(where: string): SkypgError {
  return new SkypgError('PG_TIMEOUT', `PostgreSQL at ${where} did not answer within 1000ms`);
}

/** A connection that failed with this socket error code, wrapped as withConnection does. */
export function socketError(where: string, code: 'ECONNREFUSED' | 'EHOSTUNREACH'): SkypgError {
  const cause = Object.assign(new Error(`connect ${code} ${where}:5432`), { code });
  return new SkypgError('PG_REFUSED', `PostgreSQL at ${where} did not take the connection`, {
    cause,
  });
}

/** A value the fake returns, or an Error it rejects with. */
type Scripted<T> = T | Error;

/**
 * What the local server would say. A read whose answer may be "none" (no postmaster, no WAL
 * receiver, no trusted row) reads undefined as that answer; any other read left out rejects.
 */
export interface LocalScript {
  /** undefined: no postmaster runs. */
  postmasterPid?: Scripted<number | undefined>;
  standbySignal?: boolean;
  /** The connection itself fails (before any query). */
  connect?: Error;
  status?: Scripted<ServerStatus>;
  walReceiver?: Scripted<WalReceiverRow | undefined>;
  replication?: Scripted<ReplicationRow[]>;
  syncStandbyNames?: Scripted<string>;
  heartbeatRow?: Scripted<SupervisorRowRead | undefined>;
  beat?: Scripted<boolean>;
}

/** The world one observe() call sees. */
export interface ObserveWorld {
  local: LocalScript;
  peer: Scripted<ServerStatus>;
  throughVip?: Scripted<ServerStatus>;
  /** Ping answer per gateway address (an address left out does not answer). */
  gateways?: Record<string, Scripted<boolean>>;
  vipHeld?: { primary?: Scripted<boolean>; standby?: Scripted<boolean> };
  /** MACs answering duplicate address detection for the primary VIP. */
  otherHolders?: Scripted<string[]>;
  diskSystemIdentifier?: Scripted<string>;
  /** Names of ObserveDeps methods that throw at once instead of returning a promise. */
  throwAtOnce?: (keyof ObserveDeps)[];
  /** The peer's and the VIP's answers never come (a powered-off host: connects hang). */
  peerHangs?: boolean;
  /** Only the first read of the peer, of the VIP and of each gateway hangs (made just before a
   * cut); the reads after it answer as scripted. */
  firstReadsHang?: boolean;
  /** What the peer's fence device says when asked: true for OFF. */
  peerPoweredOff?: Scripted<boolean>;
}

/** Records the read and never settles: what a connect to a powered-off host does here. */
function hang<T>(journal: string[], entry: string): Promise<T> {
  journal.push(entry);
  return new Promise<T>(() => undefined);
}

/** The fake deps, and the journal of reads they served ("peerStatus host2 1000ms", ...). */
export class ObserveFakes {
  readonly journal: string[] = [];
  readonly deps: ObserveDeps;

  constructor(world: ObserveWorld) {
    const { local } = world;
    /** Records the read, then answers it as scripted (an Error rejects). */
    const answer = <T>(
      entry: string,
      value: Scripted<T>,
      method?: keyof ObserveDeps,
    ): Promise<T> => {
      this.journal.push(entry);
      if (method !== undefined && world.throwAtOnce?.includes(method) === true)
        throw new Error(`${method} threw before it returned a promise`);
      return value instanceof Error ? Promise.reject(value) : Promise.resolve(value);
    };
    const required = <T>(entry: string, value: Scripted<T> | undefined): Scripted<T> =>
      value ?? new Error(`${entry}: not scripted`);
    const reads: LocalServerReads = {
      status: () => answer('local status', required('local status', local.status)),
      walReceiver: (versionNum) => answer(`local walReceiver ${versionNum}`, local.walReceiver),
      replication: () =>
        answer('local replication', required('local replication', local.replication)),
      syncStandbyNames: () =>
        answer('local syncStandbyNames', required('local sync names', local.syncStandbyNames)),
    };
    const readsOf = new Map<string, number>();
    /** Whether this read hangs: always with peerHangs, the first of its kind with firstReadsHang. */
    const hangs = (kind: string): boolean => {
      const count = (readsOf.get(kind) ?? 0) + 1;
      readsOf.set(kind, count);
      return world.peerHangs === true || (world.firstReadsHang === true && count === 1);
    };
    this.deps = {
      runningPostmaster: (node) =>
        answer(`runningPostmaster ${node.name}`, local.postmasterPid, 'runningPostmaster'),
      standbySignalPresent: (dataDir) =>
        answer(`standbySignal ${dataDir}`, local.standbySignal ?? false, 'standbySignalPresent'),
      withLocalServer: async (node, timeoutMs, read) => {
        await answer(`connect local ${node.name} ${timeoutMs}ms`, local.connect, 'withLocalServer');
        if (local.connect !== undefined) throw local.connect;
        return read(reads);
      },
      heartbeatRow: (_config, node, timeoutMs) =>
        answer(`heartbeatRow ${node.name} ${timeoutMs}ms`, local.heartbeatRow, 'heartbeatRow'),
      writeBeat: (_config, node) =>
        answer(`writeBeat ${node.name}`, required('beat', local.beat), 'writeBeat'),
      peerStatus: (_config, peer, timeoutMs) =>
        hangs('peer')
          ? hang(this.journal, `peerStatus ${peer.name} ${timeoutMs}ms (hangs)`)
          : answer(`peerStatus ${peer.name} ${timeoutMs}ms`, world.peer, 'peerStatus'),
      statusThroughPrimaryVip: (_config, timeoutMs) =>
        hangs('vip')
          ? hang(this.journal, `throughVip ${timeoutMs}ms (hangs)`)
          : answer(
              `throughVip ${timeoutMs}ms`,
              required('through VIP', world.throughVip),
              'statusThroughPrimaryVip',
            ),
      pingGateway: (address, timeoutMs) =>
        world.firstReadsHang === true && hangs(`ping ${address}`)
          ? hang(this.journal, `ping ${address} ${timeoutMs}ms (hangs)`)
          : answer(
              `ping ${address} ${timeoutMs}ms`,
              world.gateways?.[address] ?? false,
              'pingGateway',
            ),
      vipHeldHere: (_config, role) =>
        answer(`vipHeldHere ${role}`, world.vipHeld?.[role] ?? false, 'vipHeldHere'),
      primaryVipStatus: (config) => {
        const holders = required('DAD', world.otherHolders);
        const status = holders instanceof Error ? holders : vipStatusWith(config, holders);
        return answer('dad primary', status, 'primaryVipStatus');
      },
      systemIdentifierOnDisk: (dataDir) =>
        answer(
          `diskSystemIdentifier ${dataDir}`,
          required('disk system identifier', world.diskSystemIdentifier),
          'systemIdentifierOnDisk',
        ),
      peerPoweredOff: (peer) =>
        answer(
          `peerPoweredOff ${peer.name}`,
          required('fence status', world.peerPoweredOff),
          'peerPoweredOff',
        ),
    };
  }

  /** The journal entries that start with prefix (one kind of read). */
  reads(prefix: string): string[] {
    return this.journal.filter((entry) => entry.startsWith(prefix));
  }
}

function vipStatusWith(config: ClusterConfig, otherHolders: string[]): VipStatus {
  const vip = config.vip.primary;
  return {
    role: 'primary',
    address: vip?.address ?? '',
    interface: vip?.interface ?? '',
    heldHere: false,
    otherHolders,
  };
}
