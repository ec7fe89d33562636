// The heartbeat on a real pair: idempotent init, the one-row guards, beats seen on the standby,
// the clock-skew-safe age, and the tablespace I/O check.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { beat, showHeartbeat } from '../../src/lib/heartbeat/beat.js';
import { initHeartbeat } from '../../src/lib/heartbeat/init.js';
import { SkypgError } from '../../src/lib/common/errors.js';
import { localTarget, withConnection } from '../../src/lib/pg/connect.js';
import { runSkypg } from '../support/cli.js';
import { useLoopbackLab } from '../support/lab.js';
import { labNode, sql } from '../support/lab-control.js';
import { waitUntil } from '../support/wait.js';

describe('heartbeat', () => {
  const lab = useLoopbackLab();

  it('init is harmless when run again (the lab already ran it)', async () => {
    const run = await runSkypg(['heartbeat', 'init', '--node', 'host1'], {
      env: { SKYPG_CONFIG: lab().state.configPath },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /role sky_pg_cluster exists/);
    assert.match(run.stdout, /heartbeat row exists/);
    const rows = await sql(
      labNode(lab(), 'host1'),
      'select count(*)::int as n from skypg.cluster_status',
      [],
      'sky_pg_cluster',
    );
    assert.deepEqual(rows, [{ n: 1 }]);
  });

  it('the role is least-privilege: no superuser, no pg_monitor, owns nothing', async () => {
    const [row] = await sql<{ rolsuper: boolean; stats: boolean; owns: boolean }>(
      labNode(lab(), 'host1'),
      `select rolsuper, pg_has_role(oid, 'pg_read_all_stats', 'member') as stats,
              exists (select 1 from pg_class where relowner = r.oid) or
              exists (select 1 from pg_namespace where nspowner = r.oid) as owns
         from pg_roles r where rolname = 'sky_pg_cluster'`,
      [],
      'sky_pg_cluster',
    );
    assert.deepEqual(row, { rolsuper: false, stats: false, owns: false });
  });

  it('refuses DELETE and TRUNCATE on the heartbeat table, even by its owner', async () => {
    const node = labNode(lab(), 'host1');
    for (const statement of ['delete from skypg.cluster_status', 'truncate skypg.cluster_status']) {
      await assert.rejects(
        sql(node, statement, [], 'sky_pg_cluster'),
        /the heartbeat table keeps exactly one row/,
      );
    }
  });

  it('init on the standby is refused with a clear error', async () => {
    await assert.rejects(initHeartbeat(lab().config, labNode(lab(), 'host2')), (error: unknown) => {
      assert.ok(error instanceof SkypgError);
      assert.equal(error.code, 'PG_IN_RECOVERY');
      return true;
    });
  });

  it('beat advances last_alive on the primary and the standby sees the new row', async () => {
    const before = await showHeartbeat(lab().config, labNode(lab(), 'host1'));
    const result = await beat(lab().config, labNode(lab(), 'host1'));
    assert.ok(result.written);
    assert.ok(result.row.lastAlive > before.row.lastAlive);
    assert.equal(result.row.writer, 'host1');
    assert.equal(result.row.standby, 'host2');
    assert.equal(typeof result.row.repLag, 'number');
    const seen = await waitUntil('the standby replays the beat', async () => {
      const view = await showHeartbeat(lab().config, labNode(lab(), 'host2'));
      return view.row.lastAlive.getTime() === result.row.lastAlive.getTime() ? view : undefined;
    });
    assert.equal(seen.role, 'standby');
    assert.equal(seen.clockSkewCorrected, true);
    assert.ok(seen.ageSeconds < 5, `age ${seen.ageSeconds}s`);
  });

  it('beat on the standby writes nothing and exits 0', async () => {
    const run = await runSkypg(['heartbeat', 'beat', '--node', 'host2'], {
      env: { SKYPG_CONFIG: lab().state.configPath },
    });
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^host2 is a standby: nothing to write/);
  });

  it('the standby age keeps growing while replay is paused, by the standby clock', async () => {
    const standby = labNode(lab(), 'host2');
    await beat(lab().config, labNode(lab(), 'host1'));
    await sql(standby, 'select pg_wal_replay_pause()');
    try {
      const first = await showHeartbeat(lab().config, standby);
      await new Promise((resolve) => setTimeout(resolve, 1200));
      await beat(lab().config, labNode(lab(), 'host1'));
      const second = await showHeartbeat(lab().config, standby);
      assert.ok(
        second.ageSeconds >= first.ageSeconds + 1,
        `${first.ageSeconds} -> ${second.ageSeconds}`,
      );
    } finally {
      await sql(standby, 'select pg_wal_replay_resume()');
    }
  });

  it('with io_check, writes a table in every tablespace and records the result', async () => {
    const primary = labNode(lab(), 'host1');
    // Both servers share this host's filesystem: an in-place tablespace lives inside each data
    // directory, so the standby's replay of CREATE TABLESPACE does not collide with the primary.
    await withConnection(localTarget(primary), async (session) => {
      await session.query('set allow_in_place_tablespaces = on');
      await session.query("create tablespace skypg_io_test location ''");
    });
    const config = { ...lab().config, heartbeat: { ...lab().config.heartbeat, io_check: true } };
    await initHeartbeat(config, primary);
    const result = await beat(config, primary);
    assert.ok(result.written);
    assert.equal(result.ioChecked, true);
    assert.equal(result.row.ioError, undefined);
    assert.ok(result.row.ioCheckedAt !== undefined);
    const tables = await sql<{ relname: string }>(
      primary,
      "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'skypg' and c.relkind = 'r' and c.relname like 'io_%' order by 1",
      [],
      'sky_pg_cluster',
    );
    assert.deepEqual(
      tables.map((table) => table.relname),
      ['io_pg_default', 'io_skypg_io_test'],
    );
    const again = await beat(config, primary);
    assert.ok(again.written);
    assert.equal(again.ioChecked, false, 'the I/O check runs at its own slower interval');
    // The standby replayed all of it (tablespace included) and still follows.
    await waitUntil('the standby replays the last beat', async () => {
      const view = await showHeartbeat(lab().config, labNode(lab(), 'host2'));
      return again.written && view.row.lastAlive.getTime() === again.row.lastAlive.getTime();
    });
  });
});
