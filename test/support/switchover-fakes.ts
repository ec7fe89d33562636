// Recording fakes for the switchover's dependencies (SwitchoverDeps in
// actions/switchover-deps.ts): a small simulated pair, host1 the primary and host2 the standby
// the switchover runs on, on a virtual clock. Each write is journalled in order; the script
// says where the pair misbehaves. The switchover under test is the real one.
import type { LocalSupervisor, SwitchoverDeps } from '../../src/lib/actions/switchover-deps.js';
import { exampleConfig } from '../../src/lib/config/example.js';
import { checkConfigText } from '../../src/lib/config/load.js';
import type { ClusterConfig, NodeConfig } from '../../src/lib/config/types.js';
import type { FlagRead } from '../../src/lib/heartbeat/table.js';
import type { ReplicationRow, ServerRole } from '../../src/lib/pg/server-status.js';
import type { SwitchoverFlag } from '../../src/lib/supervisor/types.js';
import { FakeClock } from './loop-fakes.js';
import { replicationRow } from './observe-fakes.js';

/** The example configuration (host1, host2, both VIPs), the pair the fakes simulate. */
export async function examplePair(): Promise<{ config: ClusterConfig; host2: NodeConfig }> {
  const { config } = await checkConfigText(exampleConfig, 'example.yaml');
  const host2 = config?.nodes[1];
  if (config === undefined || host2 === undefined) throw new Error('the example is not a pair');
  return { config, host2 };
}

export interface SwitchoverScript {
  /** Bytes host2 is behind before the flag is written (it catches up once it is). */
  lagBytes?: number;
  /** host2's WAL receiver status; undefined: none runs. */
  receiver?: string | undefined;
  /** host1's heartbeat row cannot be read. */
  flagsUnreadable?: boolean;
  pausedBy?: string;
  /** A switchover flag already on the row, written this long before the clock's start. */
  runningFlag?: { to: string; by: string; ageMs: number; timeoutMs: number };
  /** host2's supervisor: stands aside once it saw the flag, never does, or does not run. */
  supervisor?: 'stands-aside' | 'never' | 'absent';
  /** host1's supervisor on 'handover': stops and comes back as a standby, never stops, or
   * stops and does not come back. */
  handover?: 'clean' | 'never-stops' | 'never-back';
  /** While host1 is down its host refuses the connection (the postmaster has exited), rather
   * than the server saying it is shutting down. */
  refusesWhileDown?: boolean;
  /** host2 replays up to the shutdown checkpoint but not past it. */
  replayStopsAtCheckpoint?: boolean;
  /** pg_promote() here: promotes; throws before it was asked; throws after it was asked and
   * nothing follows; throws after it was asked but the server promoted all the same. */
  promote?: 'ok' | 'fails-unasked' | 'fails-asked' | 'fails-but-promoted';
  /** The rollback's pg_promote() on host1 throws. */
  rollbackFails?: boolean;
  /** Taking the primary VIP here fails. */
  vipUpFails?: boolean;
}

interface Server {
  role: ServerRole | 'down';
  timeline: number;
  /** Primary: its current WAL position. Standby: its replayed position. */
  lsn: number;
}

/** How far a shutdown checkpoint record reaches past its start: replaying it passes its LSN. */
const checkpointRecordBytes = 0x68;

const formatLsn = (position: number): string => `0/${position.toString(16).toUpperCase()}`;

export class SwitchoverFakes {
  readonly clock = new FakeClock();
  /** Every write, in order: "write-flag host1 prepare", "promote host2", "vip-up primary"... */
  readonly effects: string[] = [];
  /** How many reads were made (the dry run makes some, and no effect). */
  reads = 0;
  /** The switchover flag on the (replicated) heartbeat row. */
  flag: Pick<SwitchoverFlag, 'to' | 'by' | 'startedAt' | 'timeoutMs' | 'phase'> | undefined;
  readonly vipsHere = new Set<'primary' | 'standby'>(['standby']);
  readonly host1: Server = { role: 'primary', timeline: 1, lsn: 0x3000000 };
  readonly host2: Server = { role: 'standby', timeline: 1, lsn: 0x3000000 };
  readonly deps: SwitchoverDeps;
  private flagWritten = false;
  private handoverProbes = 0;
  private checkpoint: number | undefined;

