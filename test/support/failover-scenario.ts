// One failover story in the multi-host lab, told the same way for every fault: both
// supervisors up, a client writing through the VIP and sampling every host, the fault, then
// recovery (power the fenced host back on, heal), and the invariants checked at the end.
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestContext } from 'node:test';
import {
  freezePostgres as freezeLabPostgres,
  holdsAddress,
  killPostgres,
  linkDown,
  linkUp,
  namespacePids,
  powerOff,
  powerOn,
  type LabHostName,
  type NetnsLabState,
} from '../../src/lib/lab/netns-lab.js';
import {
  ClientAgent,
  labPsql,
  readSupervisorLog,
  splitBrainSamples,
  startSupervisors,
  supervisorState,
  type AgentReport,
} from '../../src/lib/lab/lab-cluster.js';
import { waitUntil } from './wait.js';

export interface Scenario {
  /** Replication mode for this story (default async). */
  mode?: 'async' | 'sync';
  fault: (state: NetnsLabState) => Promise<void>;
  /** Undo what the fault did to the network or processes (power is handled here). */
  heal?: (state: NetnsLabState) => Promise<void>;
  /** Heal this long after the fault, before waiting for writes (a story with no way out
   * until the repair, e.g. both networks down); by default heal comes after the failover. */
  outageMs?: number;
  /** Which node must lead at the end, when the story has only one right ending. */
  expectPrimary?: LabHostName;
}

export interface ScenarioResult {
  primary: LabHostName;
  timeToWritableMs: number | undefined;
  acked: number;
  lost: number[];
  report: AgentReport;
}

/** Whether the host holds the primary VIP (or `address`). */
export const holdsVip = holdsAddress;

/** psql on a lab host (kept under this name for the stories). */
export const psql = labPsql;

export async function untilStates(
  state: NetnsLabState,
  wanted: Record<LabHostName, string>,
  timeoutMs: number,
): Promise<void> {
  await waitUntil(
    `supervisors report host1 ${wanted.host1}, host2 ${wanted.host2}`,
    async () => {
      const [one, two] = await Promise.all([
        supervisorState(state, 'host1'),
        supervisorState(state, 'host2'),
      ]);
      return one?.state === wanted.host1 && two?.state === wanted.host2;
    },
    timeoutMs,
    250,
  );
}

/**
 * From the fault to the end of the outage it caused: the first acknowledgement after the first
 * gap of more than 10 write periods from then on. Writes already in flight (a power-off or a
 * freeze takes a moment to carry out) may still be acknowledged just after the fault; they do
 * not end the outage.
 */
function timeToWritable(report: AgentReport, faultAt: number): number | undefined {
  return timeToWritableOf(
    report.acked.map((id) => report.ackTimes.get(id) ?? 0),
    faultAt,
  );
}

/** From the fault to the first acknowledged write after the gap it caused (over 200 ms). */
export function timeToWritableOf(ackTimes: number[], faultAt: number): number | undefined {
  const times = [...ackTimes].sort((a, b) => a - b);
  const before = times.filter((t) => t <= faultAt);
  let previous = before.length === 0 ? faultAt : Math.max(...before);
  for (const t of times.filter((time) => time > faultAt)) {
    if (t - previous > 200) return t - faultAt;
    previous = t;
  }
  return undefined;
}

