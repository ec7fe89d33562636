// skypg doctor in the multi-host lab with both supervisors running: a healthy pair is all OK,
// then each seeded defect, one after another, is found with the right status and a fix that
// works; --fix repairs the pg_hba and settings defects, and the next run is OK again.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import {
  labPsql,
  startSupervisors,
  supervisorBootScript,
  supervisorState,
} from '../../src/lib/lab/lab-cluster.js';
import {
  execIn,
  holdsAddress,
  type LabHostName,
  type NetnsLabState,
} from '../../src/lib/lab/netns-lab.js';
import { runSkypg } from '../support/cli.js';
import { netnsLabSkipReason, useNetnsLab } from '../support/netns.js';
import { waitUntil } from '../support/wait.js';

const skip = await netnsLabSkipReason();

interface CheckJson {
  id: string;
  node?: string;
  scope: 'local' | 'network';
  status: 'ok' | 'warn' | 'fail' | 'skip';
  found: string;
  fix?: string;
}
interface DoctorJson {
  node: string | null;
  status: string;
  results: CheckJson[];
  fixes: { action: string; result: string; note?: string }[];
}

describe('skypg doctor in the multi-host lab', { skip }, () => {
  const lab = useNetnsLab();
  const env = (): Record<string, string> => ({
    SKYPG_CONFIG: lab().state.configPath,
    PGPASSFILE: lab().state.passfile,
  });
  const skypg = (host: LabHostName, ...args: string[]) =>
    runSkypg(args, { netns: lab().state.netns[host], env: env() });

  async function doctor(
    host: LabHostName,
    ...args: string[]
  ): Promise<DoctorJson & { code: number | null }> {
    const run = await skypg(host, 'doctor', '--json', ...args);
    const parsed = JSON.parse(run.stdout) as DoctorJson;
    return { ...parsed, code: run.code };
  }
  const check = (report: DoctorJson, id: string, node?: string): CheckJson => {
    const found = report.results.find(
      (r) => r.id === id && (node === undefined || r.node === node),
    );
    assert.ok(
      found,
      `no ${id} ${node ?? ''} in ${JSON.stringify(report.results.map((r) => r.id))}`,
    );
    return found;
  };
  const problems = (report: DoctorJson): CheckJson[] =>
    report.results.filter((r) => r.status === 'warn' || r.status === 'fail');

  const running = (state: NetnsLabState, host: LabHostName) =>
    waitUntil(
      `the supervisor of ${host} runs and is not paused`,
      async () => {
        const current = await supervisorState(state, host);
        return current !== undefined && current.state !== 'paused' && current.state !== 'starting';
      },
      30_000,
    );
  const pausedEverywhere = async (state: NetnsLabState) => {
    for (const host of ['host1', 'host2'] as const) {
      await waitUntil(
        `${host} sees the pause`,
        async () => (await supervisorState(state, host))?.state === 'paused',
        15_000,
      );
    }
  };
  const restartPostgres = async (host: LabHostName) => {
    const { state } = lab();
    const server = state.hosts[host === 'host1' ? 0 : 1];
    await execIn(
      state,
      host,
      join(state.binDir, 'pg_ctl'),
      ['-D', server.dataDir, '-l', server.logFile, '-w', '-t', '60', '-m', 'fast', 'restart'],
      { asUser: state.osUser },
    );
  };

  before(async () => {
    const { state } = lab();
    await startSupervisors(state);
    await running(state, 'host1');
    await running(state, 'host2');
    // The state file says "primary" before the VIP is taken (that action takes a DAD probe).
    await waitUntil(
      'host1 holds the primary VIP',
      () => holdsAddress(state, 'host1', '10.231.0.130'),
      15_000,
    );
    await waitUntil(
      'host2 holds the standby VIP',
      () => holdsAddress(state, 'host2', '10.231.0.131'),
      15_000,
    );
  });

  it('a healthy pair is all OK from each host; only systemd is skipped (the lab has none)', async () => {
    for (const host of ['host1', 'host2'] as const) {
      const report = await doctor(host);
      assert.deepEqual(problems(report), [], `${host}: ${JSON.stringify(problems(report))}`);
      assert.equal(report.code, 0);
      assert.equal(report.node, host);
      const skipped = report.results.filter((r) => r.status === 'skip').map((r) => r.id);
      assert.deepEqual(skipped, ['systemd']);
      for (const id of [
        'settings',
        'hba',
        'roles',
        'login',
        'passfile',
        'clock',
        'net-tools',
        'gateway',
        'acpi',
        'disk',
        'fence',
        'vip-primary',
        'vip-standby',
        'supervisor',
        'supervisor-identity',
        'api',
        'layout',
        'slots',
        'boot-start',
      ]) {
        check(report, id);
      }
    }
    // From a machine that is not a node, --all checks what the network shows.
    const outside = await runSkypg(['doctor', '--all', '--json'], {
      netns: lab().state.netns.client,
      env: env(),
    });
    const fromClient = JSON.parse(outside.stdout) as DoctorJson;
    assert.equal(outside.code, 0, JSON.stringify(problems(fromClient)));
    assert.equal(fromClient.node, null);
    assert.ok(
      fromClient.results.filter((r) => r.scope === 'local').every((r) => r.status === 'skip'),
    );
    assert.equal(check(fromClient, 'vip-primary').status, 'ok');
    const text = await skypg('host1', 'doctor');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^OK +hba host1 +.*admits all/m);
    assert.match(text.stdout, /^SKIP +systemd host1 +systemd is not the init system.*\(local\)$/m);
  });

  it('without the VIP line in pg_hba: FAIL with the line to add; --fix adds it and reloads', async () => {
    const { state } = lab();
    const file = join(state.hosts[0].dataDir, 'pg_hba.conf');
    const original = await readFile(file, 'utf8');
    const subnetLine = /^host +replication +replica +10\.231\.0\.0\/24 +scram-sha-256$/m;
    assert.match(original, subnetLine);
    // The seed's per-address lines, the primary VIP's forgotten.
    const seeded = original.replace(
      subnetLine,
      ['10.231.0.11', '10.231.0.12', '10.231.0.131']
        .map((a) => `host  replication  replica  ${a}/32  scram-sha-256`)
        .join('\n'),
    );
    await writeFile(file, seeded);
    await labPsql(state, 'host1', 'select pg_reload_conf()');

    const broken = await doctor('host1');
    assert.equal(broken.code, 2);
    const hba = check(broken, 'hba', 'host1');
    assert.equal(hba.status, 'fail');
    assert.match(hba.found, /replication\/replica from 10\.231\.0\.130\): no line admits it/);
    assert.match(
      hba.fix ?? '',
      /^host {2}replication {2}replica {2}10\.231\.0\.130\/32 {2}scram-sha-256$/m,
    );

    const fixed = await doctor('host1', '--fix');
    assert.deepEqual(
      fixed.fixes.map((f) => f.result),
      ['applied'],
      JSON.stringify(fixed.fixes),
    );
    assert.equal(check(fixed, 'hba', 'host1').status, 'ok');
    assert.equal(fixed.code, 0, JSON.stringify(problems(fixed)));
    assert.match(
      await readFile(file, 'utf8'),
      /^host {2}replication {2}replica {2}10\.231\.0\.130\/32/m,
    );
    // The reloaded rules admit a real replication login through the line doctor added.
    assert.equal((await doctor('host1')).code, 0);
  });

  it('wal_log_hints off: FAIL; --fix sets it and says a restart is needed; after the restart OK', async () => {
    const { state } = lab();
    // Paused, so that restarting host2's PostgreSQL is maintenance, not a failure to act on.
    assert.equal((await skypg('host1', 'pause', '--reason', 'doctor test')).code, 0);
    await pausedEverywhere(state);
    await labPsql(state, 'host2', 'alter system set wal_log_hints = off');
    await restartPostgres('host2');

    const broken = await doctor('host2');
    const settings = check(broken, 'settings', 'host2');
    assert.equal(settings.status, 'fail');
    assert.match(settings.found, /wal_log_hints = off and no data checksums: pg_rewind cannot run/);
    assert.match(
      settings.fix ?? '',
      /ALTER SYSTEM SET wal_log_hints = 'on'.*then restart PostgreSQL on host2/,
    );

    const fixed = await doctor('host2', '--fix');
    assert.equal(fixed.fixes[0]?.result, 'applied');
    assert.match(fixed.fixes[0]?.note ?? '', /needs a restart/);
    assert.match(check(fixed, 'settings', 'host2').found, /waits for a restart/);
    assert.equal(
      await labPsql(state, 'host2', 'show wal_log_hints'),
      'off',
      'doctor never restarts',
    );

    await restartPostgres('host2');
    assert.equal((await skypg('host1', 'resume')).code, 0);
    await running(state, 'host1');
    await running(state, 'host2');
    const again = await doctor('host2');
    assert.deepEqual(problems(again), []);
  });

  it('a password file readable by others: FAIL, and its fix (chmod 600) works', async () => {
    const { state } = lab();
    await chmod(state.passfile, 0o644);
    const broken = await doctor('host1');
    const passfile = check(broken, 'passfile', 'host1');
    assert.equal(passfile.status, 'fail');
    assert.equal(passfile.scope, 'local');
    assert.match(passfile.found, /mode 0644: libpq ignores/);
    assert.equal(passfile.fix, `chmod 600 ${state.passfile}`);
    await execIn(state, 'host1', 'sh', ['-c', passfile.fix]);
    assert.equal(check(await doctor('host1'), 'passfile', 'host1').status, 'ok');
  });

  it('a fence password file with the wrong secret: FAIL from either host', async () => {
    const { state } = lab();
    const file = state.hosts[0].bmc.passwordFile;
    const secret = await readFile(file, 'utf8');
    await writeFile(file, 'not-the-secret\n', { mode: 0o600 });
    try {
      for (const host of ['host1', 'host2'] as const) {
        const fence = check(await doctor(host), 'fence', 'host1');
        assert.equal(fence.status, 'fail');
        assert.match(fence.found, /level 1 ipmi \(10\.231\.0\.101\): ipmitool status failed/);
        assert.match(fence.fix ?? '', new RegExp(file));
      }
      assert.equal(check(await doctor('host2'), 'fence', 'host2').status, 'ok');
    } finally {
      await writeFile(file, secret, { mode: 0o600 });
    }
    assert.equal(check(await doctor('host2'), 'fence', 'host1').status, 'ok');
  });

  it('the primary VIP on both hosts: FAIL on both; vip down on the standby (its fix) repairs it', async () => {
    const { state } = lab();
    assert.equal((await skypg('host1', 'pause', '--reason', 'doctor test')).code, 0);
    await pausedEverywhere(state);
    await execIn(state, 'host2', 'ip', ['addr', 'add', '10.231.0.130/24', 'dev', 'eth0']);

    const onPrimary = check(await doctor('host1'), 'vip-primary');
    assert.equal(onPrimary.status, 'fail');
    assert.match(onPrimary.found, /another host also answers for it/);
    const onStandby = check(await doctor('host2'), 'vip-primary');
    assert.equal(onStandby.status, 'fail');
    assert.match(onStandby.found, /host2 holds 10\.231\.0\.130\/24 but is not the primary/);
    assert.match(onStandby.fix ?? '', /^skypg vip down primary {3}# here, on host2$/m);

    assert.equal((await skypg('host2', 'vip', 'down', 'primary')).code, 0);
    assert.equal(check(await doctor('host2'), 'vip-primary').status, 'ok');
    assert.equal(check(await doctor('host1'), 'vip-primary').status, 'ok');
    assert.equal((await skypg('host1', 'resume')).code, 0);
    await running(state, 'host1');
    await running(state, 'host2');
  });

  it('one supervisor stopped: FAIL from both hosts; started again, all OK', async () => {
    const { state } = lab();
    const file = join(state.dir, 'host2', 'supervisor-state.json');
    const { pid } = JSON.parse(await readFile(file, 'utf8')) as { pid: number };
    process.kill(pid, 'SIGTERM');
    const local = await waitUntil('host2 sees its supervisor gone', async () => {
      const result = check(await doctor('host2'), 'supervisor', 'host2');
      return result.status === 'fail' ? result : undefined;
    });
    assert.match(local.found, /is not running/);
    const remote = await waitUntil('host1 sees the peer supervisor stale', async () => {
      const result = check(await doctor('host1'), 'supervisor', 'host2');
      return result.status === 'fail' ? result : undefined;
    });
    assert.match(remote.found, /old .*: the supervisor is stopped or stuck/);
    assert.equal(remote.scope, 'network');

    // Started again the way boot starts it.
    spawn(
      'ip',
      ['netns', 'exec', state.netns.host2, 'bash', '-c', supervisorBootScript(state, 'host2')],
      {
        detached: true,
        stdio: 'ignore',
      },
    ).unref();
    // The stopped supervisor's last file still looks fresh for a few seconds: wait for the new one's.
    await waitUntil(
      'the new supervisor of host2 wrote its state file',
      async () => {
        const current = JSON.parse(await readFile(file, 'utf8')) as { pid: number };
        return current.pid !== pid;
      },
      30_000,
    );
    await running(state, 'host2');
    for (const host of ['host1', 'host2'] as const) {
      const report = await doctor(host);
      assert.deepEqual(problems(report), [], `${host}: ${JSON.stringify(problems(report))}`);
      assert.equal(report.code, 0);
    }
  });
});
