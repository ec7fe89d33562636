// One failover trial in the multi-host lab: a healthy pair, a client writing through the
// primary VIP, one fault on the primary, then what the client and the supervisors saw, and the
// old primary's rejoin, timed. It ends with a healthy pair again (possibly the other way round).
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ClientAgent,
  labPsql,
  readSupervisorLog,
  splitBrainSamples,
  type AgentReport,
} from '../../src/lib/lab/lab-cluster.js';
import {
  freezePostgres,
  killPostgres,
  linkDown,
  linkUp,
  powerOff,
  powerOn,
  type LabHostName,
  type NetnsLabState,
} from '../../src/lib/lab/netns-lab.js';
import { processState, signalAll } from '../../src/lib/lab/netns-process.js';
import { isPoweredOff, until, waitHealthy } from './lab-run.js';
import { failoverMilestones, type FailoverMilestones, type HostLogLine } from './milestones.js';
import { UriWriter, uriTable, type UriAck } from './uri-writer.js';
import type { LabHaproxy } from '../../src/lib/lab/lab-haproxy.js';

/** Where the HAProxy client writes (its own table: ids of the clients overlap). */
export const haproxyTable = 'haproxy_writes';

export const faults = ['kill', 'poweroff', 'partition', 'freeze'] as const;
export type Fault = (typeof faults)[number];
export type Mode = 'async' | 'sync';

export const faultDescriptions: Record<Fault, string> = {
  kill: 'kill -9 of the primary postmaster',
  poweroff: 'power-off of the primary host through its BMC',
  partition: "the primary host's network cable pulled at the switch",
  freeze:
    "the primary's postmaster and its backends stopped (SIGSTOP), the host and its supervisor running",
};

export interface TrialResult extends FailoverMilestones {
  fault: Fault;
  mode: Mode;
  trial: number;
  oldPrimary: LabHostName;
  newPrimary?: LabHostName;
  /** First write acknowledged through the VIP after the outage, as the client saw it. */
  writableMs?: number;
  acked: number;
  /** Acknowledged ids missing on the new primary. */
  lost: number[];
  /** First write acknowledged through the libpq multi-host URI after the outage. */
  uriWritableMs?: number;
  /** The host that acknowledged that write. */
  uriHost?: LabHostName;
  uriAcked: number;
  /** Ids acknowledged through the URI and missing on the new primary. */
  uriLost: number[];
  /** First write acknowledged through HAProxy (the shipped haproxy.cfg) after the outage. */
  haproxyWritableMs?: number;
  haproxyAcked: number;
  /** Ids acknowledged through HAProxy and missing on the new primary. */
  haproxyLost: number[];
  samples: number;
  /** Samples in which two hosts accepted a new connection as a primary (must be 0). */
  splitBrainSamples: number;
  /** From the repair (power on / cable back) until the old primary streams again. */
  rejoinMs?: number;
  error?: string;
}

const writableTimeoutMs = 90_000;
const rejoinTimeoutMs = 180_000;

/** Carries the fault out; returns what the repair needs (the frozen PIDs, for SIGCONT). */
async function injectFault(
  state: NetnsLabState,
  fault: Fault,
  host: LabHostName,
): Promise<number[]> {
  if (fault === 'kill') await killPostgres(state, host);
  else if (fault === 'poweroff') await powerOff(state, host, { from: 'client' });
  else if (fault === 'freeze') return freezePostgres(state, host);
  else await linkDown(state, host);
  return [];
}

/** Undoes the fault and any fencing it caused: thaw, cable back, power on (boot starts skypg). */
async function repair(
  state: NetnsLabState,
  fault: Fault,
  host: LabHostName,
  frozen: number[],
): Promise<void> {
  // A fenced host's processes are gone with its power: only PIDs still stopped are ours.
  if (fault === 'freeze') {
    const states = await Promise.all(frozen.map(processState));
    signalAll(
      frozen.filter((_pid, index) => states[index] === 'stopped'),
      'SIGCONT',
    );
  }
  if (fault === 'partition') await linkUp(state, host);
  if (await isPoweredOff(state, host)) await powerOn(state, host, { from: 'client' });
}

