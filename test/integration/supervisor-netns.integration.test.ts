// Failover stories with both supervisors running for real in the multi-host lab (the manual
// procedure's acceptance tests): the database fails, the host loses power, the host's network
// fails, the primary freezes; in async and sync mode. Each story checks the invariants.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { killPostgres, linkDown, linkUp, powerOff } from '../../src/lib/lab/netns-lab.js';
import { ClientAgent, splitBrainSamples, startSupervisors } from '../../src/lib/lab/lab-cluster.js';
import {
  printSupervisorLogs,
  psql,
  runScenario,
  standardFaults,
  untilStates,
} from '../support/failover-scenario.js';
import { waitUntil } from '../support/wait.js';
import { netnsLabSkipReason, useNetnsLab } from '../support/netns.js';

const skip = await netnsLabSkipReason();

describe(
  'failover story: the primary database dies (kill -9 of the postmaster), async',
  { skip },
  () => {
    const lab = useNetnsLab();
    it('one primary again, the VIP on it, the other streaming, never two writable primaries', async (t: TestContext) => {
      await runScenario(lab().state, t, {
        fault: async (state) => {
          await killPostgres(state, 'host1');
        },
      });
    });
  },
);

describe('failover story: the primary database dies, sync mode', { skip }, () => {
  const lab = useNetnsLab();
  it('no acknowledged write is lost', async (t: TestContext) => {
    const result = await runScenario(lab().state, t, {
      mode: 'sync',
      fault: async (state) => {
        await killPostgres(state, 'host1');
      },
    });
    assert.deepEqual(result.lost, [], 'acknowledged writes missing on the new primary');
  });
});

describe('failover story: the primary host loses power', { skip }, () => {
  const lab = useNetnsLab();
  it('host2 takes over; host1 powered on rejoins as a standby', async (t: TestContext) => {
    await runScenario(lab().state, t, {
      fault: (state) => powerOff(state, 'host1'),
      expectPrimary: 'host2',
    });
  });
});

describe("failover story: the primary host's network fails", { skip }, () => {
  const lab = useNetnsLab();
  it('host1 demotes itself, host2 fences it and takes over; host1 rejoins after the repair', async (t: TestContext) => {
    await runScenario(lab().state, t, {
      fault: (state) => linkDown(state, 'host1'),
      heal: (state) => linkUp(state, 'host1'),
      expectPrimary: 'host2',
    });
  });
});

describe(
  'failover story: the primary database freezes for 30 s (SIGSTOP, then SIGCONT)',
  { skip },
  () => {
    const lab = useNetnsLab();
    it('old sessions may hang but new clients are served by host2; no split brain when it thaws', async (t: TestContext) => {
      const freeze = standardFaults().find((fault) => fault.name.includes('frozen'));
      await runScenario(lab().state, t, freeze?.scenario ?? assert.fail('no freeze story'));
    });
  },
);

describe('failover story: both databases die', { skip }, () => {
  const lab = useNetnsLab();
  it('both come back as standbys; the one further ahead leads, the other follows', async (t: TestContext) => {
    await runScenario(lab().state, t, {
      fault: async (state) => {
        await Promise.all([killPostgres(state, 'host1'), killPostgres(state, 'host2')]);
      },
    });
  });
});

describe("failover story: both hosts' networks fail for 10 s", { skip }, () => {
  const lab = useNetnsLab();
  it('the isolated primary demotes itself, the isolated standby does not promote; one primary after the repair', async (t: TestContext) => {
    const result = await runScenario(lab().state, t, {
      fault: async (state) => {
        await Promise.all([linkDown(state, 'host1'), linkDown(state, 'host2')]);
      },
      heal: async (state) => {
        await Promise.all([linkUp(state, 'host1'), linkUp(state, 'host2')]);
      },
      outageMs: 10_000,
    });
    assert.ok(
      (result.timeToWritableMs ?? 0) >= 10_000,
      'nothing was writable while both were cut off',
    );
  });
});

describe('sync mode: the standby is cut off longer than sync_degrade_after', { skip }, () => {
  const lab = useNetnsLab();
  it('writes hang only until the primary drops to async (recorded); sync comes back after the repair', async (t: TestContext) => {
    const state = lab().state;
    const text = await readFile(state.configPath, 'utf8');
    await writeFile(state.configPath, text.replace('mode: async', 'mode: sync'));
    await startSupervisors(state);
    await untilStates(state, { host1: 'primary', host2: 'standby' }, 30_000);
    await waitUntil(
      'host2 is the synchronous standby',
      async () =>
        (await psql(state, 'host1', 'select sync_state from pg_stat_replication')) === 'sync',
      15_000,
    );
    const agent = await ClientAgent.start(state);
    await sleep(1000);
    const cutAt = Date.now();
    await linkDown(state, 'host2');
    await waitUntil(
      'writes are acknowledged again after the cut',
      async () => {
        if (Date.now() - cutAt > 39_000) await printSupervisorLogs(state);
        const report = agent.report();
        return report.acked.some((id) => (report.ackTimes.get(id) ?? 0) > cutAt + 1000)
          ? true
          : undefined;
      },
      40_000,
    );
    const resumedAfter =
      Math.min(
        ...agent
          .report()
          .acked.map((id) => agent.report().ackTimes.get(id) ?? Infinity)
          .filter((at) => at > cutAt + 1000),
      ) - cutAt;
    assert.equal(
      await psql(
        state,
        'host1',
        'select sync_degraded_at is not null from skypg.cluster_status',
        'sky_pg_cluster',
      ),
      't',
    );
    assert.equal(
      await psql(state, 'host1', "select current_setting('synchronous_standby_names')"),
      '',
    );
    await linkUp(state, 'host2');
    await waitUntil(
      'sync is back and the degrade record cleared',
      async () => {
        const syncState = await psql(state, 'host1', 'select sync_state from pg_stat_replication');
        const degraded = await psql(
          state,
          'host1',
          'select sync_degraded_at is null from skypg.cluster_status',
          'sky_pg_cluster',
        );
        return syncState === 'sync' && degraded === 't';
      },
      60_000,
    );
    const report = await agent.stop();
    assert.deepEqual(splitBrainSamples(report), []);
    t.diagnostic(
      `writes resumed ${resumedAfter}ms after the standby was cut off (sync_degrade_after 10s)`,
    );
    assert.ok(resumedAfter >= 9000, 'writes waited for the standby until sync_degrade_after');
  });
});
