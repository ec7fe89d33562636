// The programs operators run beside skypg, for real, across one failover in the multi-host lab:
// HAProxy in the client machine with the shipped packaging/haproxy/haproxy.cfg (checks on the
// health API), psql with `skypg connstring`'s multi-host URI, and the NRPE daemon on each host
// with the shipped packaging/nrpe/skypg.cfg, asked by check_nrpe from the client machine.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfigFile } from '../../src/lib/config/load.js';
import { buildConnstring } from '../../src/lib/config/connstring.js';
import { ClientAgent, startSupervisors } from '../../src/lib/lab/lab-cluster.js';
import { execIn, powerOff, type NetnsLabState } from '../../src/lib/lab/netns-lab.js';
import type { LabHostName } from '../../src/lib/lab/netns-plan.js';
import {
  holdsVip,
  printSupervisorLogs,
  psql,
  timeToWritableOf,
  untilStates,
} from '../support/failover-scenario.js';
import { netnsLabSkipReason, useNetnsLab } from '../support/netns.js';
import { waitUntil } from '../support/wait.js';

const skip = await netnsLabSkipReason();
const skypgBin = join(import.meta.dirname, '..', '..', 'bin', 'run.js');
const clientAddress = '10.231.0.200';
const checkNrpe = '/usr/lib/nagios/plugins/check_nrpe';

