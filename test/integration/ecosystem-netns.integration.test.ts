// The clients operators route without a VIP, for real, across one failover in the multi-host
// lab: HAProxy in the client machine with the shipped packaging/haproxy/haproxy.cfg (checks on
// the health API) and psql with `skypg connstring`'s multi-host URI, beside a client of the VIP,
// each timed to its first write on the new primary. (NRPE has its own story: nrpe-netns.)
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfigFile } from '../../src/lib/config/load.js';
import { buildConnstring } from '../../src/lib/config/connstring.js';
import { ClientAgent, startSupervisors } from '../../src/lib/lab/lab-cluster.js';
import { startLabHaproxy } from '../../src/lib/lab/lab-haproxy.js';
import { powerOff, type NetnsLabState } from '../../src/lib/lab/netns-lab.js';
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

describe('HAProxy and a libpq multi-host URI across a failover', { skip }, () => {
  const lab = useNetnsLab();

  it('both follow host2 when host1 loses power, each timed beside the VIP', async (t: TestContext) => {
    const state = lab().state;
    const started: LabProcess[] = [];
    const agents: ClientAgent[] = [];
    let stopHaproxy = (): void => undefined;
    try {
      await startSupervisors(state);
      await untilStates(state, { host1: 'primary', host2: 'standby' }, 30_000);
      await waitUntil('host1 holds the primary VIP', () => holdsVip(state, 'host1'), 10_000);

      const haproxy = await startLabHaproxy(state);
      stopHaproxy = haproxy.stop;
      const { config } = await loadConfigFile(state.configPath);
      const uri = buildConnstring(config, {
        target: 'read-write',
        database: 'postgres',
        user: 'postgres',
      }).uri;
      agents.push(await ClientAgent.start(state));
      agents.push(
        await ClientAgent.start(state, {
          host: haproxy.host,
          port: haproxy.port,
          table: 'haproxy_writes',
          passfile: haproxy.passfile,
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
        // Stamped when psql returns, so the time is the acknowledgement's, not the attempt's start.
        `while :; do if out=$(${join(state.binDir, 'psql')} -X -qAt "$0" -c 'insert into uri_writes default values returning inet_server_addr()' 2>/dev/null); then echo "$(date +%s%3N) $out"; fi; sleep 0.05; done`,
        uri,
      ]);
      started.push(uriWriter);
      await sleep(2000);

      const faultAt = Date.now();
      await powerOff(state, 'host1');
      // Writes go on while the power-off is carried out (slower on a loaded machine): what
      // counts is a write after the gap the outage makes, not any write after faultAt.
      const poweredOffAt = Date.now();
      const uriAcks = (): { at: number; server: string }[] =>
        uriWriter.output
          .split('\n')
          .map((line) => /^(\d+) (\S+)$/.exec(line))
          .filter((match) => match !== null)
          .map((match) => ({ at: Number(match[1]), server: match[2] ?? '' }));
      await waitUntil(
        'a write through the VIP, HAProxy and the URI after the power-off',
        () => {
          const late = (times: number[]) => timeToWritableOf(times, poweredOffAt) !== undefined;
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
    } catch (error) {
      await printSupervisorLogs(state);
      throw error;
    } finally {
      await Promise.all(agents.map((agent) => agent.stop()));
      for (const program of started) program.stop();
      stopHaproxy();
    }
  });
});
