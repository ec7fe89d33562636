// What the heartbeat role may do on a real pair (docs/security.md, "Database roles"): write the
// beat and nothing else. Each test replays an attack of the security review (C1, H3, M6) as
// that role and checks both that it is refused and that no skypg read gives it more.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { observeLag } from '../../src/lib/checks/lag.js';
import type { ClusterConfig } from '../../src/lib/config/types.js';
import { surveyNodes } from '../../src/lib/doctor/context.js';
import { checkRoles } from '../../src/lib/doctor/pg-checks.js';
import { initHeartbeat } from '../../src/lib/heartbeat/init.js';
import { heartbeatDbTarget } from '../../src/lib/heartbeat/targets.js';
import { localTarget, withConnection } from '../../src/lib/pg/connect.js';
import { runSkypg } from '../support/cli.js';
import { useLoopbackLab, type TestLab } from '../support/lab.js';
import { isSuperuserRole, labNode, sql } from '../support/lab-control.js';
import { waitUntil } from '../support/wait.js';

const role = 'sky_pg_cluster';

/** The view swap of review C1: a view whose function makes its caller's role a superuser. */
const viewSwap = [
  `create function skypg.pwn() returns bool language plpgsql as $$ begin
     if (select rolsuper from pg_roles where rolname = current_user) then
       execute 'alter role ${role} superuser'; end if; return true; end $$`,
  'alter table skypg.cluster_status rename to cluster_status_real',
  'create view skypg.cluster_status as select r.*, skypg.pwn() from skypg.cluster_status_real r',
];

/** Runs each statement as the heartbeat role; returns the error of each (undefined: it ran). */
async function asHeartbeatRole(
  config: ClusterConfig,
  lab: TestLab,
  statements: string[],
): Promise<(string | undefined)[]> {
  const errors: (string | undefined)[] = [];
  await withConnection(
    heartbeatDbTarget(config, labNode(lab, 'host1'), 'heartbeat', 'socket'),
    async (session) => {
      for (const statement of statements) {
        errors.push(
          await session.query(statement).then(
            () => undefined,
            (error: unknown) => (error instanceof Error ? error.message : String(error)),
          ),
        );
      }
    },
  );
  return errors;
}

