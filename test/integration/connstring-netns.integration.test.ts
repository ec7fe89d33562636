// `skypg connstring` run in the lab's client machine, and psql with what it printed, across one
// failover: the same read-write URI writes on host1, then (host1 powered off, host2 promoted)
// on host2, with no VIP involved; the standby URI reaches the standby while there is one.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startSupervisors } from '../../src/lib/lab/lab-cluster.js';
import { execIn, powerOff, type NetnsLabState } from '../../src/lib/lab/netns-lab.js';
import { printSupervisorLogs, psql, untilStates } from '../support/failover-scenario.js';
import { netnsLabSkipReason, useNetnsLab } from '../support/netns.js';
import { waitUntil } from '../support/wait.js';

const skip = await netnsLabSkipReason();
const skypgBin = join(import.meta.dirname, '..', '..', 'bin', 'run.js');

/** `skypg connstring --json` in the client machine, as an application's host would run it. */
async function connstring(state: NetnsLabState, args: string[]): Promise<string> {
  const run = await execIn(state, 'client', process.execPath, [
    skypgBin,
    'connstring',
    '--config',
    state.configPath,
    '--user',
    'postgres',
    '--json',
    ...args,
  ]);
  return (JSON.parse(run.stdout) as { uri: string }).uri;
}

/** psql in the client machine with a URI; its output, or its error when it fails. */
async function psqlVia(
  state: NetnsLabState,
  uri: string,
  sql: string,
): Promise<{ ok: boolean; out: string }> {
  const run = await execIn(
    state,
    'client',
    'timeout',
    [
      '-k',
      '1',
      '10',
      join(state.binDir, 'psql'),
      '-X',
      '-At',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      sql,
      uri,
    ],
    { env: { PGPASSFILE: state.passfile }, allowFailure: true },
  );
  return { ok: run.exitCode === 0, out: (run.exitCode === 0 ? run.stdout : run.stderr).trim() };
}

async function mustVia(state: NetnsLabState, uri: string, sql: string): Promise<string> {
  const answer = await psqlVia(state, uri, sql);
  assert.ok(answer.ok, `psql ${uri} -c "${sql}": ${answer.out}`);
  return answer.out;
}

describe('skypg connstring across a failover', { skip }, () => {
  const lab = useNetnsLab();

  it('the read-write URI writes on host1, then on host2 once host1 lost power', async () => {
    const state = lab().state;
    const [host1, host2] = [state.hosts[0].address, state.hosts[1].address];
    try {
      await startSupervisors(state);
      await untilStates(state, { host1: 'primary', host2: 'standby' }, 30_000);

      const readWrite = await connstring(state, []);
      const [dotted1, dotted2] = [host1, host2].map((address) => address.replaceAll('.', '\\.'));
      assert.match(
        readWrite,
        new RegExp(
          `^postgresql://postgres@${dotted1 ?? ''}:5432,${dotted2 ?? ''}:5432/postgres\\?target_session_attrs=read-write&connect_timeout=\\d+$`,
        ),
      );
      const standby = await connstring(state, ['--target', 'standby']);
      assert.match(standby, /target_session_attrs=standby/);
      // libpq skips the primary for this one (psql here is PostgreSQL 14 or newer).
      assert.equal(
        await mustVia(state, standby, 'select inet_server_addr(), pg_is_in_recovery()'),
        `${host2}|t`,
      );

      await mustVia(
        state,
        readWrite,
        'create table connstring_rows (id serial primary key, server inet default inet_server_addr())',
      );
      for (let row = 0; row < 3; row += 1)
        await mustVia(state, readWrite, 'insert into connstring_rows default values');
      assert.equal(
        await mustVia(state, readWrite, 'select inet_server_addr(), pg_is_in_recovery()'),
        `${host1}|f`,
      );
      // Asynchronous replication: the rows must be on host2 before host1 goes, so that the
      // count after the failover says where the new row went and that nothing was lost.
      await waitUntil(
        'host2 replays the three rows',
        async () => (await psql(state, 'host2', 'select count(*) from connstring_rows')) === '3',
        15_000,
        200,
      );

      await powerOff(state, 'host1');
      // Until host2 is promoted libpq finds no read-write host; the same URI, retried.
      await waitUntil(
        'an insert through the read-write URI succeeds after the power-off',
        async () =>
          (await psqlVia(state, readWrite, 'insert into connstring_rows default values')).ok,
        90_000,
        250,
      );
      assert.equal(
        await mustVia(state, readWrite, 'select inet_server_addr(), pg_is_in_recovery()'),
        `${host2}|f`,
      );
      assert.equal(
        await mustVia(
          state,
          readWrite,
          'select count(*), count(*) filter (where server = inet_server_addr()) from connstring_rows',
        ),
        '4|1',
      );
      // No standby is left: the standby URI finds none and says so instead of settling for
      // the primary.
      const noStandby = await psqlVia(state, standby, 'select 1');
      assert.equal(noStandby.ok, false);
      assert.match(noStandby.out, /server is not in hot standby mode|timeout expired|Connection/);
    } catch (error) {
      await printSupervisorLogs(state);
      throw error;
    }
  });
});