/** After the outage: the first acknowledgement that follows a gap of 10 write periods. */
export function writableAfter(
  report: AgentReport,
  faultAt: number,
  faultDoneAt = faultAt,
): number | undefined {
  return writableAfterTimes(
    report.acked.map((id) => report.ackTimes.get(id) ?? 0),
    faultAt,
    faultDoneAt,
  );
}

/** The same from bare acknowledgement times: the first over 200 ms after the last before the
 * fault. The URI writer's period (a psql run and a 50 ms pause) stays well under that. */
export function writableAfterTimes(
  times: number[],
  faultAt: number,
  faultDoneAt = faultAt,
): number | undefined {
  // A write the old primary acknowledged while the fault was still being carried out (a
  // power-off takes a moment) is from before the outage, not the first after it.
  const before = times.filter((t) => t <= faultDoneAt);
  const lastBefore = before.length === 0 ? faultDoneAt : Math.max(...before);
  const first = times.find((t) => t > faultDoneAt && t - lastBefore > 200);
  return first === undefined ? undefined : first - faultAt;
}

/** The acknowledged ids a client's table on the new primary lacks. */
async function missingOn(
  state: NetnsLabState,
  host: LabHostName,
  table: string,
  acked: number[],
): Promise<number[]> {
  const present = new Set(
    (await labPsql(state, host, `select id from ${table}`)).split('\n').filter(Boolean).map(Number),
  );
  return acked.filter((id) => !present.has(id));
}

async function allLogs(state: NetnsLabState): Promise<HostLogLine[]> {
  const lines: HostLogLine[] = [];
  for (const host of ['host1', 'host2'] as const)
    for (const line of await readSupervisorLog(state, host)) lines.push({ ...line, host });
  return lines;
}

