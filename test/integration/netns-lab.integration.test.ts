// The multi-host lab: namespaces on a bridge, a streaming pair, BMCs that the real ipmitool
// and fence_ipmilan switch off, switch-level partitions, and a teardown that leaves nothing.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { SkypgError } from '../../src/lib/common/errors.js';
import {
  execIn,
  freeze,
  heal,
  ipmiPower,
  killPostgres,
  labAddresses,
  labSocketTarget,
  namespacePids,
  netnsLabDown,
  netnsLabUp,
  partition,
  powerOff,
  powerOn,
  postgresBootScript,
  readNetnsLabState,
  setBootHook,
  startPostgres,
  thaw,
  type LabHostName,
  type LabMember,
  type LabNamespaceKey,
  type NetnsLabState,
} from '../../src/lib/lab/netns-lab.js';
import { withConnection } from '../../src/lib/pg/connect.js';
import { isPostmasterOf, readPostmasterPid } from '../../src/lib/pg/programs.js';
import { runProgram } from '../../src/lib/process/run-program.js';
import { runSkypg } from '../support/cli.js';
import { netnsLabSkipReason, useNetnsLab } from '../support/netns.js';
import {
  makeScratchDir,
  removeScratchDir,
  sweepStaleScratchDirs as sweepStaleNetnsLabs,
} from '../support/scratch.js';

const skip = await netnsLabSkipReason();

async function tcpOpen(state: NetnsLabState, from: LabMember, address: string): Promise<boolean> {
  // bash's /dev/tcp: connect only; "refused" and "timed out" both count as unreachable.
  const result = await execIn(
    state,
    from,
    'timeout',
    ['1', 'bash', '-c', `exec 3<>/dev/tcp/${address}/5432`],
    { allowFailure: true },
  );
  return result.exitCode === 0;
}

async function pings(state: NetnsLabState, from: LabMember, address: string): Promise<boolean> {
  const result = await execIn(state, from, 'ping', ['-c', '1', '-W', '1', '-q', address], {
    allowFailure: true,
  });
  return result.exitCode === 0;
}

/** One datagram (repeated a few times) from `from` to a listener in `to`: did any arrive? */
async function udpDelivered(state: NetnsLabState, from: LabHostName, to: LabHostName) {
  const listen = [
    'import socket',
    's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
    "s.bind(('0.0.0.0', 9999))",
    's.settimeout(2)',
    'print(s.recv(100).decode())',
  ].join('\n');
  const listener = execIn(state, to, '/usr/bin/python3', ['-c', listen], { allowFailure: true });
  await sleep(200);
  const send = `for i in 1 2 3 4 5; do echo probe >/dev/udp/${labAddresses[to]}/9999; sleep 0.2; done`;
  await execIn(state, from, 'bash', ['-c', send], { allowFailure: true });
  return (await listener).stdout.includes('probe');
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  assert.fail(`timed out after ${timeoutMs}ms waiting for ${what}`);
}

async function walReceiverStatus(state: NetnsLabState): Promise<string | undefined> {
  const rows = await withConnection(labSocketTarget(state, 'host2'), (session) =>
    session.query<{ status: string }>('select status from pg_stat_wal_receiver'),
  );
  return rows[0]?.status;
}

async function switchPortState(state: NetnsLabState, member: LabMember): Promise<string> {
  const result = await execIn(state, 'lan', 'ip', ['-br', 'link', 'show', `v-${member}`]);
  return result.stdout.split(/\s+/)[1] ?? '';
}

/** What `ip netns list` shows (one "NAME" or "NAME (id: N)" per line). */
async function listedNamespaces(): Promise<string[]> {
  const list = await runProgram('ip', ['netns', 'list']);
  return list.stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name !== '');
}

interface ProcessId {
  pid: number;
  start: string;
}

/** PID plus start time, so a reused PID is not mistaken for a survivor. */
async function identify(pid: number): Promise<ProcessId | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z') return undefined; // dead, waiting for PID 1 to reap it
  return { pid, start: fields[19] ?? '' };
}

async function labProcesses(state: NetnsLabState): Promise<ProcessId[]> {
  const pids = new Set<number>();
  for (const name of state.namespaces) for (const pid of await namespacePids(name)) pids.add(pid);
  for (const host of state.hosts) if (host.bmc.pid !== undefined) pids.add(host.bmc.pid);
  const found = await Promise.all([...pids].map(identify));
  return found.filter((entry) => entry !== undefined);
}

