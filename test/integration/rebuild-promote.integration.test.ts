// promote and rebuild-standby on a real loopback pair (fencing: none): a clean failover and
// follow, a diverged old primary rewound, a rewind that cannot work falling back to a base
// backup, and the refusals.
import assert from 'node:assert/strict';
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { standbyConninfo } from '../../src/lib/actions/rebuild.js';
import { nodeSettingsFile } from '../../src/lib/lab/lab-support.js';
import { readControlData } from '../../src/lib/pg/controldata.js';
import { writeStandbyConfig } from '../../src/lib/pg/standby-config.js';
import { runSkypg, type CliRun } from '../support/cli.js';
import { useLoopbackLab, type TestLab } from '../support/lab.js';
import { labNode, sql, startServer, stopServer, writeWal } from '../support/lab-control.js';
import { waitUntil } from '../support/wait.js';

function skypg(lab: TestLab, args: string[], configPath = lab.state.configPath): Promise<CliRun> {
  return runSkypg(args, { env: { SKYPG_CONFIG: configPath }, timeoutMs: 120_000 });
}

async function role(
  lab: TestLab,
  name: 'host1' | 'host2',
): Promise<{ standby: boolean; timeline: number }> {
  const [row] = await sql<{ standby: boolean; timeline: number }>(
    labNode(lab, name),
    `select pg_is_in_recovery() as standby,
            case when pg_is_in_recovery() then (select received_tli from pg_stat_wal_receiver)
                 else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end as timeline`,
  );
  if (!row) throw new Error('no row');
  return row;
}

interface RebuildJson {
  method: string;
  timeline: number;
  why: string;
  steps: { step: string; ms: number }[];
  oldDataDir?: string;
}