export async function runTrial(
  state: NetnsLabState,
  options: { fault: Fault; mode: Mode; trial: number; primary: LabHostName; haproxy: LabHaproxy },
): Promise<TrialResult> {
  const { fault, mode, trial, primary: oldPrimary, haproxy } = options;
  for (const table of ['agent_writes', uriTable, haproxyTable])
    await labPsql(state, oldPrimary, `truncate table ${table}`).catch(() => undefined);
  const agent = await ClientAgent.start(state);
  const haproxyAgent = await ClientAgent.start(state, {
    host: haproxy.host,
    port: haproxy.port,
    table: haproxyTable,
    passfile: haproxy.passfile,
  }).catch(async (error: unknown) => {
    await agent.stop();
    throw error;
  });
  const uriWriter = await UriWriter.start(state).catch(async (error: unknown) => {
    await Promise.all([agent.stop(), haproxyAgent.stop()]);
    throw error;
  });
  let report: AgentReport | undefined;
  const result = emptyResult(fault, mode, trial, oldPrimary);
  let faultAt: number | undefined;
  try {
    await until('the clients to write through the VIP and the URI', 15_000, () =>
      Promise.resolve(
        agent.report().acked.length > 0 && uriWriter.acks().length > 0 ? true : undefined,
      ),
    );
    await sleep(2000);
    const at = Date.now();
    faultAt = at;
    const frozen = await injectFault(state, fault, oldPrimary);
    const doneAt = Date.now();
    const writableAt = await until(
      'a write acknowledged through the VIP after the fault',
      writableTimeoutMs,
      () => Promise.resolve(writableAfter(agent.report(), at, doneAt)),
    );
    result.writableMs = writableAt;
    const uriAckAfter = (): UriAck | undefined => {
      const acks = uriWriter.acks();
      const ms = writableAfterTimes(
        acks.map((ack) => ack.at),
        at,
        doneAt,
      );
      return ms === undefined ? undefined : acks.find((ack) => ack.at === at + ms);
    };
    const uriFirst = await until(
      'a write acknowledged through the multi-host URI after the fault',
      writableTimeoutMs,
      () => Promise.resolve(uriAckAfter()),
    );
    result.uriWritableMs = uriFirst.at - at;
    result.haproxyWritableMs = await until(
      'a write acknowledged through HAProxy after the fault',
      writableTimeoutMs,
      () => Promise.resolve(writableAfter(haproxyAgent.report(), at, doneAt)),
    );
    result.uriHost = state.hosts.find((host) => host.address === uriFirst.server)?.name;
    // The leader is the one host the client sees answering a new connection as a primary.
    const newPrimary = await until('the client to see exactly one primary', 60_000, () => {
      const latest = agent.report().samples.at(-1);
      if (latest === undefined || latest.t <= at + writableAt) return Promise.resolve(undefined);
      const leaders = state.hosts.filter((host) => latest.roles[host.address] === 'primary');
      return Promise.resolve(leaders.length === 1 ? leaders[0]?.name : undefined);
    });
    result.newPrimary = newPrimary;
    // Acknowledged before the queries: every one of them must be there.
    const acked = agent.report().acked;
    const uriAcked = uriWriter.acks().map((ack) => ack.id);
    const haproxyAcked = haproxyAgent.report().acked;
    result.acked = acked.length;
    result.lost = await missingOn(state, newPrimary, 'agent_writes', acked);
    result.uriAcked = uriAcked.length;
    result.uriLost = await missingOn(state, newPrimary, uriTable, uriAcked);
    result.haproxyAcked = haproxyAcked.length;
    result.haproxyLost = await missingOn(state, newPrimary, haproxyTable, haproxyAcked);
    Object.assign(result, failoverMilestones(await allLogs(state), at, newPrimary));

    const repairAt = Date.now();
    await repair(state, fault, oldPrimary, frozen);
    await waitHealthy(state, mode, rejoinTimeoutMs);
    result.rejoinMs = Date.now() - repairAt;
    // Writes in the last moments of the trial were checked above; the rest keep the sampler
    // honest until the pair is whole again.
    report = await agent.stop();
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    // What the supervisors did instead, for the JSON report.
    if (faultAt !== undefined)
      result.events = failoverMilestones(await allLogs(state), faultAt, '').events;
  } finally {
    report ??= await agent.stop();
    await haproxyAgent.stop();
    await uriWriter.stop();
    result.samples = report.samples.length;
    result.splitBrainSamples = splitBrainSamples(report).length;
  }
  return result;
}

function emptyResult(
  fault: Fault,
  mode: Mode,
  trial: number,
  oldPrimary: LabHostName,
): TrialResult {
  return {
    fault,
    mode,
    trial,
    oldPrimary,
    acked: 0,
    lost: [],
    uriAcked: 0,
    uriLost: [],
    haproxyAcked: 0,
    haproxyLost: [],
    samples: 0,
    splitBrainSamples: 0,
    failedPromotions: 0,
    promoteSteps: [],
    events: [],
  };
}

/** Runs the trials of one fault on one lab; a failed trial ends the series (the pair may be
 * broken), and the caller builds a new lab for what is left. */
export async function runSeries(
  state: NetnsLabState,
  options: {
    fault: Fault;
    mode: Mode;
    firstTrial: number;
    lastTrial: number;
    onTrial: (result: TrialResult) => void;
    haproxy: LabHaproxy;
  },
): Promise<{ results: TrialResult[]; failed: boolean }> {
  const results: TrialResult[] = [];
  for (let trial = options.firstTrial; trial <= options.lastTrial; trial += 1) {
    const primary = await waitHealthy(state, options.mode, rejoinTimeoutMs).catch(
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    );
    const result =
      primary instanceof Error
        ? {
            ...emptyResult(options.fault, options.mode, trial, 'host1'),
            error: `no healthy pair to start from: ${primary.message}`,
          }
        : await runTrial(state, { ...options, trial, primary });
    results.push(result);
    options.onTrial(result);
    if (result.error !== undefined) return { results, failed: true };
  }
  return { results, failed: false };
}