async function survivors(before: ProcessId[]): Promise<number[]> {
  const now = await Promise.all(before.map((entry) => identify(entry.pid)));
  return before
    .filter((entry, index) => now[index]?.start === entry.start)
    .map((entry) => entry.pid);
}

async function assertNothingLeft(state: NetnsLabState, processes: ProcessId[]): Promise<void> {
  const names = await listedNamespaces();
  const left = Object.values(state.netns).filter((name) => names.includes(name));
  assert.deepEqual(left, [], 'namespaces of the lab are still listed');
  assert.deepEqual(await survivors(processes), [], 'processes of the lab still run');
  for (const host of state.hosts) {
    const pid = host.bmc.pid;
    if (pid !== undefined) {
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      assert.ok(!cmdline.includes(host.bmc.configFile), `ipmi_sim ${pid} still runs`);
    }
  }
  await assert.rejects(stat(state.dir), /ENOENT/);
}

describe('netns lab', { skip, timeout: 120_000 }, () => {
  const lab = useNetnsLab();
  const state = (): NetnsLabState => lab().state;

  it('connects host1, host2, gw and client on one LAN, with no default route anywhere', async () => {
    const members: LabMember[] = ['host1', 'host2', 'gw', 'client'];
    const pairs = members.flatMap((from) =>
      members.filter((to) => to !== from).map((to) => [from, to] as const),
    );
    const results = await Promise.all(
      pairs.map(async ([from, to]) => ({
        pair: `${from}->${to}`,
        ok: await pings(state(), from, labAddresses[to]),
      })),
    );
    assert.deepEqual(
      results.filter((result) => !result.ok).map((result) => result.pair),
      [],
      'pairs that cannot ping',
    );
    for (const from of ['gw', 'client'] as const) {
      assert.ok(await tcpOpen(state(), from, labAddresses.host1), `${from} -> host1:5432`);
      assert.ok(await tcpOpen(state(), from, labAddresses.host2), `${from} -> host2:5432`);
    }
    assert.ok(await pings(state(), 'host2', labAddresses.bmc1), 'host2 reaches bmc1');
    assert.ok(await pings(state(), 'host1', labAddresses.bmc2), 'host1 reaches bmc2');
    for (const key of Object.keys(state().netns) as LabNamespaceKey[]) {
      for (const family of ['-4', '-6']) {
        const routes = await execIn(state(), key, 'ip', [family, 'route', 'show', 'default']);
        assert.equal(routes.stdout.trim(), '', `${key} has a default route (${family})`);
      }
    }
  });

  it('streams host2 from host1, with passwords only in 0600 files', async () => {
    const rows = await withConnection(labSocketTarget(state(), 'host1'), (session) =>
      session.query<{ application_name: string; client_addr: string; state: string }>(
        'select application_name, host(client_addr) as client_addr, state from pg_stat_replication',
      ),
    );
    assert.deepEqual(rows, [
      { application_name: 'host2', client_addr: labAddresses.host2, state: 'streaming' },
    ]);
    assert.equal(await walReceiverStatus(state()), 'streaming');
    const [, host2] = state().hosts;
    const auto = await readFile(join(host2.dataDir, 'postgresql.auto.conf'), 'utf8');
    assert.match(auto, /primary_conninfo = .*passfile=/);
    assert.doesNotMatch(auto, /password=/);
    const passfile = await stat(state().passfile);
    assert.equal(passfile.mode & 0o777, 0o600);
    for (const host of state().hosts) {
      assert.equal((await stat(host.bmc.passwordFile)).mode & 0o777, 0o600);
      assert.equal((await stat(host.bmc.configFile)).mode & 0o777, 0o600);
    }
  });

  it('writes a config that skypg config check accepts', async () => {
    const check = await runSkypg(['config', 'check', '-c', state().configPath]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const { config } = lab();
    assert.deepEqual(
      config.nodes.map((node) => [node.name, node.address, node.fence[0]?.ip]),
      [
        ['host1', labAddresses.host1, labAddresses.bmc1],
        ['host2', labAddresses.host2, labAddresses.bmc2],
      ],
    );
    assert.equal(config.vip.primary?.address, '10.231.0.130/24');
    assert.deepEqual(config.gateway, [labAddresses.gw]);
  });

  it('partitions host1 from host2 at the switch while gw reaches both; heal restores', async () => {
    await partition(state(), 'host1', 'host2');
    try {
      const [oneTwo, twoOne, gwOne, gwTwo] = await Promise.all([
        tcpOpen(state(), 'host1', labAddresses.host2),
        tcpOpen(state(), 'host2', labAddresses.host1),
        tcpOpen(state(), 'gw', labAddresses.host1),
        tcpOpen(state(), 'gw', labAddresses.host2),
      ]);
      assert.deepEqual(
        { oneTwo, twoOne, gwOne, gwTwo },
        {
          oneTwo: false,
          twoOne: false,
          gwOne: true,
          gwTwo: true,
        },
      );
    } finally {
      await heal(state());
    }
    assert.ok(await tcpOpen(state(), 'host1', labAddresses.host2), 'healed host1 -> host2');
    assert.ok(await tcpOpen(state(), 'host2', labAddresses.host1), 'healed host2 -> host1');
    await heal(state()); // idempotent
  });

  it('a one-way partition drops only the frames from the first host to the second', async () => {
    // Warm neighbour entries both ways: the cut also drops ARP from host1 to host2.
    assert.ok(await pings(state(), 'host1', labAddresses.host2));
    await partition(state(), 'host1', 'host2', { oneWay: true });
    try {
      const [oneTwo, twoOne] = await Promise.all([
        udpDelivered(state(), 'host1', 'host2'),
        udpDelivered(state(), 'host2', 'host1'),
      ]);
      assert.deepEqual({ oneTwo, twoOne }, { oneTwo: false, twoOne: true });
    } finally {
      await heal(state());
    }
    assert.ok(await udpDelivered(state(), 'host1', 'host2'), 'healed host1 -> host2');
  });

  it('freezes and thaws a host, and kills and restarts its postmaster', async () => {
    const frozen = await freeze(state(), 'host2');
    try {
      assert.ok(frozen.length > 0);
      for (const pid of frozen) {
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
        assert.equal(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3), 'T');
      }
    } finally {
      await thaw(state(), 'host2');
    }
    const pid = await killPostgres(state(), 'host2');
    assert.equal(await isPostmasterOf(pid, state().hosts[1].dataDir), false);
    await startPostgres(state(), 'host2');
    await until('host2 to stream again', 15_000, async () => {
      return (await walReceiverStatus(state())) === 'streaming';
    });
  });

  it('runs the boot hook on power-on: a reset host2 comes back streaming', async () => {
    await setBootHook(state(), 'host2', postgresBootScript(state(), 'host2'));
    try {
      await ipmiPower(state(), 'host2', 'reset');
      await until('host2 to boot and stream again', 20_000, async () => {
        return (await walReceiverStatus(state())) === 'streaming';
      });
    } finally {
      await setBootHook(state(), 'host2', undefined);
    }
  });

  it('powers host1 off through its BMC with the real ipmitool and fence_ipmilan sees OFF', async () => {
    const [host1] = state().hosts;
    // A VIP now; a power cycle must lose it, as a reboot would.
    await execIn(state(), 'host1', 'ip', ['addr', 'add', '10.231.0.130/24', 'dev', 'eth0']);
    await powerOff(state(), 'host1');
    assert.deepEqual(await namespacePids(host1.netns), []);
    assert.equal(await switchPortState(state(), 'host1'), 'DOWN');
    assert.equal(await pings(state(), 'gw', labAddresses.host1), false, 'host1 still answers');
    await until('the standby to lose its WAL sender', 15_000, async () => {
      return (await walReceiverStatus(state())) !== 'streaming';
    });

    const password = (await readFile(host1.bmc.passwordFile, 'utf8')).split('\n')[0] ?? '';
    const fence = (action: string) =>
      execIn(state(), 'host2', 'fence_ipmilan', [], {
        input: `ip=${host1.bmc.address}\nipport=623\nusername=fence\npassword=${password}\nlanplus=1\ncipher=3\naction=${action}\n`,
        env: { PYTHONWARNINGS: 'ignore' },
        allowFailure: true,
      });
    const off = await fence('status');
    assert.equal(off.exitCode, 2, off.stdout + off.stderr);
    assert.match(off.stdout, /Status: OFF/);

    await powerOn(state(), 'host1');
    assert.equal(await switchPortState(state(), 'host1'), 'UP');
    const on = await fence('status');
    assert.equal(on.exitCode, 0, on.stdout + on.stderr);
    assert.match(on.stdout, /Status: ON/);
    const addresses = await execIn(state(), 'host1', 'ip', ['-4', '-br', 'addr', 'show', 'eth0']);
    assert.deepEqual(addresses.stdout.trim().split(/\s+/).slice(2), ['10.231.0.11/24']);
    assert.ok(await pings(state(), 'gw', labAddresses.host1), 'gw reaches host1 after power on');
    // No boot hook: the machine is up, PostgreSQL is not.
    assert.deepEqual(await namespacePids(host1.netns), []);
    const pid = await readPostmasterPid(host1.dataDir);
    assert.equal(pid !== undefined && (await isPostmasterOf(pid, host1.dataDir)), false);

    await startPostgres(state(), 'host1');
    const primary = await withConnection(labSocketTarget(state(), 'host1'), (session) =>
      session.query<{ standby: boolean }>('select pg_is_in_recovery() as standby'),
    );
    assert.equal(primary[0]?.standby, false);
  });

  it('netnsLabDown removes every namespace, process and the directory', async () => {
    const processes = await labProcesses(state());
    assert.ok(processes.length >= 4, 'expected BMCs and postmasters to run');
    const down = await netnsLabDown(state().dir);
    assert.equal(down.removed, true);
    assert.deepEqual([...down.namespaces].sort(), Object.values(state().netns).sort());
    await assertNothingLeft(state(), processes);
    const again = await netnsLabDown(state().dir);
    assert.deepEqual(again, { removed: false, namespaces: [], stoppedPids: [] });
  });
});

