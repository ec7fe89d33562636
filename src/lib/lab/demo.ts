// `skypg lab demo`: the whole story on this machine in about a minute. A two-host lab with a
// BMC per host and a supervisor on each, a client writing through the primary VIP; the primary
// host hangs; the standby detects it, fences it, promotes, moves the VIP; the old primary is
// powered back on and rejoins as a standby. Every step is reported as it happens.
import { setTimeout as sleep } from 'node:timers/promises';
import { SkypgError, messageOf } from '../common/errors.js';
import { isRoot } from '../process/run-program.js';
import {
  ClientAgent,
  labPsql,
  readSupervisorLog,
  splitBrainSamples,
  supervisorState,
  type LogLine,
} from './lab-cluster.js';
import {
  execIn,
  freeze,
  netnsLabDown,
  powerOn,
  primaryVipAddress,
  type LabHostName,
  type NetnsLabState,
} from './netns-lab.js';
import { promotionMoments, type PromotionMoments } from './promotion-log.js';
import { sandboxUp } from './sandbox.js';

export interface DemoMilestone {
  /** Seconds since the fault (negative: before it). */
  seconds: number;
  what: string;
}

export interface DemoResult {
  dir: string;
  milestones: DemoMilestone[];
  writesAcknowledged: number;
  writesLost: number;
  /** Samples in which the client saw two writable primaries (must be 0). */
  splitBrainSamples: number;
  status: string[];
  kept: boolean;
}

export interface DemoOptions {
  dir: string;
  keep: boolean;
  /** Progress, as it happens: a sentence and, after the fault, seconds since it. */
  onProgress: (line: string) => void;
}

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await sleep(200);
  }
  throw new SkypgError(
    'LAB_FAILED',
    `the demo stopped: ${what} did not happen within ${timeoutMs / 1000}s`,
    {
      hint: 'run it again with --keep and look at the supervisor logs in the lab directory',
    },
  );
}

async function inHost(state: NetnsLabState, host: LabHostName, args: string[]): Promise<string> {
  const result = await execIn(state, host, process.execPath, [skypgEntry(), ...args], {
    env: { SKYPG_CONFIG: state.configPath },
    allowFailure: true,
  });
  return result.stdout;
}

function skypgEntry(): string {
  return new URL('../../../bin/run.js', import.meta.url).pathname;
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  if (!isRoot()) {
    throw new SkypgError(
      'REFUSED',
      'lab demo needs root: it builds network namespaces, moves VIPs and powers hosts off through simulated BMCs',
      {
        hint: "run it as root, or use 'skypg lab up' for a loopback pair without VIPs and fencing",
      },
    );
  }
  const say = options.onProgress;
  const lab = await sandboxUp({
    dir: options.dir,
    loopback: false,
    onStep: (step) => {
      say(`lab: ${step}`);
    },
  });
  if (lab.kind !== 'netns') throw new Error('sandboxUp built a loopback pair as root');
  const state = lab.state;
  let agent: ClientAgent | undefined;
  try {
    for (const line of (await inHost(state, 'host1', ['status'])).trimEnd().split('\n'))
      say(`  ${line}`);

    say(
      `start a client writing a numbered row through the primary VIP ${primaryVipAddress} every 20 ms`,
    );
    agent = await ClientAgent.start(state);
    await sleep(2000);
    const faultAt = Date.now();
    say('FAULT: the primary host (host1) hangs: every process on it is frozen');
    await freeze(state, 'host1');

    const milestones: DemoMilestone[] = [];
    const mark = (at: number, what: string): void => {
      const seconds = Math.round((at - faultAt) / 100) / 10;
      milestones.push({ seconds, what });
      say(`  +${seconds.toFixed(1)}s  ${what}`);
    };
    const seen = new Set<string>();
    const first = (key: string, what: string, when: number): void => {
      if (seen.has(key)) return;
      seen.add(key);
      mark(when, what);
    };
    // The promotion's actions are logged together when the set ends; their durations give
    // each moment.
    const markPromotion = (moments: PromotionMoments | undefined): void => {
      if (moments === undefined) return;
      const fenceMs = moments.steps.find((step) => step.name.startsWith('fence host1'))?.ms;
      if (moments.fencedAt !== undefined && fenceMs !== undefined)
        first(
          'fenced',
          `fenced: host1 powered off through its BMC and verified OFF (${fenceMs} ms)`,
          moments.fencedAt,
        );
      if (moments.promotedAt !== undefined)
        first('promoted', 'promoted: pg_promote() on host2, on a new timeline', moments.promotedAt);
      if (moments.vipAt !== undefined)
        first(
          'vip',
          'VIP moved: host2 took the primary VIP and announced it (gratuitous ARP)',
          moments.vipAt,
        );
    };
    const onLog = (line: LogLine): void => {
      const at = Date.parse(line.time);
      if (at < faultAt) return;
      // With the beacon the first sign is its silence: the loop wakes and checks at once.
      if (line.event === 'wake' && line.detail?.includes('peer beacon') === true)
        first(
          'detected',
          `detected: host2 checks at once (${line.detail.replace('observing now: ', '')})`,
          at,
        );
      if (line.rule === 'standby-suspect')
        first(
          'detected',
          `detected: host2 sees no sign of life from host1 (${line.reason ?? ''})`,
          at,
        );
      if (line.rule === 'standby-promote')
        first('declared', `declared failed: ${line.reason ?? ''}`, at);
      if ((line.action === 'promote' || line.action === 'fence-peer') && line.result === 'failed')
        first(
          `failed-${line.time}`,
          `promotion attempt failed, retrying: ${line.detail ?? ''}`,
          at,
        );
    };
    await until('the first write accepted after the fault', 90_000, async () => {
      const lines = await readSupervisorLog(state, 'host2');
      for (const line of lines) onLog(line);
      markPromotion(promotionMoments(lines, faultAt));
      const report = agent?.report();
      const firstAck = report?.acked
        .map((id) => report.ackTimes.get(id) ?? 0)
        .find((t) => t > faultAt + 200);
      if (firstAck === undefined) return undefined;
      mark(firstAck, 'first write accepted through the VIP by the new primary');
      return true;
    });

    say(
      'power host1 back on: its supervisor starts, finds host2 primary, and rejoins as a standby',
    );
    await powerOn(state, 'host1');
    await until('host1 streaming from host2', 120_000, async () => {
      const one = await supervisorState(state, 'host1');
      if (one?.state !== 'standby') return undefined;
      const receiver = await labPsql(state, 'host1', 'select status from pg_stat_wal_receiver');
      return receiver === 'streaming' ? true : undefined;
    });
    mark(Date.now(), 'host1 streams from host2 again (rewound or rebuilt as needed)');
    const report = await agent.stop();
    agent = undefined;
    const present = await labPsql(state, 'host2', 'select id from agent_writes');
    const ids = new Set(present.split('\n').filter(Boolean).map(Number));
    const lost = report.acked.filter((id) => !ids.has(id)).length;
    const status = (await inHost(state, 'host2', ['status'])).trimEnd().split('\n');
    return {
      dir: state.dir,
      milestones,
      writesAcknowledged: report.acked.length,
      writesLost: lost,
      splitBrainSamples: splitBrainSamples(report).length,
      status,
      kept: options.keep,
    };
  } catch (error) {
    throw error instanceof SkypgError
      ? error
      : new SkypgError('LAB_FAILED', `the demo stopped: ${messageOf(error)}`, { cause: error });
  } finally {
    await agent?.stop().catch(() => undefined);
    if (!options.keep) {
      say('tear the lab down');
      await netnsLabDown(state.dir);
    }
  }
}
