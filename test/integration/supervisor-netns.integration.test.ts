// Failover scenarios with both supervisors running for real in the multi-host lab, a client
// writing numbered rows through the primary VIP and sampling every host with new connections.
// Each checks the invariants: never two writable primaries, the VIP on one node, final roles.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  execIn,
  killPostgres,
  powerOn,
  type LabHostName,
  type NetnsLabState,
} from '../../src/lib/lab/netns-lab.js';
import {
  ClientAgent,
  readSupervisorLog,
  splitBrainSamples,
  startSupervisors,
  supervisorState,
  type AgentReport,
} from '../support/cluster-watch.js';
import { netnsLabSkipReason, useNetnsLab } from '../support/netns.js';
import { waitUntil } from '../support/wait.js';

const skip = await netnsLabSkipReason();

async function holdsVip(
  state: NetnsLabState,
  host: LabHostName,
  address: string,
): Promise<boolean> {
  const result = await execIn(state, host, 'ip', ['-o', 'addr', 'show', 'dev', 'eth0'], {
    allowFailure: true,
  });
  return result.stdout.includes(` ${address}/`);
}

async function untilStates(
  state: NetnsLabState,
  host1: string,
  host2: string,
  timeoutMs: number,
): Promise<void> {
  await waitUntil(
    `supervisors report host1 ${host1}, host2 ${host2}`,
    async () => {
      const [one, two] = await Promise.all([
        supervisorState(state, 'host1'),
        supervisorState(state, 'host2'),
      ]);
      return one?.state === host1 && two?.state === host2;
    },
    timeoutMs,
    250,
  );
}

async function receiverStreaming(state: NetnsLabState, host: LabHostName): Promise<boolean> {
  const index = host === 'host1' ? 0 : 1;
  const out = await execIn(
    state,
    host,
    `${state.binDir}/psql`,
    [
      '-X',
      '-At',
      '-h',
      state.hosts[index].socketDir,
      '-U',
      'postgres',
      '-c',
      'select status from pg_stat_wal_receiver',
    ],
    { asUser: state.osUser, allowFailure: true },
  );
  return out.stdout.trim() === 'streaming';
}

function timeToWritable(report: AgentReport, faultAt: number): number | undefined {
  const after = report.acked.map((id) => report.ackTimes.get(id) ?? 0).filter((t) => t > faultAt);
  const lastBefore = Math.max(
    ...report.acked.map((id) => report.ackTimes.get(id) ?? 0).filter((t) => t <= faultAt),
  );
  const firstAfterGap = after.find((t) => t - lastBefore > 300 || t - faultAt > 300);
  return firstAfterGap === undefined ? undefined : firstAfterGap - faultAt;
}

describe('supervisor: the primary database is killed (kill -9 of the postmaster)', { skip }, () => {
  const lab = useNetnsLab();

  it('one primary again, the VIP on it, the other streaming; never two writable primaries', async (t: TestContext) => {
    const state = lab().state;
    await withLogsOnFailure(state, () => killScenario(state, t));
  });
});

/** A failed scenario prints both supervisors' logs: the lab (and its logs) is gone afterwards. */
async function withLogsOnFailure(
  state: NetnsLabState,
  scenario: () => Promise<void>,
): Promise<void> {
  try {
    await scenario();
  } catch (error) {
    for (const host of ['host1', 'host2'] as const) {
      const lines = await readSupervisorLog(state, host);
      process.stderr.write(`--- supervisor log of ${host} (last 40 lines)\n`);
      for (const line of lines.slice(-40)) process.stderr.write(`${JSON.stringify(line)}\n`);
    }
    throw error;
  }
}

async function killScenario(state: NetnsLabState, t: TestContext): Promise<void> {
  {
    await startSupervisors(state);
    await untilStates(state, 'primary', 'standby', 30_000);
    await waitUntil(
      'host1 holds the primary VIP',
      () => holdsVip(state, 'host1', '10.231.0.130'),
      10_000,
    );
    const agent = await ClientAgent.start(state);
    await sleep(2000);

    const faultAt = Date.now();
    await killPostgres(state, 'host1');
    const ackedAfterFault = (): Promise<true | undefined> => {
      const report = agent.report();
      const seen = report.acked.some((id) => (report.ackTimes.get(id) ?? 0) > faultAt + 100);
      return Promise.resolve(seen ? true : undefined);
    };
    await waitUntil(
      'a write is acknowledged through the VIP after the fault',
      ackedAfterFault,
      60_000,
    );
    // Two outcomes are correct: host1 restarts as a standby fast enough to be seen as one and,
    // being furthest ahead, leads again (no data lost); or host2 declares it failed first,
    // fences it and promotes. In the second case host1 is powered off: power it on, and boot
    // starts its supervisor, which rejoins.
    const primary = await waitUntil(
      'one supervisor reports primary',
      async () => {
        const [one, two] = await Promise.all([
          supervisorState(state, 'host1'),
          supervisorState(state, 'host2'),
        ]);
        return one?.state === 'primary' ? 'host1' : two?.state === 'primary' ? 'host2' : undefined;
      },
      30_000,
    );
    const standby = primary === 'host1' ? 'host2' : 'host1';
    if (primary === 'host2') await powerOn(state, 'host1');
    await untilStates(
      state,
      primary === 'host1' ? 'primary' : 'standby',
      primary === 'host1' ? 'standby' : 'primary',
      120_000,
    );
    await waitUntil(
      `${standby} streams from ${primary}`,
      () => receiverStreaming(state, standby),
      60_000,
    );
    const report = await agent.stop();

    assert.deepEqual(splitBrainSamples(report), [], 'never two writable primaries');
    await waitUntil(
      `${primary} holds the primary VIP`,
      () => holdsVip(state, primary, '10.231.0.130'),
      10_000,
    );
    assert.ok(
      !(await holdsVip(state, standby, '10.231.0.130')),
      `${standby} does not hold the primary VIP`,
    );
    const log = await readSupervisorLog(state, primary);
    assert.ok(
      log.some((line) => line.rule === 'standby-promote'),
      `${primary} logged its decision to promote`,
    );
    assert.ok(log.some((line) => line.action === 'promote' && line.result === 'ok'));
    t.diagnostic(`outcome: ${primary} leads`);
    for (const host of ['host1', 'host2'] as const) {
      const rules = (await readSupervisorLog(state, host))
        .filter((line) => line.event === 'decision')
        .map((line) => line.rule);
      t.diagnostic(`${host} decisions: ${rules.join(' > ')}`);
    }
    const writable = timeToWritable(report, faultAt);
    t.diagnostic(
      `time to writable after kill -9 of the primary: ${String(writable)}ms; ${report.acked.length} writes acknowledged, ${report.samples.length} samples`,
    );
  }
}