describe('heartbeat roles: the heartbeat role writes the beat and nothing else', () => {
  const lab = useLoopbackLab();
  const skypg = (...args: string[]) =>
    runSkypg(args, { env: { SKYPG_CONFIG: lab().state.configPath } });
  /** Every read skypg makes of the row: both supervisors, and promote's lag check. */
  const readEverywhere = async (): Promise<void> => {
    for (const node of ['host1', 'host2']) {
      await skypg('supervisor', '--once', '--dry-run', '--node', node);
    }
    await skypg('promote', '--dry-run', '--node', 'host2');
  };

  it('C1: the view swap is refused, and no supervisor or promote read runs its code as superuser', async () => {
    const errors = await asHeartbeatRole(lab().config, lab(), viewSwap);
    // The standby replays whatever the attack managed to do before the reads there.
    await waitUntil('host2 replays the primary', async () => {
      const [row] = await sql<{ ok: boolean }>(
        labNode(lab(), 'host2'),
        'select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok',
        [
          (
            await sql<{ lsn: string }>(
              labNode(lab(), 'host1'),
              'select pg_current_wal_lsn()::text as lsn',
            )
          )[0]?.lsn,
        ],
      );
      return row?.ok === true ? true : undefined;
    });
    await readEverywhere();
    assert.equal(
      await isSuperuserRole(lab(), role),
      false,
      'the heartbeat role became a superuser',
    );
    // The function and the rename are refused; the view then has nothing to stand on.
    for (const [index, error] of errors.entries()) {
      assert.match(
        error ?? 'it ran',
        index < 2 ? /permission denied|must be owner/ : /./,
        viewSwap[index],
      );
    }
  });

  it('H3: the heartbeat role may not write switchover, pause or degrade state, only the beat', async () => {
    const statements = [
      // The review's repro: an older table had no switchover columns until a switchover ran.
      'alter table skypg.cluster_status add column if not exists switchover_to text, add column if not exists switchover_by text, add column if not exists switchover_at timestamptz, add column if not exists switchover_timeout_ms bigint, add column if not exists switchover_phase text',
      "update skypg.cluster_status set switchover_to = 'host2', switchover_by = 'attacker', switchover_at = now(), switchover_timeout_ms = 9000000000000, switchover_phase = 'handover'",
      "update skypg.cluster_status set paused_by = 'attacker', paused_at = now()",
      'update skypg.cluster_status set sync_degraded_at = null',
      'update skypg.cluster_status set last_alive = now(), rep_lag = 0',
    ];
    const errors = await asHeartbeatRole(lab().config, lab(), statements);
    for (const [index, error] of errors.slice(0, 4).entries()) {
      assert.match(error ?? 'it ran', /permission denied|must be owner/, statements[index]);
    }
    assert.equal(errors[4], undefined, 'the beat columns stay writable');
    const loop = await skypg('supervisor', '--once', '--dry-run', '--node', 'host1');
    assert.match(loop.stdout, /"rule":"primary-healthy"|"state":"primary"/);
    assert.doesNotMatch(loop.stdout, /hand-over/);
  });

  it('a switchover timeout above the 10 min ceiling is not obeyed, even written by the superuser', async () => {
    const primary = labNode(lab(), 'host1');
    await sql(
      primary,
      "update skypg.cluster_status set switchover_to = 'host2', switchover_by = 'dba', switchover_at = now(), switchover_timeout_ms = 9000000000000, switchover_phase = 'handover'",
      [],
      'sky_pg_cluster',
    );
    try {
      const loop = await skypg('supervisor', '--once', '--dry-run', '--node', 'host1');
      assert.match(loop.stdout, /"rule":"primary-healthy"/);
      assert.doesNotMatch(loop.stdout, /hand-over|switchover/);
    } finally {
      await sql(
        primary,
        'update skypg.cluster_status set switchover_to = null, switchover_by = null, switchover_at = null, switchover_timeout_ms = null, switchover_phase = null',
        [],
        'sky_pg_cluster',
      );
    }
    const refused = await skypg('switchover', '--timeout', '11m', '--node', 'host2');
    assert.notEqual(refused.code, 0, refused.stderr);
    assert.match(
      refused.stderr,
      /--timeout 11m is above the 10m the supervisors stand aside at most/,
    );
  });

  it('M6: the heartbeat role cannot read the query text of another session', async () => {
    const secret = 'App-Secret-123';
    await withConnection(localTarget(labNode(lab(), 'host1')), async (other) => {
      await other.query(`select '${secret}' as password`);
      const seen = await withConnection(
        heartbeatDbTarget(lab().config, labNode(lab(), 'host1'), 'heartbeat', 'socket'),
        (session) =>
          session.query<{ query: string }>(
            "select query from pg_stat_activity where usename = 'postgres' and pid <> pg_backend_pid()",
          ),
      );
      assert.ok(seen.length > 0, 'the other session is listed');
      for (const row of seen) assert.doesNotMatch(row.query, new RegExp(secret));
    });
  });

  it('an old install the role owns: reads refuse it, and heartbeat init takes it back', async () => {
    const primary = labNode(lab(), 'host1');
    await withConnection(localTarget(primary, { database: 'sky_pg_cluster' }), async (session) => {
      await session.query(`alter schema skypg owner to ${role}`);
      await session.query(`alter table skypg.cluster_status owner to ${role}`);
    });
    const errors = await asHeartbeatRole(lab().config, lab(), viewSwap);
    assert.deepEqual(errors, [undefined, undefined, undefined], 'an owner may swap the table');
    await readEverywhere();
    assert.equal(
      await isSuperuserRole(lab(), role),
      false,
      'the heartbeat role became a superuser',
    );
    const pause = await skypg('pause', '--reason', 'test');
    assert.notEqual(pause.code, 0);
    assert.match(pause.stderr, /not a table owned by a superuser.*heartbeat init/s);

    const init = await skypg('heartbeat', 'init', '--node', 'host1');
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /rebuilt schema skypg: schema skypg owned by sky_pg_cluster/);
    const [owner] = await sql<{ relkind: string; owner: string }>(
      primary,
      "select c.relkind::text, pg_get_userbyid(c.relowner) as owner from pg_class c where c.oid = 'skypg.cluster_status'::regclass",
      [],
      'sky_pg_cluster',
    );
    assert.deepEqual(owner, { relkind: 'r', owner: 'postgres' });
    const again = await skypg('heartbeat', 'init', '--node', 'host1');
    assert.doesNotMatch(again.stdout, /rebuilt/, 'idempotent: a second run changes nothing');
    await waitUntil('host2 follows with the rebuilt row', async () => {
      const run = await skypg('supervisor', '--once', '--node', 'host2');
      return /"rule":"standby-following"/.test(run.stdout) ? run : undefined;
    });
  });

  it('a monitoring role reads the row and the replication views, and writes nothing', async () => {
    const monitor = 'sky_pg_monitor';
    const config = {
      ...lab().config,
      heartbeat: { ...lab().config.heartbeat, monitor_user: monitor },
    };
    await initHeartbeat(config, labNode(lab(), 'host1'));
    await withConnection(
      localTarget(labNode(lab(), 'host1'), { database: 'sky_pg_cluster' }),
      async (session) => {
        await session.query(`set role ${monitor}`);
        const [row] = await session.query<{ writer: string }>(
          'select writer from skypg.cluster_status',
        );
        assert.equal(row?.writer, 'host1');
        const [standby] = await session.query<{ state: string | null }>(
          'select state from skypg.pg_stat_replication',
        );
        assert.equal(standby?.state, 'streaming');
        await assert.rejects(
          session.query('update skypg.cluster_status set last_alive = now()'),
          /permission denied/,
        );
      },
    );
    // check-lag logs in as the monitoring role and still sees the replication views in full.
    const primaryView = await observeLag(config, labNode(lab(), 'host1'), 2000);
    assert.equal(primaryView.view === 'primary' && primaryView.standby?.state, 'streaming');
    const standbyView = await observeLag(config, labNode(lab(), 'host2'), 2000);
    assert.equal(standbyView.view === 'standby' && standbyView.receiverStatus, 'streaming');
  });

  it("doctor's roles check holds the roles to this model, and heartbeat init restores it", async () => {
    const local = labNode(lab(), 'host1');
    const roles = async () =>
      checkRoles({
        config: lab().config,
        local,
        version: 'test',
        survey: await surveyNodes(lab().config, local),
      });
    const healthy = await roles();
    assert.equal(healthy.status, 'ok', healthy.found);
    await sql(local, `grant pg_monitor to ${role}`);
    await sql(local, `grant temporary on database sky_pg_cluster to ${role}`);
    const excess = await roles();
    assert.equal(excess.status, 'fail');
    assert.match(excess.found, /can read other sessions' query text/);
    assert.match(excess.found, /may create temporary tables/);
    assert.match(excess.fix ?? '', /skypg heartbeat init/);
    await initHeartbeat(lab().config, local);
    assert.equal((await roles()).status, 'ok');
  });
});
