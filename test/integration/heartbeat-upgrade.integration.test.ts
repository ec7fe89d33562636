// An old install, built the way skypg's heartbeat init built it before issue 14 (the heartbeat
// role owns schema skypg, the table, its guard function and triggers; pg_monitor, TEMPORARY),
// on a cluster where every role may still create in schema public (PostgreSQL 14 and older, and
// clusters pg_upgrade brought from there). The role attacks from that layout: it pauses the
// cluster, swaps the table for a view that calls a function, and plants a function in public
// that a superuser's unqualified format() would pick. No read of skypg runs its code as a
// superuser or obeys its row, and `heartbeat init` takes the schema back without running it
// or keeping its pause (docs/security.md, "Upgrading an older install").
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { ClusterConfig } from '../../src/lib/config/types.js';
import { timelineSql } from '../../src/lib/heartbeat/table.js';
import { heartbeatDbTarget } from '../../src/lib/heartbeat/targets.js';
import { localTarget, withConnection } from '../../src/lib/pg/connect.js';
import { runSkypg, type CliRun } from '../support/cli.js';
import { useLoopbackLab, type TestLab } from '../support/lab.js';
import { isSuperuserRole, labNode, sql } from '../support/lab-control.js';
import { waitUntil } from '../support/wait.js';

const role = 'sky_pg_cluster';
const database = 'sky_pg_cluster';

/** What the pre-fix init left, run as the superuser in the heartbeat database. */
const preFixLayout = [
  'drop schema skypg cascade',
  `alter role ${role} in database ${database} reset search_path`,
  `grant pg_monitor to ${role}`,
  `grant connect, temporary on database ${database} to ${role}`,
  // The default before PostgreSQL 15, which pg_upgrade keeps.
  'grant create on schema public to public',
  `create schema skypg authorization ${role}`,
  `set role ${role}`,
  `create table skypg.cluster_status (
     id int primary key default 1 check (id = 1), last_alive timestamptz not null,
     writer text not null, timeline int not null, wal_lsn pg_lsn not null, rep_lag bigint,
     replay_lag bigint, standby text, io_checked_at timestamptz, io_error text,
     paused_by text, paused_at timestamptz, sync_degraded_at timestamptz)`,
  `create function skypg.refuse_removal() returns trigger language plpgsql as $$
     begin raise exception 'refused'; end $$`,
  'create trigger refuse_delete before delete on skypg.cluster_status for each row execute function skypg.refuse_removal()',
  'create trigger refuse_truncate before truncate on skypg.cluster_status for each statement execute function skypg.refuse_removal()',
  `insert into skypg.cluster_status (id, last_alive, writer, timeline, wal_lsn)
     select 1, now(), 'host1', ${timelineSql}, pg_current_wal_lsn()`,
  'reset role',
];

/** Whoever runs it: a superuser caller makes the heartbeat role a superuser. */
const escalate = `begin
    if (select rolsuper from pg_catalog.pg_roles where rolname = current_user) then
      execute 'alter role ${role} superuser';
    end if;
    return %RESULT%;
  end`;

/** The attack, as the heartbeat role, from the layout it owns. */
const attack = [
  "update skypg.cluster_status set paused_by = 'attacker', paused_at = now()",
  // A better match than pg_catalog's format(text, variadic "any") for format('...', name, name).
  `create function public.format(text, name, name) returns text language plpgsql
     as $$ ${escalate.replace('%RESULT%', "'looks fine'")} $$`,
  `create function skypg.pwn() returns bool language plpgsql
     as $$ ${escalate.replace('%RESULT%', 'true')} $$`,
  'alter table skypg.cluster_status rename to cluster_status_real',
  'create view skypg.cluster_status as select r.*, skypg.pwn() as pwn from skypg.cluster_status_real r',
];

async function asHeartbeatRole(config: ClusterConfig, lab: TestLab, statements: string[]) {
  await withConnection(
    heartbeatDbTarget(config, labNode(lab, 'host1'), 'heartbeat', 'socket'),
    async (session) => {
      for (const statement of statements) await session.query(statement);
    },
  );
}

/** host2 has replayed all the primary has written. */
async function standbyCaughtUp(lab: TestLab): Promise<void> {
  const [primary] = await sql<{ lsn: string }>(
    labNode(lab, 'host1'),
    'select pg_current_wal_lsn()::text as lsn',
  );
  await waitUntil('host2 replays the primary', async () => {
    const [row] = await sql<{ ok: boolean }>(
      labNode(lab, 'host2'),
      'select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok',
      [primary?.lsn],
    );
    return row?.ok === true ? true : undefined;
  });
}