export async function runScenario(
  state: NetnsLabState,
  t: TestContext,
  scenario: Scenario,
): Promise<ScenarioResult> {
  if (scenario.mode === 'sync') {
    const text = await readFile(state.configPath, 'utf8');
    await writeFile(state.configPath, text.replace('mode: async', 'mode: sync'));
  }
  await startSupervisors(state);
  try {
    await untilStates(state, { host1: 'primary', host2: 'standby' }, 30_000);
    await waitUntil('host1 holds the primary VIP', () => holdsVip(state, 'host1'), 10_000);
    if (scenario.mode === 'sync') {
      await waitUntil(
        'host2 is the synchronous standby',
        async () =>
          (await psql(state, 'host1', 'select sync_state from pg_stat_replication')) === 'sync',
        15_000,
      );
    }
    const agent = await ClientAgent.start(state);
    await sleep(2000);
    const faultAt = Date.now();
    await scenario.fault(state);
    // A sample begun while the fault was still being carried out (a loaded machine takes a
    // while to deliver a kill or a power-off) can show the old primary: count only later ones.
    const faultDoneAt = Date.now();
    if (scenario.outageMs !== undefined) {
      await sleep(scenario.outageMs);
      await scenario.heal?.(state);
    }
    await waitUntil(
      'a write is acknowledged through the VIP after the fault',
      () => {
        const report = agent.report();
        return Promise.resolve(
          report.acked.some((id) => (report.ackTimes.get(id) ?? 0) > faultAt + 100)
            ? true
            : undefined,
        );
      },
      90_000,
    );
    // Who leads is what clients see: the one host answering a new connection as a primary.
    // (A host cut off or about to be fenced may still believe it is the primary.)
    const primary = await waitUntil(
      'the client sees exactly one primary',
      () => {
        const latest = agent.report().samples.at(-1);
        if (latest === undefined || latest.t <= faultDoneAt) return Promise.resolve(undefined);
        const leaders = state.hosts.filter((host) => latest.roles[host.address] === 'primary');
        return Promise.resolve(leaders.length === 1 ? leaders[0]?.name : undefined);
      },
      60_000,
    );
    const standby: LabHostName = primary === 'host1' ? 'host2' : 'host1';
    if (scenario.expectPrimary !== undefined) assert.equal(primary, scenario.expectPrimary);
    if (scenario.outageMs === undefined) await scenario.heal?.(state);
    // A fenced host is powered off: power it on; boot starts its supervisor, which rejoins.
    if ((await namespacePids(state.netns[standby])).length === 0) await powerOn(state, standby);
    await untilStates(
      state,
      primary === 'host1'
        ? { host1: 'primary', host2: 'standby' }
        : { host1: 'standby', host2: 'primary' },
      120_000,
    );
    await waitUntil(
      `${standby} streams from ${primary}`,
      async () =>
        (await psql(state, standby, 'select status from pg_stat_wal_receiver')) === 'streaming',
      60_000,
    );
    await waitUntil(`${primary} holds the primary VIP`, () => holdsVip(state, primary), 10_000);
    const report = await agent.stop();

    assert.deepEqual(splitBrainSamples(report), [], 'never two writable primaries at one sample');
    assert.equal(await holdsVip(state, standby), false, `${standby} does not hold the primary VIP`);
    const present = new Set(
      (await psql(state, primary, 'select id from agent_writes'))
        .split('\n')
        .filter(Boolean)
        .map(Number),
    );
    const lost = report.acked.filter((id) => !present.has(id));
    const result = {
      primary,
      timeToWritableMs: timeToWritable(report, faultAt),
      acked: report.acked.length,
      lost,
      report,
    };
    for (const host of ['host1', 'host2'] as const) {
      const rules = (await readSupervisorLog(state, host))
        .filter((line) => line.event === 'decision')
        .map((line) => line.rule);
      t.diagnostic(`${host} decisions: ${rules.join(' > ')}`);
    }
    t.diagnostic(
      `${primary} leads; time to writable ${String(result.timeToWritableMs)}ms; ${result.acked} writes acknowledged, ${lost.length} lost; ${report.samples.length} samples`,
    );
    return result;
  } catch (error) {
    await printSupervisorLogs(state);
    throw error;
  }
}

/** The lab and its logs are gone after a failed test: print the supervisors' last lines. */
export async function printSupervisorLogs(state: NetnsLabState): Promise<void> {
  for (const host of ['host1', 'host2'] as const) {
    const lines = await readSupervisorLog(state, host);
    process.stderr.write(`--- supervisor log of ${host} (last 40 lines)\n`);
    for (const line of lines.slice(-40)) process.stderr.write(`${JSON.stringify(line)}\n`);
  }
  // "pg_ctl failed: Examine the log output" says nothing without the server's own lines.
  for (const host of state.hosts) {
    const logDir = join(host.dataDir, 'log');
    const collected = (await readdir(logDir).catch(() => [] as string[]))
      .filter((name) => name.endsWith('.log'))
      .map((name) => join(logDir, name));
    for (const path of [host.logFile, ...collected]) {
      const text = await readFile(path, 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      process.stderr.write(`--- ${host.name} server log ${path} (last 30 lines)\n`);
      process.stderr.write(`${text.trimEnd().split('\n').slice(-30).join('\n')}\n`);
    }
  }
}

/** Freezes host1's database (netns-faults.ts freezePostgres); returns the PIDs, for SIGCONT. */
export function freezePostgres(state: NetnsLabState): Promise<number[]> {
  return freezeLabPostgres(state, 'host1');
}

/** Sends `name` to each PID that is still there (a powered-off host's are gone). */
export function signalPids(pids: number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name);
    } catch {
      // gone already (the host was powered off)
    }
  }
}

/** The four faults every deployment shape must survive, told as scenarios (host1 leads first). */
export function standardFaults(): { name: string; scenario: Scenario }[] {
  let frozen: number[] = [];
  let frozenAt = 0;
  return [
    {
      name: 'kill -9 of the postmaster',
      scenario: { fault: (state) => killPostgres(state, 'host1').then(() => undefined) },
    },
    {
      name: 'power-off',
      scenario: { fault: (state) => powerOff(state, 'host1'), expectPrimary: 'host2' },
    },
    {
      name: 'network partition of the primary',
      scenario: {
        fault: (state) => linkDown(state, 'host1'),
        heal: (state) => linkUp(state, 'host1'),
        expectPrimary: 'host2',
      },
    },
    {
      name: 'the database frozen for 30 s',
      scenario: {
        fault: async (state) => {
          frozenAt = Date.now();
          frozen = await freezePostgres(state);
        },
        heal: async () => {
          await sleep(Math.max(0, frozenAt + 30_000 - Date.now()));
          signalPids(frozen, 'SIGCONT');
        },
        expectPrimary: 'host2',
      },
    },
  ];
}
