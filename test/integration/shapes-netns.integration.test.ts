// The pairs operators have, not only the one our lab builds: the example configuration as
// printed (no postgres.log_file), a pair built by hand (pg_basebackup -R with a slot, the OS
// user's ~/.pgpass, logging_collector, archiving), and Debian's layout (postgresql.conf out of
// the data directory). Each goes through the four standard faults with both supervisors
// running; where a shape cannot be driven, the supervisor refuses to start in one line.
import assert from 'node:assert/strict';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { LabShape } from '../../src/lib/lab/lab-shapes.js';
import type { LabHostName, NetnsLabState } from '../../src/lib/lab/netns-lab.js';
import { runSkypgOn } from '../support/cli.js';
import {
  psql,
  runScenario,
  standardFaults,
  type ScenarioResult,
} from '../support/failover-scenario.js';
import { netnsLabSkipReason, useNetnsLab } from '../support/netns.js';
import { waitUntil } from '../support/wait.js';

const skip = await netnsLabSkipReason();

const other = (host: LabHostName): LabHostName => (host === 'host1' ? 'host2' : 'host1');

interface DoctorCheck {
  id: string;
  node?: string;
  status: string;
  found: string;
  fix?: string;
}

/** doctor's result for one check on host2, as host2 runs it. */
async function doctorCheck(
  state: NetnsLabState,
  id: string,
  configPath = state.configPath,
): Promise<DoctorCheck | undefined> {
  const run = await runSkypgOn(state, 'host2', ['doctor', '--json'], configPath);
  const report = JSON.parse(run.stdout) as { results: DoctorCheck[] };
  return report.results.find((result) => result.id === id && result.node === 'host2');
}

/** What each shape must still look like after the story, beyond runScenario's invariants. */
const shapeChecks: Record<
  Exclude<LabShape, 'lab'>,
  (state: NetnsLabState, result: ScenarioResult) => Promise<void>
> = {
  example: async (state) => {
    const text = await readFile(state.configPath, 'utf8');
    assert.doesNotMatch(text, /log_file/, 'the example configuration sets no postgres.log_file');
  },
  'by-hand': async (state, result) => {
    const standby = other(result.primary);
    // The new primary made a slot for its standby, which streams through it...
    await waitUntil(
      `${standby} streams through slot ${standby} on ${result.primary}`,
      async () =>
        (await psql(
          state,
          result.primary,
          `select active from pg_replication_slots where slot_name = '${standby}'`,
        )) === 't',
      30_000,
    );
    // ...and no slot of the old topology is left to hold WAL on the standby.
    assert.equal(
      await psql(state, standby, 'select count(*) from pg_replication_slots'),
      '0',
      `${standby} keeps no replication slot`,
    );
  },
  debian: async (state) => {
    for (const host of state.hosts) {
      await assert.rejects(
        access(join(host.dataDir, 'postgresql.conf')),
        `${host.name}'s data directory stays without postgresql.conf`,
      );
    }
  },
};

for (const shape of ['example', 'by-hand', 'debian'] as const) {
  for (const [index, { name, scenario }] of standardFaults().entries()) {
    describe(`${shape} pair: ${name}`, { skip }, () => {
      const lab = useNetnsLab({ shape });
      if (index === 0 && shape === 'by-hand') {
        it('the supervisor refuses a slot the configuration does not name, in one line', async () => {
          const state = lab().state;
          const text = await readFile(state.configPath, 'utf8');
          const withoutSlot = join(state.dir, 'no-slot.yaml');
          await writeFile(withoutSlot, text.replace(', slot: "{node}"', ''));
          const run = await runSkypgOn(state, 'host2', ['supervisor', '--once'], withoutSlot);
          assert.equal(run.code, 1, run.stdout + run.stderr);
          assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
          assert.match(
            run.stderr,
            /^skypg: not supervising host2: host2 streams through replication slot host2 \(primary_slot_name in .*postgresql\.auto\.conf\) but replication\.slot is not set.*\(hint: set replication\.slot to '\{node\}'/,
          );
          // doctor says the same before anything runs, and is content with the slot named.
          const refused = await doctorCheck(state, 'slots', withoutSlot);
          assert.equal(refused?.status, 'fail', JSON.stringify(refused));
          assert.match(refused?.fix ?? '', /set replication\.slot to '\{node\}'/);
          assert.equal((await doctorCheck(state, 'slots'))?.status, 'ok');
        });
      }
      if (index === 0 && shape === 'debian') {
        it('the supervisor refuses a start.conf of auto, in one line', async () => {
          const state = lab().state;
          const startConf = join(
            state.hosts[1].configDir ?? assert.fail('no config dir'),
            'start.conf',
          );
          await writeFile(startConf, '# Automatic startup\nauto\n');
          try {
            const run = await runSkypgOn(state, 'host2', ['supervisor', '--once']);
            assert.equal(run.code, 1, run.stdout + run.stderr);
            assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
            assert.match(
              run.stderr,
              /start\.conf says auto: .*\(hint: write manual into .*start\.conf/,
            );
            const bootStart = await doctorCheck(state, 'boot-start');
            assert.equal(bootStart?.status, 'fail', JSON.stringify(bootStart));
          } finally {
            await writeFile(startConf, 'manual\n');
          }
        });
      }
      it('one primary again with the VIP, writes through it, the old primary rejoins, never two writable primaries', async (t: TestContext) => {
        const state = lab().state;
        const result = await runScenario(state, t, scenario);
        t.diagnostic(
          `shape ${shape}, fault ${name}: writable through the VIP ${String(result.timeToWritableMs)} ms after the fault`,
        );
        await shapeChecks[shape](state, result);
      });
    });
  }
}
