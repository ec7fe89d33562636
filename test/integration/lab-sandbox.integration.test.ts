// The sandbox as an operator drives it, as root: `lab up` builds the multi-host lab with a
// supervisor per host, `lab fault` breaks a host for real, `lab status` and `lab logs` show
// what the supervisors did, `lab heal` repairs, and `lab down` leaves nothing behind, also
// after a `lab up` that was killed halfway.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { NetnsLabState } from '../../src/lib/lab/netns-lab.js';
import type { MergedLogLine, NetnsLabOverview } from '../../src/lib/lab/sandbox.js';
import { isPostmasterOf, readPostmasterPid } from '../../src/lib/pg/programs.js';
import { runProgram } from '../../src/lib/process/run-program.js';
import { runSkypg, skypgBin } from '../support/cli.js';
import { netnsLabSkipReason } from '../support/netns.js';
import { useScratchDir } from '../support/scratch.js';
import { waitUntil } from '../support/wait.js';

const skip = await netnsLabSkipReason();

async function namespacesOf(id: string): Promise<string[]> {
  const list = await runProgram('ip', ['netns', 'list']);
  return list.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(`${id}-`));
}

/** Running, not a zombie: an orphan's zombie lingers until PID 1 (any init) reaps it. */
async function isAlive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  return stat !== '' && state !== 'Z' && state !== 'X';
}

async function overview(dir: string): Promise<NetnsLabOverview> {
  const run = await runSkypg(['lab', 'status', '--dir', dir, '--json']);
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout) as NetnsLabOverview;
}

function supervisorsSay(view: NetnsLabOverview): string {
  return view.hosts.map((host) => `${host.name}=${host.supervisor ?? 'silent'}`).join(' ');
}

describe('skypg lab up|fault|status|logs|heal|down (multi-host lab, as root)', { skip }, () => {
  const scratch = useScratchDir();

  it('a power-off of the primary is failed over, healed back to a pair, and down removes all', async () => {
    const dir = join(scratch(), 'lab');
    const up = await runSkypg(['lab', 'up', '--dir', dir, '--json'], { timeoutMs: 180_000 });
    assert.equal(up.code, 0, up.stderr);
    const lab = JSON.parse(up.stdout) as { kind: string; state: NetnsLabState };
    assert.equal(lab.kind, 'netns');
    const state = lab.state;

    const healthy = await overview(dir);
    assert.equal(supervisorsSay(healthy), 'host1=primary host2=standby');
    assert.deepEqual(
      healthy.hosts.map((host) => [host.power, host.frozen, host.cutOffFrom.length]),
      [
        ['on', false, 0],
        ['on', false, 0],
      ],
    );
    const text = await runSkypg(['lab', 'status', '--dir', dir]);
    assert.match(text.stdout, /^host1 +10\.231\.0\.11:5432 +primary +1 /m);
    assert.match(text.stdout, /^host2 +10\.231\.0\.12:5432 +standby +1 /m);

    // No --node: the fault hits whichever host answers as the primary.
    const fault = await runSkypg(['lab', 'fault', 'poweroff', '--dir', dir, '--json']);
    assert.equal(fault.code, 0, fault.stderr);
    assert.equal((JSON.parse(fault.stdout) as { node: string }).node, 'host1');

    const failedOver = await waitUntil(
      'host2 is the primary and host1 is powered off',
      async () => {
        const view = await overview(dir);
        const [one, two] = view.hosts;
        return one?.power === 'off' && two?.supervisor === 'primary' ? view : undefined;
      },
      90_000,
      500,
    );
    assert.match(supervisorsSay(failedOver), /host2=primary/);

    const logs = await runSkypg(['lab', 'logs', '--lines', '0', '--dir', dir, '--json']);
    assert.equal(logs.code, 0, logs.stderr);
    const lines = JSON.parse(logs.stdout) as MergedLogLine[];
    const times = lines.map((line) => Date.parse(line.time));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'merged by time',
    );
    assert.ok(
      lines.some(
        (line) => line.host === 'host2' && line.action === 'promote' && line.result === 'ok',
      ),
      'host2 logged its promotion',
    );
    assert.ok(lines.some((line) => line.host === 'host1' && line.event === 'start'));
    const humanLogs = await runSkypg(['lab', 'logs', '-n', '3', '--dir', dir]);
    assert.equal(humanLogs.stdout.trimEnd().split('\n').length, 3);
    assert.match(humanLogs.stdout, /^\d\d:\d\d:\d\d\.\d{3} host[12] /m);

    const heal = await runSkypg(['lab', 'heal', '--dir', dir]);
    assert.equal(heal.code, 0, heal.stderr);
    assert.match(heal.stdout, /powered host1 on/);
    await waitUntil(
      'host1 rejoined as a standby',
      async () => {
        const view = await overview(dir);
        return supervisorsSay(view) === 'host1=standby host2=primary' ? true : undefined;
      },
      120_000,
      500,
    );
    const again = await runSkypg(['lab', 'heal', '--dir', dir]);
    assert.match(again.stdout, /nothing to heal/);

    const postmasters = await Promise.all(
      state.hosts.map(async (host) => ({
        pid: await readPostmasterPid(host.dataDir),
        dataDir: host.dataDir,
      })),
    );
    const down = await runSkypg(['lab', 'down', '--dir', dir]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await namespacesOf(state.id), []);
    for (const { pid, dataDir } of postmasters) {
      assert.equal(await isPostmasterOf(pid ?? 0, dataDir), false, `postmaster ${pid} runs`);
    }
    await assert.rejects(stat(dir), /ENOENT/);
    const twice = await runSkypg(['lab', 'down', '--dir', dir]);
    assert.equal(twice.code, 0);
    assert.match(twice.stdout, /nothing to do/);
  });

  it('lab down after a lab up killed halfway leaves no namespace, process or directory', async () => {
    const dir = join(scratch(), 'killed');
    const child = spawn(process.execPath, [skypgBin, 'lab', 'up', '--dir', dir], {
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let state: NetnsLabState | undefined;
    try {
      // Halfway: the namespaces and BMCs exist and host1's PostgreSQL is running.
      state = await waitUntil(
        'lab up to have started host1 PostgreSQL',
        async () => {
          const text = await readFile(join(dir, 'netns-lab.json'), 'utf8').catch(() => '');
          if (text === '') return undefined;
          const parsed = JSON.parse(text) as NetnsLabState;
          const host1 = parsed.hosts[0];
          const pid = await readPostmasterPid(host1.dataDir);
          return pid !== undefined && (await isPostmasterOf(pid, host1.dataDir))
            ? parsed
            : undefined;
        },
        120_000,
        50,
      );
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    const host1Pid = await readPostmasterPid(state.hosts[0].dataDir);
    const bmcPids = state.hosts.map((host) => host.bmc.pid).filter((pid) => pid !== undefined);
    assert.ok(bmcPids.length > 0, 'the BMCs were started before the kill');
    assert.ok((await namespacesOf(state.id)).length > 0, 'namespaces exist before lab down');

    const down = await runSkypg(['lab', 'down', '--dir', dir]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await namespacesOf(state.id), []);
    assert.equal(await isPostmasterOf(host1Pid ?? 0, state.hosts[0].dataDir), false);
    for (const pid of bmcPids) assert.equal(await isAlive(pid), false, `BMC ${pid} still runs`);
    await assert.rejects(stat(dir), /ENOENT/);
  });
});