  constructor(
    private readonly config: ClusterConfig,
    private readonly script: SwitchoverScript = {},
  ) {
    this.host2.lsn -= script.lagBytes ?? 0;
    const running = script.runningFlag;
    if (running !== undefined)
      this.flag = { ...running, startedAt: this.clock.now() - running.ageMs, phase: 'prepare' };
    this.deps = {
      servers: {
        localStatus: () => this.read(() => this.status(this.host2)),
        candidate: () =>
          this.read(() => ({
            role: this.answering(this.host2),
            timeline: this.host2.timeline,
            receiver: 'receiver' in script ? script.receiver : 'streaming',
          })),
        source: () =>
          this.read(() => ({
            role: this.answering(this.host1),
            timeline: this.host1.timeline,
            candidate: { state: 'streaming', syncState: 'async' },
          })),
        sourceStatus: () => this.read(() => this.status(this.host1)),
        handover: () => this.read(() => this.handoverAnswer()),
        followers: () => this.read(() => this.followers()),
        promoteHere: (node, onSignal) => this.promoteHere(node, onSignal),
        promoteSource: (source) => this.promoteSource(source),
      },
      flags: {
        read: () => this.read(() => this.flags()),
        write: (_config, on, flag) => this.writeFlag(on, flag),
        setPhase: (_config, on, phase) => this.setPhase(on, phase),
        clear: (_config, on) => this.clearFlag(on),
      },
      vips: {
        up: (_config, role) => this.vipUp(role),
        down: (_config, role) => this.effect(`vip-down ${role}`, () => this.vipsHere.delete(role)),
        heldHere: (_config, role) => this.read(() => this.vipsHere.has(role)),
      },
      supervisor: (_config, node) => this.read(() => this.supervisor(node)),
      clock: this.clock,
    };
  }

  private server(node: NodeConfig): Server {
    return node.name === 'host1' ? this.host1 : this.host2;
  }

  private answering(server: Server): ServerRole {
    if (server.role === 'down') throw new Error('connection refused');
    return server.role;
  }

  private read<T>(answer: () => T): Promise<T> {
    this.reads += 1;
    return Promise.resolve().then(answer);
  }

  private effect<T>(line: string, work: () => T): Promise<T> {
    this.effects.push(line);
    return Promise.resolve().then(work);
  }

  private status(server: Server) {
    const role = this.answering(server);
    const position = formatLsn(server.lsn);
    return {
      role,
      timeline: server.timeline,
      currentLsn: role === 'primary' ? position : undefined,
      replayLsn: role === 'standby' ? position : undefined,
    };
  }

  private flags(): FlagRead {
    if (this.script.flagsUnreadable === true) throw new Error('permission denied');
    return { pausedBy: this.script.pausedBy, switchover: this.flag, serverNow: this.clock.now() };
  }

  /** A write on the row needs a primary: a standby's copy is read-only, a stopped one refuses. */
  private writable(on: NodeConfig): void {
    const role = this.server(on).role;
    if (role !== 'primary')
      throw new Error(`${on.name} is ${role === 'down' ? 'down' : 'read-only'}`);
  }

  private writeFlag(
    on: NodeConfig,
    flag: Pick<SwitchoverFlag, 'to' | 'by' | 'timeoutMs' | 'phase'>,
  ) {
    return this.effect(`write-flag ${on.name} ${flag.phase}`, () => {
      this.writable(on);
      this.flag = { ...flag, startedAt: this.clock.now() };
      this.host1.lsn += 0x200;
      // Streaming: the standby replays the flag, and whatever lag it had, at once.
      this.host2.lsn = this.host1.lsn;
      this.flagWritten = true;
      return { lsn: formatLsn(this.host1.lsn) };
    });
  }

