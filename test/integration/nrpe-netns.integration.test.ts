// NRPE end to end in the multi-host lab: the real nrpe daemon on each host (as postgres, on the
// host's own address, answering only the client machine) runs the shipped check definitions,
// and check_nrpe from the client machine reads their states before a failover (host1 primary),
// while host1 is powered off (host2 promoted, no standby), and after host1 rejoined.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { startSupervisors } from '../../src/lib/lab/lab-cluster.js';
import { powerOff, powerOn, type NetnsLabState } from '../../src/lib/lab/netns-lab.js';
import { labAddresses, type LabHostName } from '../../src/lib/lab/netns-plan.js';
import { skypgBin } from '../support/cli.js';
import { printSupervisorLogs, untilStates } from '../support/failover-scenario.js';
import { netnsLabSkipReason, useNetnsLab } from '../support/netns.js';
import {
  adaptCommands,
  askNrpe,
  nrpeSkipReason,
  shippedNrpeFile,
  startNrpe,
  stopNrpe,
  type RunningNrpe,
} from '../support/nrpe.js';
import { waitUntil } from '../support/wait.js';

const skip = (await netnsLabSkipReason()) ?? (await nrpeSkipReason());
// NRPE's own port: each host is a namespace of this lab, so nothing else listens there.
const nrpePort = 5666;

interface NagiosAnswer {
  code: number;
  text: string;
}

describe(
  'NRPE runs the shipped checks, asked by check_nrpe from the client machine',
  { skip },
  () => {
    const lab = useNetnsLab();
    const daemons = new Map<LabHostName, RunningNrpe>();
    const address = (state: NetnsLabState, host: LabHostName): string =>
      state.hosts.find((entry) => entry.name === host)?.address ?? '';

    async function startOn(state: NetnsLabState, host: LabHostName): Promise<void> {
      const commands = adaptCommands(
        await readFile(shippedNrpeFile, 'utf8'),
        `${process.execPath} ${skypgBin}`,
        state.configPath,
      );
      daemons.set(
        host,
        await startNrpe({
          dir: join(state.dir, `nrpe-${host}`),
          address: address(state, host),
          port: nrpePort,
          client: labAddresses.client,
          commands,
          netns: state.netns[host],
        }),
      );
    }

    /** check_nrpe as Nagios runs it, from the client machine; TLS as both sides default to. */
    async function ask(
      state: NetnsLabState,
      host: LabHostName,
      check: 'check_skypg_lag' | 'check_skypg_alive',
      from: 'client' | LabHostName = 'client',
    ): Promise<NagiosAnswer> {
      const answer = await askNrpe(
        address(state, host),
        nrpePort,
        ['-c', check],
        state.netns[from],
      );
      return { code: answer.exitCode, text: answer.stdout.trim() };
    }

    /** Asks until the check exits `code`, and returns that answer. */
    function until(
      state: NetnsLabState,
      host: LabHostName,
      check: 'check_skypg_lag' | 'check_skypg_alive',
      code: number,
      timeoutMs = 60_000,
    ): Promise<NagiosAnswer> {
      return waitUntil(
        `${check} on ${host} exits ${code}`,
        async () => {
          const answer = await ask(state, host, check);
          return answer.code === code ? answer : undefined;
        },
        timeoutMs,
        500,
      );
    }

    /**
     * Waits until both checks on both hosts are OK, prints them, and checks that check-alive
     * names `primary` and its peer in their roles.
     */
    async function allOk(
      state: NetnsLabState,
      t: TestContext,
      moment: string,
      primary: LabHostName,
    ): Promise<void> {
      for (const host of ['host1', 'host2'] as const) {
        const role = host === primary ? 'primary' : 'standby';
        const lag = await until(state, host, 'check_skypg_lag', 0);
        const alive = await until(state, host, 'check_skypg_alive', 0);
        t.diagnostic(`${moment}, ${host} lag: ${lag.text}`);
        t.diagnostic(`${moment}, ${host} alive: ${alive.text}`);
        // The thresholds of the shipped definition reach skypg: they come back in the perfdata.
        assert.match(lag.text, /^SKYPG_LAG OK - .*\| lag_bytes=\d+B;8388608;16777216;0 /);
        assert.match(alive.text, new RegExp(`^SKYPG_ALIVE OK - supervisor pid \\d+ ${role}`));
      }
    }

    it('OK on both before, CRITICAL for the powered-off host and the lone new primary, OK again after the rejoin', async (t: TestContext) => {
      const state = lab().state;
      await startSupervisors(state);
      try {
        await untilStates(state, { host1: 'primary', host2: 'standby' }, 30_000);
        await startOn(state, 'host1');
        await startOn(state, 'host2');

        await allOk(state, t, 'before', 'host1');

        // allowed_hosts names the client machine only: host2 is turned away.
        const stranger = await ask(state, 'host1', 'check_skypg_alive', 'host2');
        t.diagnostic(`asked from host2: exit ${stranger.code}: ${stranger.text}`);
        assert.notEqual(stranger.code, 0, 'nrpe on host1 answers only the client machine');
        assert.doesNotMatch(stranger.text, /SKYPG_/);

        await powerOff(state, 'host1');
        const promoted = await waitUntil(
          'check_skypg_alive on host2 says primary',
          async () => {
            const answer = await ask(state, 'host2', 'check_skypg_alive');
            return answer.code === 0 && /supervisor pid \d+ primary/.test(answer.text)
              ? answer
              : undefined;
          },
          90_000,
          500,
        );
        const during = {
          alive2: promoted,
          lag2: await ask(state, 'host2', 'check_skypg_lag'),
          alive1: await ask(state, 'host1', 'check_skypg_alive'),
        };
        for (const [name, answer] of Object.entries(during))
          t.diagnostic(`host1 off ${name}: ${answer.text}`);
        assert.match(during.alive2.text, /^SKYPG_ALIVE OK - supervisor pid \d+ primary/);
        // The new primary has no standby: that is what lag watches for, CRITICAL until the rejoin.
        assert.equal(during.lag2.code, 2, during.lag2.text);
        assert.match(
          during.lag2.text,
          /^SKYPG_LAG CRITICAL - no standby is connected to primary host2/,
        );
        // A powered-off host answers nothing: check_nrpe's own CRITICAL.
        assert.equal(during.alive1.code, 2, during.alive1.text);
        assert.match(during.alive1.text, /^CHECK_NRPE\b.*(timeout|connect)/i);

        // Power brings host1's supervisor back (its boot hook); its nrpe is started again by hand.
        await powerOn(state, 'host1');
        await untilStates(state, { host1: 'standby', host2: 'primary' }, 120_000);
        // Until host1 streams again, its check-lag is CRITICAL: allOk waits for that too.
        await startOn(state, 'host1');
        await allOk(state, t, 'rejoined', 'host2');
      } catch (error) {
        await printSupervisorLogs(state);
        for (const [host, running] of daemons) {
          const log = await readFile(running.logFile, 'utf8').catch(() => '');
          process.stderr.write(
            `--- nrpe log of ${host} (last 20 lines)\n${log.split('\n').slice(-20).join('\n')}\n`,
          );
        }
        throw error;
      } finally {
        // Before the lab's teardown: no nrpe outlives its namespace.
        for (const running of daemons.values()) stopNrpe(running);
      }
    });
  },
);