/** A program started in a lab namespace, in its own process group, stopped by its PID. */
class LabProcess {
  output = '';
  private constructor(private readonly child: ChildProcess) {
    const collect = (chunk: Buffer): void => {
      this.output += chunk.toString();
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
  }

  static start(state: NetnsLabState, member: 'client' | LabHostName, argv: string[]): LabProcess {
    const child = spawn('ip', ['netns', 'exec', state.netns[member], ...argv], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new LabProcess(child);
  }

  stop(): void {
    const pid = this.child.pid;
    if (pid === undefined || this.child.exitCode !== null) return;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      // gone with its host (powered off)
    }
  }
}

/** The shipped NRPE commands, for the lab: NRPE runs as postgres, skypg from this checkout. */
async function nrpeConfig(state: NetnsLabState, host: LabHostName): Promise<string> {
  const shipped = await readFile('packaging/nrpe/skypg.cfg', 'utf8');
  const address = state.hosts.find((entry) => entry.name === host)?.address ?? '';
  const commands = shipped
    .replaceAll('/usr/bin/sudo -n -u postgres ', '')
    .replaceAll('/usr/bin/skypg', `${process.execPath} ${skypgBin}`)
    .replaceAll('/etc/skypg/skypg.yaml', state.configPath);
  const path = join(state.dir, `nrpe-${host}.cfg`);
  await writeFile(
    path,
    [
      `pid_file=${join(state.dir, `nrpe-${host}.pid`)}`,
      'server_port=5666',
      `server_address=${address}`,
      'nrpe_user=postgres',
      'nrpe_group=postgres',
      `allowed_hosts=${clientAddress}`,
      'dont_blame_nrpe=0',
      'command_timeout=20',
      commands,
    ].join('\n'),
  );
  return path;
}

/** check_nrpe from the client machine: the plugin's exit code and its one line. */
async function askNrpe(
  state: NetnsLabState,
  host: LabHostName,
  command: string,
  timeoutSeconds = 20,
): Promise<[number, string]> {
  const address = state.hosts.find((entry) => entry.name === host)?.address ?? '';
  const result = await execIn(
    state,
    'client',
    checkNrpe,
    ['-H', address, '-c', command, '-t', String(timeoutSeconds)],
    {
      allowFailure: true,
    },
  );
  return [result.exitCode, result.stdout.trim()];
}

/** A copy of the lab's password file whose lines match any port: HAProxy listens on 5000. */
async function anyPortPassfile(state: NetnsLabState): Promise<string> {
  const text = await readFile(state.passfile, 'utf8');
  const path = join(state.dir, 'pgpass-any-port');
  await writeFile(path, text.replaceAll(':5432:', ':*:'), { mode: 0o600 });
  await chmod(path, 0o600);
  return path;
}

describe('HAProxy, a libpq multi-host URI and NRPE across a failover', { skip }, () => {
  const lab = useNetnsLab();

  it('all three follow host2 when host1 loses power; NRPE tells before and after', async (t: TestContext) => {
    const state = lab().state;
    const started: LabProcess[] = [];
    const agents: ClientAgent[] = [];
    try {
      await startSupervisors(state);
      await untilStates(state, { host1: 'primary', host2: 'standby' }, 30_000);
      await waitUntil('host1 holds the primary VIP', () => holdsVip(state, 'host1'), 10_000);

      for (const host of ['host1', 'host2'] as const)
        started.push(
          LabProcess.start(state, host, [
            '/usr/sbin/nrpe',
            '-c',
            await nrpeConfig(state, host),
            '-f',
          ]),
        );
      await waitUntil(
        'NRPE answers on host2',
        async () =>
          (await askNrpe(state, 'host2', 'check_skypg_alive'))[0] === 0 ? true : undefined,
        20_000,
        250,
      );
      const before = {
        lag1: await askNrpe(state, 'host1', 'check_skypg_lag'),
        lag2: await askNrpe(state, 'host2', 'check_skypg_lag'),
        alive1: await askNrpe(state, 'host1', 'check_skypg_alive'),
        alive2: await askNrpe(state, 'host2', 'check_skypg_alive'),
      };
      assert.deepEqual(
        Object.values(before).map(([code]) => code),
        [0, 0, 0, 0],
        JSON.stringify(before),
      );
      assert.match(
        before.lag1[1],
        /^SKYPG_LAG OK - standby host2 is \S+ \(\S+\) behind primary host1/,
      );
      assert.match(before.lag2[1], /^SKYPG_LAG OK - standby host2 /);
      assert.match(before.alive1[1], /^SKYPG_ALIVE OK - supervisor pid \d+ primary/);

      const haproxy = LabProcess.start(state, 'client', [
        'haproxy',
        '-f',
        'packaging/haproxy/haproxy.cfg',
        '-db',
      ]);
      started.push(haproxy);
      const passfile = await anyPortPassfile(state);
      await waitUntil(
        'HAProxy routes :5000 to host1',
        async () => {
          const answer = await execIn(
            state,
            'client',
            join(state.binDir, 'psql'),
            [
              '-X',
              '-At',
              '-h',
              clientAddress,
              '-p',
              '5000',
              '-U',
              'postgres',
              '-c',
              'select inet_server_addr()',
            ],
            { env: { PGPASSFILE: passfile }, allowFailure: true },
          );
          return answer.stdout.trim() === state.hosts[0].address ? true : undefined;
        },
        20_000,
        250,
      );

      const { config } = await loadConfigFile(state.configPath);
      const uri = buildConnstring(config, {
        target: 'read-write',
        database: 'postgres',
        user: 'postgres',
      }).uri;
      agents.push(await ClientAgent.start(state));
      agents.push(
        await ClientAgent.start(state, {
          host: clientAddress,
          port: 5000,
          table: 'haproxy_writes',
          passfile,
        }),
      );
      await psql(
        state,
        'host1',
        'create table uri_writes (id serial primary key, at timestamptz default now())',
      );
      // A client that reconnects for every write, as a libpq application does after an error.
      const uriWriter = LabProcess.start(state, 'client', [
        'env',
        `PGPASSFILE=${state.passfile}`,
        'bash',
        '-c',
        `while :; do ${join(state.binDir, 'psql')} -X -qAt "$0" -c 'insert into uri_writes default values returning inet_server_addr()' 2>/dev/null | sed "s/^/$(date +%s%3N) /"; sleep 0.05; done`,
        uri,
      ]);
      started.push(uriWriter);
      await sleep(2000);

      const faultAt = Date.now();
      await powerOff(state, 'host1');
      const uriAcks = (): { at: number; server: string }[] =>
        uriWriter.output
          .split('\n')
          .map((line) => /^(\d+) (\S+)$/.exec(line))
          .filter((match) => match !== null)
          .map((match) => ({ at: Number(match[1]), server: match[2] ?? '' }));
      await waitUntil(
        'a write through the VIP, HAProxy and the URI after the power-off',
        () => {
          const late = (times: number[]) => times.some((at) => at > faultAt + 100);
          const [vipAgent, haproxyAgent] = agents.map((agent) => [
            ...agent.report().ackTimes.values(),
          ]);
          return Promise.resolve(
            late(vipAgent ?? []) && late(haproxyAgent ?? []) && late(uriAcks().map((ack) => ack.at))
              ? true
              : undefined,
          );
        },
        90_000,
        250,
      );
      const [vipReport, haproxyReport] = agents.map((agent) => agent.report());
      const figures = {
        vip: timeToWritableOf([...(vipReport?.ackTimes.values() ?? [])], faultAt),
        haproxy: timeToWritableOf([...(haproxyReport?.ackTimes.values() ?? [])], faultAt),
        uri: timeToWritableOf(
          uriAcks().map((ack) => ack.at),
          faultAt,
        ),
      };
      t.diagnostic(
        `time to writable after host1's power-off: VIP ${String(figures.vip)} ms, HAProxy ${String(figures.haproxy)} ms, multi-host URI ${String(figures.uri)} ms`,
      );
      const lastUri = uriAcks().at(-1);
      assert.equal(lastUri?.server, state.hosts[1].address, 'the URI writes land on host2');
      assert.equal(await psql(state, 'host2', 'select pg_is_in_recovery()'), 'f');
      const since = `at > to_timestamp(${faultAt / 1000})`;
      assert.ok(
        Number(await psql(state, 'host2', `select count(*) from uri_writes where ${since}`)) > 0,
        'URI writes after the fault are on host2',
      );
      assert.ok(
        Number(await psql(state, 'host2', `select count(*) from haproxy_writes where ${since}`)) >
          0,
        'HAProxy writes after the fault are on host2',
      );

      await waitUntil(
        "NRPE says host2's supervisor is the primary",
        async () =>
          / primary/.test((await askNrpe(state, 'host2', 'check_skypg_alive'))[1])
            ? true
            : undefined,
        30_000,
        500,
      );
      const after = {
        lag2: await askNrpe(state, 'host2', 'check_skypg_lag'),
        alive2: await askNrpe(state, 'host2', 'check_skypg_alive'),
        alive1: await askNrpe(state, 'host1', 'check_skypg_alive', 3),
      };
      t.diagnostic(`NRPE after the failover: ${JSON.stringify(after)}`);
      assert.equal(after.alive2[0], 0, after.alive2[1]);
      assert.match(after.alive2[1], /^SKYPG_ALIVE OK - supervisor pid \d+ primary/);
      // host1 is powered off: check_nrpe cannot reach its NRPE at all.
      assert.equal(after.alive1[0], 2, after.alive1[1]);
      assert.match(
        after.alive1[1],
        /connect to (address|host) 10\.231\.0\.11 port 5666|Socket timeout after 3 seconds/,
      );
      // host2 leads with no standby: check-lag says so, not OK.
      assert.notEqual(after.lag2[0], 0, after.lag2[1]);
      assert.match(after.lag2[1], /^SKYPG_LAG (WARNING|CRITICAL) - /);
    } catch (error) {
      await printSupervisorLogs(state);
      throw error;
    } finally {
      await Promise.all(agents.map((agent) => agent.stop()));
      for (const program of started) program.stop();
    }
  });
});