  private setPhase(on: NodeConfig, phase: SwitchoverFlag['phase']) {
    return this.effect(`set-phase ${on.name} ${phase}`, () => {
      this.writable(on);
      if (this.flag !== undefined) this.flag = { ...this.flag, phase };
    });
  }

  private clearFlag(on: NodeConfig) {
    return this.effect(`clear-flag ${on.name}`, () => {
      this.writable(on);
      this.flag = undefined;
    });
  }

  private supervisor(node: NodeConfig): LocalSupervisor {
    const path = `/run/skypg/${node.name}.state`;
    const mode = this.script.supervisor ?? 'stands-aside';
    if (mode === 'absent') return { path, state: undefined, alive: false };
    const standsAside = mode === 'stands-aside' && this.flagWritten;
    const now = new Date(this.clock.now()).toISOString();
    return {
      path,
      alive: true,
      state: {
        version: 1,
        cluster: this.config.cluster,
        node: node.name,
        pid: 4242,
        pidStartTicks: 1,
        startedAt: now,
        // Its loop writes the file as time passes, so each read sees a fresh one.
        updatedAt: now,
        loops: 1,
        state: standsAside ? 'switchover' : 'standby',
        reason: '',
        paused: false,
      },
    };
  }

  /** host1 as its supervisor hands over: one more answer as a primary, then it stops (the
   * VIP is gone, a shutdown checkpoint is written and streamed) and, if clean, comes back. */
  private handoverAnswer() {
    const mode = this.script.handover ?? 'clean';
    if (this.host1.role === 'primary') {
      const handingOver = this.flag?.phase === 'handover' && mode !== 'never-stops';
      if (!handingOver || ++this.handoverProbes === 1) return { role: 'primary' as const };
      this.checkpoint = this.host1.lsn;
      this.host1.role = 'down';
      const past = this.script.replayStopsAtCheckpoint === true ? 0 : checkpointRecordBytes;
      this.host2.lsn = this.checkpoint + past;
    } else if (this.host1.role === 'down' && mode === 'clean') {
      this.host1.role = 'standby';
    }
    if (this.host1.role === 'down')
      return this.script.refusesWhileDown === true
        ? { role: 'down' as const, error: 'refused the connection', refused: true }
        : { role: 'down' as const, error: 'the database system is shutting down' };
    const lsn = formatLsn(this.checkpoint ?? this.host1.lsn);
    return { role: 'standby' as const, checkpoint: { lsn, timeline: this.host1.timeline } };
  }

  private followers(): ReplicationRow[] {
    if (this.host2.role !== 'primary' || this.host1.role !== 'standby') return [];
    return [
      replicationRow({
        applicationName: 'host1',
        replayLagBytes: 0,
        flushLagBytes: 0,
        replayLagSeconds: 0,
      }),
    ];
  }

  private promoteHere(node: NodeConfig, onSignal: () => void): Promise<number> {
    const outcome = this.script.promote ?? 'ok';
    return this.effect(`promote ${node.name}`, () => {
      if (outcome === 'fails-unasked') throw new Error('could not connect to the server');
      onSignal();
      if (outcome === 'fails-asked') throw new Error('the connection was lost');
      this.host2.role = 'primary';
      this.host2.timeline += 1;
      if (outcome === 'fails-but-promoted') throw new Error('the connection was lost');
      return this.host2.timeline;
    });
  }

  private promoteSource(source: NodeConfig): Promise<number> {
    return this.effect(`promote ${source.name}`, () => {
      if (this.script.rollbackFails === true) throw new Error('pg_promote failed');
      if (this.host1.role !== 'standby') throw new Error(`${source.name} is not a standby`);
      this.host1.role = 'primary';
      this.host1.timeline += 1;
      return this.host1.timeline;
    });
  }

  private vipUp(role: 'primary' | 'standby'): Promise<unknown> {
    return this.effect(`vip-up ${role}`, () => {
      if (this.script.vipUpFails === true)
        throw new Error('RTNETLINK answers: Operation not permitted');
      this.vipsHere.add(role);
    });
  }
}