describe('netns lab teardown after a failed or killed build', { skip, timeout: 60_000 }, () => {
  let scratch: string;
  before(async () => {
    await sweepStaleNetnsLabs();
    scratch = await makeScratchDir();
  });
  after(async () => {
    await removeScratchDir(scratch);
  });

  it('refuses a bogus bin dir before making anything', async () => {
    const dir = join(scratch, 'bogus');
    await assert.rejects(netnsLabUp({ dir, binDir: '/nonexistent/bin' }), (error) => {
      assert.ok(error instanceof SkypgError);
      assert.equal(error.code, 'PG_BINARIES_NOT_FOUND');
      return true;
    });
    await assert.rejects(stat(dir), /ENOENT/);
  });

  it('cleans up a lab whose builder was SIGKILLed half way', async () => {
    const dir = join(scratch, 'killed');
    const moduleUrl = new URL('../../src/lib/lab/netns-lab.ts', import.meta.url).href;
    // The builder dies at the base backup: namespaces, BMCs and host1's postmaster exist.
    const code = `
      import { netnsLabUp } from ${JSON.stringify(moduleUrl)};
      await netnsLabUp({
        dir: ${JSON.stringify(dir)},
        onStep: (step) => { if (step.startsWith('pg_basebackup')) process.kill(process.pid, 'SIGKILL'); },
      });`;
    const signal = await new Promise<NodeJS.Signals | null>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', code],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      child.on('error', reject);
      child.on('exit', (_code, signal) => {
        resolve(signal);
      });
    });
    assert.equal(signal, 'SIGKILL');

    const state = await readNetnsLabState(dir);
    const names = await listedNamespaces();
    assert.ok(
      state.namespaces.every((name) => names.includes(name)),
      'namespaces were made',
    );
    const processes = await labProcesses(state);
    const pid = await readPostmasterPid(state.hosts[0].dataDir);
    assert.ok(pid !== undefined && (await isPostmasterOf(pid, state.hosts[0].dataDir)));
    assert.ok(
      processes.some((entry) => entry.pid === state.hosts[0].bmc.pid),
      'bmc1 runs',
    );

    const down = await netnsLabDown(dir);
    assert.equal(down.removed, true);
    assert.ok(down.stoppedPids.includes(pid));
    await assertNothingLeft(state, processes);
  });
});
