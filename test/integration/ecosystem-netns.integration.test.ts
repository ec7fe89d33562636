// The clients operators route without a VIP, for real, across one failover in the multi-host
// lab: HAProxy in the client machine with the shipped packaging/haproxy/haproxy.cfg (checks on
// the health API) and psql with `skypg connstring`'s multi-host URI, beside a client of the VIP,
// each timed to its first write on the new primary. (NRPE has its own story: nrpe-netns.)
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClientAgent, startSupervisors } from '../../src/lib/lab/lab-cluster.js';
import { startLabHaproxy } from '../../src/lib/lab/lab-haproxy.js';
import { powerOff } from '../../src/lib/lab/netns-lab.js';
import { UriWriter, uriTable } from '../../bench/lib/uri-writer.js';
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

describe('HAProxy and a libpq multi-host URI across a failover', { skip }, () => {
  const lab = useNetnsLab();

  it('both follow host2 when host1 loses power, each timed beside the VIP', async (t: TestContext) => {
    const state = lab().state;
    let uriWriter: UriWriter | undefined;
    const agents: ClientAgent[] = [];
    let stopHaproxy = (): void => undefined;
    try {
      await startSupervisors(state);
      await untilStates(state, { host1: 'primary', host2: 'standby' }, 30_000);
      await waitUntil('host1 holds the primary VIP', () => holdsVip(state, 'host1'), 10_000);

      const haproxy = await startLabHaproxy(state);
      stopHaproxy = haproxy.stop;
      agents.push(await ClientAgent.start(state));
      agents.push(
        await ClientAgent.start(state, {
          host: haproxy.host,
          port: haproxy.port,
          table: 'haproxy_writes',
          passfile: haproxy.passfile,
        }),
      );
      // A client that reconnects for every write, as a libpq application does after an error:
      // psql with skypg connstring's read-write URI, the benchmark's own writer.
      uriWriter = await UriWriter.start(state);
      const writer = uriWriter;
      await sleep(2000);

      const faultAt = Date.now();
      await powerOff(state, 'host1');
      // Writes go on while the power-off is carried out (slower on a loaded machine): what
      // counts is a write after the gap the outage makes, not any write after faultAt.
      const poweredOffAt = Date.now();
      const uriAcks = () => writer.acks();
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
        Number(await psql(state, 'host2', `select count(*) from ${uriTable} where ${since}`)) > 0,
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
      await uriWriter?.stop();
      stopHaproxy();
    }
  });
});
