// The actions on real hosts (network namespaces) with a simulated BMC per host: VIPs moved and
// seen by a client, fencing through the real ipmitool and fence_ipmilan, and a whole manual
// failover done with skypg commands only.
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  execIn,
  namespacePids,
  type LabHostName,
  type NetnsLabState,
} from '../../src/lib/lab/netns-lab.js';
import { runSkypgOn, skypgBin, type CliRun } from '../support/cli.js';
import { netnsLabSkipReason, useNetnsLab } from '../support/netns.js';
import { waitUntil } from '../support/wait.js';
import { vipDown, vipStatus, vipUp } from '../../src/lib/net/vip.js';
import { dadAfterFenceMs } from '../../src/lib/actions/promote.js';

const skip = await netnsLabSkipReason();

const on = runSkypgOn;

/** What a client at 10.231.0.200 gets through an address: role and which host answered. */
async function clientQuery(
  state: NetnsLabState,
  address: string,
  sqlText: string,
): Promise<string> {
  const result = await execIn(
    state,
    'client',
    `${state.binDir}/psql`,
    [
      '-X',
      '-At',
      '-c',
      sqlText,
      `host=${address} port=5432 user=postgres dbname=postgres connect_timeout=3`,
    ],
    {
      env: { PGPASSFILE: state.passfile },
      allowFailure: true,
    },
  );
  if (result.exitCode !== 0) throw new Error(`psql via ${address}: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

async function macOf(state: NetnsLabState, host: LabHostName): Promise<string> {
  const result = await execIn(state, host, 'cat', ['/sys/class/net/eth0/address']);
  return result.stdout.trim().toLowerCase();
}

const vip = '10.231.0.130';

describe('vip and fence on real hosts', { skip }, () => {
  const lab = useNetnsLab();

  it('vip up on host1 serves clients; host2 is refused while host1 holds it; then it moves to host2', async () => {
    const state = lab().state;
    const up1 = await on(state, 'host1', ['vip', 'up', 'primary']);
    assert.equal(up1.code, 0, up1.stderr);
    assert.match(up1.stdout, /vip primary 10\.231\.0\.130\/24 on eth0: taken/);
    assert.equal(await clientQuery(state, vip, 'select pg_is_in_recovery()'), 'f');

    const refused = await on(state, 'host2', ['vip', 'up', 'primary']);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^skypg: another host \(([0-9a-f:]+)\) answers for 10\.231\.0\.130\/24; not taking it/,
    );
    assert.ok(
      refused.stderr.includes(await macOf(state, 'host1')),
      'the refusal names host1 by MAC',
    );

    // The short listen promote uses after a verified fence still hears a live holder.
    const shortListen = await vipStatus(lab().config, 'primary', {
      netns: state.netns.host2,
      dadTimeoutMs: dadAfterFenceMs,
    });
    assert.deepEqual(shortListen.otherHolders, [await macOf(state, 'host1')]);

    const again = await on(state, 'host1', ['vip', 'up', 'primary']);
    assert.match(again.stdout, /already held here/);
    assert.equal((await on(state, 'host1', ['vip', 'status', 'primary'])).code, 0);
    const down = await on(state, 'host1', ['vip', 'down', 'primary']);
    assert.match(down.stdout, /dropped/);
    assert.match(
      (await on(state, 'host1', ['vip', 'down', 'primary'])).stdout,
      /was not held here/,
    );

    const up2 = await on(state, 'host2', ['vip', 'up', 'primary']);
    assert.equal(up2.code, 0, up2.stderr);
    const host2Mac = await macOf(state, 'host2');
    await waitUntil(
      "the client's neighbour entry points at host2",
      async () => {
        const neigh = await execIn(state, 'client', 'ip', ['neigh', 'show', vip]);
        return neigh.stdout.toLowerCase().includes(host2Mac);
      },
      5000,
    );
    assert.equal(await clientQuery(state, vip, 'select pg_is_in_recovery()'), 't');
    const status1 = await on(state, 'host1', ['vip', 'status', 'primary', '--json']);
    assert.equal(status1.code, 2);
    const parsed = JSON.parse(status1.stdout) as { heldHere: boolean; otherHolders: string[] };
    assert.deepEqual(parsed, { ...parsed, heldHere: false, otherHolders: [host2Mac] });
    await on(state, 'host2', ['vip', 'down', 'primary']);
  });

  it('vip down ends the announcements vip up started: a move within seconds of the take is not pointed back', async (t: TestContext) => {
    const state = lab().state;
    const [host1Mac, host2Mac] = [await macOf(state, 'host1'), await macOf(state, 'host2')];
    // Count, at the client, every ARP packet that says host1 (first rule) or host2 holds the VIP.
    const table = 'skypg_test_announce';
    const nft = (line: string): Promise<unknown> => execIn(state, 'client', 'nft', line.split(' '));
    await nft(`add table arp ${table}`);
    t.after(() => nft(`delete table arp ${table}`));
    await nft(`add chain arp ${table} input { type filter hook input priority 0 ; }`);
    for (const mac of [host1Mac, host2Mac]) {
      await nft(`add rule arp ${table} input arp saddr ip ${vip} arp saddr ether ${mac} counter`);
    }
    const announced = async (): Promise<number[]> => {
      const listed = await execIn(state, 'client', 'nft', ['list', 'table', 'arp', table]);
      return [...listed.stdout.matchAll(/counter packets (\d+)/g)].map((match) => Number(match[1]));
    };
    const announcedByHost1 = async (): Promise<number> => (await announced())[0] ?? -1;

    const up1 = await on(state, 'host1', ['vip', 'up', 'primary']);
    assert.equal(up1.code, 0, up1.stderr);
    await waitUntil('host1 announced the VIP', async () => (await announcedByHost1()) >= 1, 3000);
    // vip up started five announcements a second apart: drop the VIP in their middle.
    await sleep(1200);
    assert.equal((await on(state, 'host1', ['vip', 'down', 'primary'])).code, 0);
    const afterDown = await announcedByHost1();
    const up2 = await on(state, 'host2', ['vip', 'up', 'primary']);
    assert.equal(up2.code, 0, up2.stderr);
    // host2 keeps the VIP: all five of its announcements go out.
    await waitUntil('host2 announced five times', async () => (await announced())[1] === 5, 6000);
    assert.equal(
      await announcedByHost1(),
      afterDown,
      'host1 kept announcing a VIP it had dropped (and pointed the client back at itself)',
    );
    const neigh = await execIn(state, 'client', 'ip', ['neigh', 'show', vip]);
    assert.ok(neigh.stdout.toLowerCase().includes(host2Mac), neigh.stdout);
    await on(state, 'host2', ['vip', 'down', 'primary']);
  });

  it('the announcer runs ip and arping through vip.command_prefix, one announcement at a time', async () => {
    const state = lab().state;
    const log = join(state.dir, 'prefix.log');
    const prefix = join(state.dir, 'log-and-run.sh');
    await writeFile(prefix, `#!/bin/sh\necho "$*" >> ${log}\nexec "$@"\n`, { mode: 0o755 });
    const config = { ...lab().config, vip: { ...lab().config.vip, command_prefix: [prefix] } };
    const options = { netns: state.netns.host1 };
    await vipUp(config, 'standby', { ...options, knownReleased: true });
    await waitUntil(
      'two announcements went through the prefix',
      async () =>
        (await readFile(log, 'utf8').catch(() => '')).split('arping -U -c 1').length - 1 >= 2,
      4000,
    );
    await vipDown(config, 'standby', options);
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    assert.ok(lines.includes('ip addr add 10.231.0.131/24 dev eth0'), lines.join('\n'));
    assert.ok(lines.includes('arping -U -c 1 -i 1 -I eth0 10.231.0.131'), lines.join('\n'));
    assert.ok(lines.includes('ip -o addr show dev eth0'), lines.join('\n'));
  });

  it('fence status/off/on through ipmitool (the lab default): off kills host1, on brings it back without PostgreSQL', async () => {
    const state = lab().state;
    const status = await on(state, 'host2', ['fence', 'host1', '--action', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /host1 is powered ON/);

    // Watch every command line on the machine while the fence runs: the password never shows.
    const password =
      (await readFile(lab().config.nodes[0].fence[0]?.password_file ?? '', 'utf8')).split(
        '\n',
      )[0] ?? '';
    assert.ok(password.length > 8);
    let watching = true;
    const leaks: string[] = [];
    const watcher = (async () => {
      while (watching) {
        for (const pid of await readdir('/proc').catch(() => [] as string[])) {
          if (!/^\d+$/.test(pid)) continue;
          const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
          if (cmdline.includes(password)) leaks.push(cmdline.replaceAll('\0', ' '));
        }
        await sleep(20);
      }
    })();
    const off = await on(state, 'host2', ['fence', 'host1', '--action', 'off', '--json']);
    watching = false;
    await watcher;
    assert.deepEqual(leaks, []);
    assert.equal(off.code, 0, off.stderr);
    assert.doesNotMatch(off.stdout + off.stderr, new RegExp(password));
    const result = JSON.parse(off.stdout) as { power: string; changed: boolean; ms: number };
    assert.deepEqual([result.power, result.changed], ['off', true]);
    assert.deepEqual(await namespacePids(state.netns.host1), []);
    const again = await on(state, 'host2', ['fence', 'host1', '--action', 'off']);
    assert.match(again.stdout, /host1 was already powered OFF/);

    const powerOn = await on(state, 'host2', ['fence', 'host1', '--action', 'on']);
    assert.equal(powerOn.code, 0, powerOn.stderr);
    assert.match(powerOn.stdout, /host1 is now powered ON/);
    await sleep(500);
    const pids = await namespacePids(state.netns.host1);
    assert.deepEqual(pids, [], 'no boot hook: nothing, PostgreSQL included, starts on host1');
  });

  it('a wrong device password is a clear failure and nothing is reported fenced', async () => {
    const state = lab().state;
    const wrong = join(state.dir, 'wrong.password');
    await writeFile(wrong, 'not-the-password\n', { mode: 0o600 });
    const configPath = join(state.dir, 'wrong-password.yaml');
    const text = await readFile(state.configPath, 'utf8');
    await writeFile(
      configPath,
      text.replace(lab().config.nodes[0].fence[0]?.password_file ?? '', wrong),
    );
    const run = await on(state, 'host2', ['fence', 'host1', '--action', 'off'], configPath);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /^skypg: cannot fence host1 \(off\): level 1 ipmi .*ipmitool status failed/m,
    );
    assert.doesNotMatch(run.stdout, /OFF/);
    const missing = await on(state, 'host2', ['fence', 'host3', '--action', 'off'], configPath);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^skypg: no node named "host3"/);
  });
  it('fence_ipmilan and a command with the fence-agent contract drive the same BMC', async () => {
    const state = lab().state;
    const text = await readFile(state.configPath, 'utf8');
    const ipmilanConfig = join(state.dir, 'fence-ipmilan.yaml');
    await writeFile(ipmilanConfig, text.replace('agent: ipmitool', 'agent: fence_ipmilan'));
    const viaIpmilan = await on(
      state,
      'host2',
      ['fence', 'host1', '--action', 'status'],
      ipmilanConfig,
    );
    assert.equal(viaIpmilan.code, 0, viaIpmilan.stderr);
    assert.match(viaIpmilan.stdout, /host1 is powered ON \(level 1 ipmi \(10\.231\.0\.101\)/);

    // A user's own fence script: key=value lines on stdin, exit 0 = ON, 2 = OFF, 1 = error.
    const script = join(state.dir, 'my-fence.sh');
    await writeFile(
      script,
      [
        '#!/bin/bash',
        "while IFS='=' read -r key value; do",
        '  case $key in action) action=$value;; ip) ip=$value;; username) user=$value;; password) password=$value;; esac',
        'done',
        'file=$(mktemp); trap \'rm -f "$file"\' EXIT; printf "%s" "$password" > "$file"',
        'if [ "$action" = status ]; then',
        '  out=$(ipmitool -I lanplus -C 3 -H "$ip" -U "$user" -f "$file" chassis power status) || exit 1',
        '  case $out in *"is on"*) exit 0;; *"is off"*) exit 2;; *) exit 1;; esac',
        'fi',
        'ipmitool -I lanplus -C 3 -H "$ip" -U "$user" -f "$file" chassis power "$action" >/dev/null',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const commandConfig = join(state.dir, 'command.yaml');
    await writeFile(
      commandConfig,
      text.replace('agent: ipmitool', `agent: command\n        command: ${script}`),
    );
    const viaCommand = await on(
      state,
      'host2',
      ['fence', 'host1', '--action', 'status'],
      commandConfig,
    );
    assert.equal(viaCommand.code, 0, viaCommand.stderr);
    assert.match(viaCommand.stdout, /host1 is powered ON \(level 1 ipmi \(10\.231\.0\.101\)/);
  });

  it('vip up needs CAP_NET_ADMIN: refused with a hint without it, done with ambient capabilities', async (t: TestContext) => {
    const state = lab().state;
    const asPostgres = (caps: boolean): Promise<CliRun> => {
      const setpriv = ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups'];
      if (caps)
        setpriv.push('--inh-caps=+net_admin,+net_raw', '--ambient-caps=+net_admin,+net_raw');
      return execIn(
        state,
        'host2',
        setpriv[0] ?? 'setpriv',
        [...setpriv.slice(1), '--', process.execPath, skypgBin, 'vip', 'up', 'standby'],
        {
          env: { SKYPG_CONFIG: state.configPath },
          allowFailure: true,
        },
      ).then((result) => ({
        code: result.exitCode,
        stdout: result.stdout,
        stderr: result.stderr,
        ms: 0,
      }));
    };
    const probe = await execIn(
      state,
      'host2',
      'runuser',
      ['-u', 'postgres', '--', process.execPath, skypgBin, '--version'],
      { allowFailure: true },
    );
    if (probe.exitCode !== 0) {
      t.skip('the postgres OS user cannot run skypg from this checkout');
      return;
    }
    const refused = await asPostgres(false);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^skypg: ip was not permitted: .*\(hint: run as root, give the service CAP_NET_ADMIN and CAP_NET_RAW/m,
    );
    const done = await asPostgres(true);
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /vip standby 10\.231\.0\.131\/24 on eth0: taken/);
    await on(state, 'host2', ['vip', 'down', 'standby']);
  });
});

describe('a manual failover with skypg commands only', { skip }, () => {
  const lab = useNetnsLab();

  it('fence off host1 -> promote host2 -> writes through the VIP -> power on host1 -> rebuild it as a standby', async (t: TestContext) => {
    const state = lab().state;
    assert.equal((await on(state, 'host1', ['vip', 'up', 'primary'])).code, 0);
    assert.equal((await on(state, 'host2', ['vip', 'up', 'standby'])).code, 0);
    await clientQuery(state, vip, 'create table failover_log (id int, at text)');
    await clientQuery(state, vip, "insert into failover_log values (1, 'host1')");

    const timings: Record<string, number> = {};
    const timed = async (name: string, host: LabHostName, args: string[]): Promise<CliRun> => {
      const run = await on(state, host, args);
      timings[name] = Math.round(run.ms);
      assert.equal(run.code, 0, `${name}: ${run.stderr}${run.stdout}`);
      return run;
    };
    await timed('fence off', 'host2', ['fence', 'host1', '--action', 'off']);
    const promoted = await timed('promote', 'host2', ['promote']);
    assert.match(promoted.stdout, /host2 is now the primary on timeline 2/);
    assert.match(promoted.stdout, /host1 is powered off \(fence status OFF\)/);
    await waitUntil(
      'the client writes through the VIP to host2',
      async () => {
        await clientQuery(state, vip, "insert into failover_log values (2, 'host2')");
        return true;
      },
      10_000,
    );
    assert.equal(await clientQuery(state, vip, 'select pg_is_in_recovery()'), 'f');

    await timed('fence on', 'host2', ['fence', 'host1', '--action', 'on']);
    const rebuilt = await timed('rebuild-standby', 'host1', ['rebuild-standby', '--json']);
    const result = JSON.parse(rebuilt.stdout) as { method: string; timeline: number };
    assert.equal(result.timeline, 2);
    t.diagnostic(`rebuild method: ${result.method}`);
    const rows = await waitUntil('host1 replays the write made on host2', async () => {
      const out = await execIn(
        state,
        'host1',
        `${state.binDir}/psql`,
        [
          '-X',
          '-At',
          '-h',
          state.hosts[0].socketDir,
          '-U',
          'postgres',
          '-c',
          "select string_agg(at, ',' order by id) from failover_log",
        ],
        { asUser: state.osUser, allowFailure: true },
      );
      return out.stdout.trim() === 'host1,host2' ? out.stdout.trim() : undefined;
    });
    assert.equal(rows, 'host1,host2');
    const status = await on(state, 'host2', ['status', '--json']);
    const parsed = JSON.parse(status.stdout) as {
      nodes: { name: string; role?: string; timeline?: number; vips: string[] }[];
    };
    assert.deepEqual(
      parsed.nodes.map((node) => [node.name, node.role, node.timeline]),
      [
        ['host1', 'standby', 2],
        ['host2', 'primary', 2],
      ],
    );
    assert.deepEqual(parsed.nodes[1]?.vips, ['primary']);
    t.diagnostic(`manual failover step times (ms, whole command): ${JSON.stringify(timings)}`);
  });

  it('promote refuses when the fence device cannot be reached, and changes nothing', async () => {
    const state = lab().state;
    // host2 is now primary and host1 its standby: fencing host2 must fail with its BMC cut off.
    await execIn(state, 'lan', 'ip', ['link', 'set', 'v-bmc2', 'down']);
    try {
      const run = await on(state, 'host1', ['promote']);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^skypg: not promoting host1: cannot query the power of host2: level 1 ipmi \(10\.231\.0\.102\): status did not answer within 2000ms \(hint: /m,
      );
      const [row] = (await clientQuery(state, vip, 'select pg_is_in_recovery()')).split('\n');
      assert.equal(row, 'f', 'host2 is still the primary behind the VIP');
    } finally {
      await execIn(state, 'lan', 'ip', ['link', 'set', 'v-bmc2', 'up']);
    }
  });
});