describe('clean failover: promote the standby, the old primary follows', () => {
  const lab = useLoopbackLab();

  it('promote refuses while the old primary still answers as a primary, and --dry-run changes nothing', async () => {
    const dry = await skypg(lab(), ['promote', '--node', 'host2', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run: host2 would NOT be promoted; nothing was changed/);
    assert.match(
      dry.stdout,
      /FAIL the old primary host1 cannot write: host1 still answers as a primary/,
    );
    const refused = await skypg(lab(), ['promote', '--node', 'host2']);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^skypg: not promoting host2: the old primary host1 cannot write: host1 still answers as a primary/m,
    );
    assert.equal((await role(lab(), 'host2')).standby, true);
  });

  it('promote refuses (fencing: none) when the old primary answers but refuses the login', async () => {
    // A wrong superuser password for host1 only: the server is up, skypg just cannot read its role.
    const host1 = lab().state.nodes[0];
    const passfile = join(lab().state.dir, 'pgpass-wrong-host1');
    const original = await readFile(lab().state.passfile, 'utf8');
    await writeFile(passfile, `127.0.0.1:${host1.port}:*:postgres:wrong\n${original}`, {
      mode: 0o600,
    });
    const configPath = join(lab().state.dir, 'skypg-wrong-host1.yaml');
    const config = await readFile(lab().state.configPath, 'utf8');
    assert.ok(config.includes(lab().state.passfile));
    await writeFile(configPath, config.replace(lab().state.passfile, passfile));
    const refused = await skypg(lab(), ['promote', '--node', 'host2'], configPath);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(
      refused.stderr,
      /^skypg: not promoting host2: the old primary host1 cannot write: host1 answered but its role could not be read \(.*\), so it may still be a primary/m,
    );
    assert.equal((await role(lab(), 'host2')).standby, true);
  });

  it('promote on the primary only ensures the VIPs', async () => {
    const run = await skypg(lab(), ['promote', '--node', 'host1']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /host1 is already the primary \(timeline 1\)/);
  });

  it('after the primary stops, promote makes host2 primary on timeline 2', async () => {
    await sql(labNode(lab(), 'host1'), "create table before_failover as select 'kept' as v");
    await waitUntil(
      'host2 has the table',
      async () =>
        (
          await sql(
            labNode(lab(), 'host2'),
            "select 1 from pg_class where relname = 'before_failover'",
          )
        ).length === 1,
    );
    await stopServer(lab(), 'host1');
    const run = await skypg(lab(), ['promote', '--node', 'host2']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /host2 is now the primary on timeline 2/);
    assert.match(
      run.stdout,
      /ok {3}the old primary host1 cannot write: host1 does not answer \(fencing: none\)/,
    );
    assert.deepEqual(await role(lab(), 'host2'), { standby: false, timeline: 2 });
  });

  it('rebuild-standby makes the cleanly stopped old primary follow the new timeline without copying', async () => {
    const run = await skypg(lab(), ['rebuild-standby', '--node', 'host1', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as RebuildJson;
    assert.equal(result.method, 'follow', result.why);
    assert.equal(result.timeline, 2);
    assert.deepEqual(await role(lab(), 'host1'), { standby: true, timeline: 2 });
    const autoConf = await readFile(
      join(labNode(lab(), 'host1').data_dir, 'postgresql.auto.conf'),
      'utf8',
    );
    assert.match(autoConf, /primary_conninfo = '.*application_name=host1.*passfile=/);
    assert.doesNotMatch(autoConf, /password=/);
    const [kept] = await sql<{ v: string }>(
      labNode(lab(), 'host1'),
      'select v from before_failover',
    );
    assert.equal(kept?.v, 'kept');
  });
});

describe('diverged old primary: rewound, its own writes gone', () => {
  const lab = useLoopbackLab();

  it('a split brain (promote --force) is repaired by pg_rewind: the new timeline wins', async () => {
    const forced = await skypg(lab(), ['promote', '--node', 'host2', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /warning: --force: promoting without proof that host1 is down/);
    await sql(labNode(lab(), 'host1'), "create table only_on_old_primary as select 'lost' as v");
    await writeWal(labNode(lab(), 'host1'), 256 * 1024);
    await sql(labNode(lab(), 'host2'), "create table only_on_new_primary as select 'won' as v");
    const refused = await skypg(lab(), ['rebuild-standby', '--node', 'host1']);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^skypg: host1 is a running primary: rebuilding it would throw away a server clients may be writing to/m,
    );
    assert.equal((await role(lab(), 'host1')).standby, false);
    const run = await skypg(lab(), ['rebuild-standby', '--node', 'host1', '--force', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as RebuildJson;
    assert.equal(result.method, 'rewind', result.why);
    assert.ok(result.steps.some((step) => step.step.startsWith('pg_rewind')));
    assert.deepEqual(await role(lab(), 'host1'), { standby: true, timeline: 2 });
    await waitUntil(
      'host1 replays the new primary',
      async () =>
        (
          await sql(
            labNode(lab(), 'host1'),
            "select 1 from pg_class where relname = 'only_on_new_primary'",
          )
        ).length === 1,
    );
    assert.deepEqual(
      await sql(
        labNode(lab(), 'host1'),
        "select 1 from pg_class where relname = 'only_on_old_primary'",
      ),
      [],
    );
  });
});

describe('old primary that replayed its own WAL as a standby past the fork: rewound, not followed', () => {
  const lab = useLoopbackLab();

  // Seen in CI (by-hand pair, kill -9): the crashed primary restarted as a standby, replayed
  // its own WAL past the new timeline's fork, and was stopped in recovery. Its last
  // restartpoint is before the fork, its data is not: "follow" left a server that never starts.
  it('rebuild-standby rewinds a standby stopped in recovery past the fork, then it streams', async () => {
    await stopServer(lab(), 'host2');
    await sql(labNode(lab(), 'host1'), "create table only_on_old_primary as select 'lost' as v");
    await stopServer(lab(), 'host1', 'immediate');
    await startServer(lab(), 'host2');
    const promoted = await skypg(lab(), ['promote', '--node', 'host2', '--force']);
    assert.equal(promoted.code, 0, promoted.stderr);
    await sql(labNode(lab(), 'host2'), "create table only_on_new_primary as select 'won' as v");

    const host1 = labNode(lab(), 'host1');
    const host2 = labNode(lab(), 'host2');
    await writeStandbyConfig(
      host1.data_dir,
      standbyConninfo(lab().config, host1, host2),
      host1.postgres.os_user,
    );
    await startServer(lab(), 'host1');
    // Crash recovery in standby mode replays host1's own WAL, then it cannot follow timeline 2.
    await waitUntil('host1 replayed its own table', async () => {
      const rows = await sql(host1, "select 1 from pg_class where relname = 'only_on_old_primary'");
      return rows.length === 1 ? true : undefined;
    });
    await stopServer(lab(), 'host1');
    const context = {
      binDir: lab().state.binDir,
      osUser: lab().state.osUser,
      cwd: lab().state.dir,
    };
    const control = await readControlData(context, host1.data_dir);
    assert.equal(control.clusterState, 'shut down in recovery');

    const run = await skypg(lab(), ['rebuild-standby', '--node', 'host1', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as RebuildJson;
    assert.equal(result.method, 'rewind', result.why);
    assert.match(result.why, /minimum recovery point .* is past the fork of timeline 1/);
    assert.deepEqual(await role(lab(), 'host1'), { standby: true, timeline: 2 });
    await waitUntil(
      'host1 replays the new primary',
      async () =>
        (await sql(host1, "select 1 from pg_class where relname = 'only_on_new_primary'"))
          .length === 1,
    );
    assert.deepEqual(
      await sql(host1, "select 1 from pg_class where relname = 'only_on_old_primary'"),
      [],
    );
  });
});

describe('rewind impossible (no wal_log_hints): falls back to a base backup', () => {
  const lab = useLoopbackLab();

  it('copies a fresh data directory, keeps the old one until it streams, then removes it', async () => {
    await appendFile(nodeSettingsFile(lab().state.nodes[0]), 'wal_log_hints = off\n');
    await stopServer(lab(), 'host1');
    await startServer(lab(), 'host1');
    await skypg(lab(), ['promote', '--node', 'host2', '--force']);
    await sql(labNode(lab(), 'host1'), "create table only_on_old_primary as select 'lost' as v");
    const rewindOnly = await skypg(lab(), [
      'rebuild-standby',
      '--node',
      'host1',
      '--force',
      '--method',
      'rewind',
    ]);
    assert.equal(rewindOnly.code, 1);
    assert.match(rewindOnly.stderr, /pg_rewind needs wal_log_hints = on or data checksums/);
    const run = await skypg(lab(), ['rebuild-standby', '--node', 'host1', '--force', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as RebuildJson;
    assert.equal(result.method, 'basebackup');
    assert.match(result.why, /pg_rewind is impossible here/);
    assert.deepEqual(await role(lab(), 'host1'), { standby: true, timeline: 2 });
    assert.deepEqual(
      await sql(
        labNode(lab(), 'host1'),
        "select 1 from pg_class where relname = 'only_on_old_primary'",
      ),
      [],
    );
    await assert.rejects(stat(`${labNode(lab(), 'host1').data_dir}.skypg-old`), /ENOENT/);
  });
});

describe('promote refuses a standby beyond failover.max_lag', () => {
  const lab = useLoopbackLab();

  it('unless --ignore-lag, which promotes with a warning', async () => {
    const configPath = join(lab().state.dir, 'small-max-lag.yaml');
    const text = await readFile(lab().state.configPath, 'utf8');
    await writeFile(
      configPath,
      text.replace('failover: { fencing: none }', 'failover: { fencing: none, max_lag: 1MB }'),
    );
    const standby = labNode(lab(), 'host2');
    await sql(standby, 'select pg_wal_replay_pause()');
    await writeWal(labNode(lab(), 'host1'), 3 * 1024 * 1024);
    await waitUntil('host2 received the WAL', async () => {
      const [row] = await sql<{ backlog: string }>(
        standby,
        'select pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text as backlog',
      );
      return Number(row?.backlog) > 2 * 1024 * 1024;
    });
    await stopServer(lab(), 'host1');
    const refused = await skypg(lab(), ['promote', '--node', 'host2'], configPath);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /not promoting host2: lag within failover\.max_lag \(1MiB\): [\d.]+MiB received but not replayed/,
    );
    assert.match(refused.stderr, /--ignore-lag/);
    assert.equal((await role(lab(), 'host2')).standby, true);
    const promoted = await skypg(lab(), ['promote', '--node', 'host2', '--ignore-lag'], configPath);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.match(promoted.stderr, /warning: promoting host2 [\d.]+MiB behind/);
    assert.equal((await role(lab(), 'host2')).standby, false);
  });
});