describe('an old install the heartbeat role owns: not trusted, and taken back by heartbeat init', () => {
  const lab = useLoopbackLab();
  const skypg = (...args: string[]): Promise<CliRun> =>
    runSkypg(args, { env: { SKYPG_CONFIG: lab().state.configPath } });

  before(async () => {
    // One session: `set role` holds for the statements after it.
    await withConnection(localTarget(labNode(lab(), 'host1'), { database }), async (session) => {
      for (const statement of preFixLayout) await session.query(statement);
    });
    await asHeartbeatRole(lab().config, lab(), attack);
    await standbyCaughtUp(lab());
  });

  it("every read ignores or refuses the role's table and runs none of its code as a superuser", async () => {
    const runs: CliRun[] = [];
    for (const node of ['host1', 'host2']) {
      runs.push(await skypg('supervisor', '--once', '--dry-run', '--node', node));
      runs.push(await skypg('heartbeat', 'show', '--node', node));
    }
    runs.push(await skypg('promote', '--dry-run', '--node', 'host2'));
    runs.push(await skypg('check-lag', '--node', 'host2'));
    runs.push(await skypg('status'));
    const doctor = await skypg('doctor', '--node', 'host1', '--json');
    assert.equal(
      await isSuperuserRole(lab(), role),
      false,
      'the heartbeat role became a superuser',
    );

    // The supervisors do not obey the pause the role wrote in its own table.
    for (const run of runs.slice(0, 3).filter((_, index) => index !== 1)) {
      assert.match(run.stdout, /"event":"decision"/, run.stderr);
      assert.doesNotMatch(run.stdout, /"state":"paused"|attacker/);
    }
    const { results } = JSON.parse(doctor.stdout) as {
      results: { id: string; status: string; found: string; fix?: string }[];
    };
    const roles = results.find((result) => result.id === 'roles');
    assert.equal(roles?.status, 'fail', doctor.stdout);
    assert.match(roles.found, /not a table owned by a superuser/);
    assert.match(roles.fix ?? '', /skypg heartbeat init/);

    // The operator's commands refuse in one line that names the fix.
    for (const args of [
      ['pause', '--reason', 'maintenance'],
      ['resume'],
      ['switchover', '--node', 'host2'],
    ]) {
      const run = await skypg(...args);
      assert.notEqual(run.code, 0, `${args.join(' ')}: ${run.stdout}`);
      const lines = run.stderr.trim().split('\n');
      assert.equal(lines.length, 1, run.stderr);
      assert.match(
        lines[0] ?? '',
        /skypg\.cluster_status on host1 is not a table owned by a superuser, so skypg will not use it as one\W.*run 'skypg heartbeat init' on the primary/,
      );
    }
    assert.equal(await isSuperuserRole(lab(), role), false);
  });

  it('heartbeat init takes the schema back without running its code or keeping its pause', async () => {
    const init = await skypg('heartbeat', 'init', '--node', 'host1');
    assert.equal(init.code, 0, init.stderr);
    assert.equal(
      await isSuperuserRole(lab(), role),
      false,
      'init ran the planted function as a superuser',
    );
    assert.match(init.stdout, /rebuilt schema skypg: schema skypg owned by sky_pg_cluster/);
    assert.match(init.stdout, /the pause flag of the old table is not kept/);
    assert.match(
      init.stdout,
      /dropped what sky_pg_cluster made in sky_pg_cluster: function public\.format\(text,name,name\) of sky_pg_cluster/,
    );
    const primary = labNode(lab(), 'host1');
    const [table] = await sql<{ relkind: string; owner: string; paused_by: string | null }>(
      primary,
      `select c.relkind::text, pg_get_userbyid(c.relowner) as owner,
              (select paused_by from skypg.cluster_status) as paused_by
         from pg_class c where c.oid = 'skypg.cluster_status'::regclass`,
      [],
      database,
    );
    assert.deepEqual(table, { relkind: 'r', owner: 'postgres', paused_by: null });
    const [grants] = await sql<{ monitor: boolean; temp: boolean }>(
      primary,
      `select pg_has_role($1, 'pg_monitor', 'member') as monitor,
              has_database_privilege($1, current_database(), 'TEMPORARY') as temp`,
      [role],
      database,
    );
    assert.deepEqual(grants, { monitor: false, temp: false });
    const doctor = await skypg('doctor', '--node', 'host1', '--json');
    const { results } = JSON.parse(doctor.stdout) as { results: { id: string; status: string }[] };
    assert.equal(results.find((result) => result.id === 'roles')?.status, 'ok', doctor.stdout);
    const again = await skypg('heartbeat', 'init', '--node', 'host1');
    assert.doesNotMatch(again.stdout, /rebuilt|dropped|not kept/, 'a second run changes nothing');
    await standbyCaughtUp(lab());
    const loop = await skypg('supervisor', '--once', '--dry-run', '--node', 'host1');
    assert.match(loop.stdout, /"rule":"primary-healthy"/, loop.stdout);
    const pause = await skypg('pause', '--reason', 'after the upgrade');
    assert.equal(pause.code, 0, pause.stderr);
    const resume = await skypg('resume');
    assert.equal(resume.code, 0, resume.stderr);
    assert.equal(await isSuperuserRole(lab(), role), false);
  });
});
