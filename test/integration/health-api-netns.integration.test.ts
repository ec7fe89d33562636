// The supervisor's HTTP health API in the multi-host lab, asked from the client machine as
// HAProxy, a Kubernetes probe or Prometheus would: Patroni's routes and their status codes,
// /metrics through the real promtool, an API that keeps answering while PostgreSQL is frozen,
// and the answers flipping across a failover.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startSupervisors } from '../../src/lib/lab/lab-cluster.js';
import { runProgram } from '../../src/lib/process/run-program.js';
import {
  freezePostgres,
  printSupervisorLogs,
  signalPids,
  untilStates,
} from '../support/failover-scenario.js';
import { apiUrl, httpFrom } from '../support/http-in-netns.js';
import { netnsLabSkipReason, useNetnsLab } from '../support/netns.js';
import { waitUntil } from '../support/wait.js';

const skip = await netnsLabSkipReason();

/** promtool's path, or why it is missing (Debian package prometheus). */
async function promtool(): Promise<string> {
  const found = await runProgram('sh', ['-c', 'command -v promtool'], { allowFailure: true });
  const path = found.stdout.trim();
  assert.ok(
    path !== '',
    'promtool is missing: run scripts/install-prerequisites.sh (package prometheus)',
  );
  return path;
}

/** A metric's value in a /metrics text, without labels beyond cluster and node. */
function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((entry) => entry.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('health API from the client machine', { skip }, () => {
  const lab = useNetnsLab();

  it("answers Patroni's routes with 200 or 503 on each node, and refuses what it does not serve", async () => {
    const state = lab().state;
    await startSupervisors(state);
    try {
      await untilStates(state, { host1: 'primary', host2: 'standby' }, 30_000);
      const ask = async (method: string, host: 'host1' | 'host2', path: string) =>
        httpFrom(state, 'client', method, apiUrl(state, host, path));
      await waitUntil(
        "host1's /primary says 200 (it holds the primary VIP)",
        async () => ((await ask('OPTIONS', 'host1', '/primary')).status === 200 ? true : undefined),
        20_000,
      );
      const statuses: Record<string, (number | undefined)[]> = {};
      for (const path of [
        '/primary',
        '/replica',
        '/read-only',
        '/health',
        '/liveness',
        '/readiness',
      ])
        statuses[path] = [
          (await ask('OPTIONS', 'host1', path)).status,
          (await ask('GET', 'host2', path)).status,
        ];
      assert.deepEqual(statuses, {
        '/primary': [200, 503],
        '/replica': [503, 200],
        '/read-only': [200, 200],
        '/health': [200, 200],
        '/liveness': [200, 200],
        '/readiness': [200, 200],
      });
      const options = await ask('OPTIONS', 'host1', '/primary');
      assert.equal(options.body, '', 'OPTIONS carries no body (HAProxy option httpchk)');
      const replica = await ask('GET', 'host2', '/replica?lag=16MB');
      assert.equal(replica.status, 200);
      const body = JSON.parse(replica.body) as { node: string; role: string; receiver: string };
      assert.deepEqual([body.node, body.role, body.receiver], ['host2', 'standby', 'streaming']);
      const post = await ask('POST', 'host1', '/primary');
      assert.equal(post.status, 405);
      assert.equal(post.headers?.['allow'], 'GET, HEAD, OPTIONS');
      assert.equal((await ask('GET', 'host1', '/restart')).status, 404);
      assert.equal((await ask('GET', 'host2', '/replica?lag=lots')).status, 400);
      const cluster = JSON.parse((await ask('GET', 'host2', '/cluster')).body) as {
        nodes: { name: string; role?: string }[];
      };
      assert.deepEqual(
        cluster.nodes.map((node) => [node.name, node.role]),
        [
          ['host1', 'primary'],
          ['host2', 'standby'],
        ],
      );
    } catch (error) {
      await printSupervisorLogs(state);
      throw error;
    }
  });

  it('/metrics of both nodes passes promtool check metrics with no warning', async () => {
    const state = lab().state;
    const tool = await promtool();
    for (const host of ['host1', 'host2'] as const) {
      const answer = await httpFrom(state, 'client', 'GET', apiUrl(state, host, '/metrics'));
      assert.equal(answer.status, 200, host);
      assert.match(answer.headers?.['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
      const checked = await runProgram(tool, ['check', 'metrics'], {
        input: answer.body,
        allowFailure: true,
      });
      assert.deepEqual(
        [checked.exitCode, `${checked.stdout}${checked.stderr}`.trim()],
        [0, ''],
        `${host}: promtool says`,
      );
      assert.equal(metric(answer.body, 'skypg_postgres_up'), 1, host);
      // The beacons of the two supervisors cross the lab's links: each hears the other.
      assert.equal(metric(answer.body, 'skypg_beacon_up'), 1, host);
      assert.ok((metric(answer.body, 'skypg_beacon_received_total') ?? 0) > 0, host);
      assert.ok((metric(answer.body, 'skypg_peer_beacon_silence_seconds') ?? 9) < 1, host);
    }
  });

  it('keeps answering at once while PostgreSQL is frozen; host2 then answers /primary and counts the failover', async () => {
    const state = lab().state;
    const frozen = await freezePostgres(state);
    try {
      const frozenAt = Date.now();
      let slowest = 0;
      // host1's API is served by its supervisor, which never waits on PostgreSQL for it.
      await waitUntil(
        "host1's /health says 503 once its observation is too old",
        async () => {
          const answer = await httpFrom(
            state,
            'client',
            'GET',
            apiUrl(state, 'host1', '/health'),
            1000,
          );
          // Fenced (powered off) is a different story: the API is gone with the host.
          if (answer.error !== undefined) return Date.now() - frozenAt > 2000 ? true : undefined;
          slowest = Math.max(slowest, answer.ms);
          return answer.status === 503 ? true : undefined;
        },
        30_000,
        200,
      );
      assert.ok(slowest < 1000, `an answer took ${slowest}ms while PostgreSQL was frozen`);
      await waitUntil(
        "host2's /primary says 200",
        async () =>
          (await httpFrom(state, 'client', 'OPTIONS', apiUrl(state, 'host2', '/primary')))
            .status === 200
            ? true
            : undefined,
        60_000,
        200,
      );
      const text = (await httpFrom(state, 'client', 'GET', apiUrl(state, 'host2', '/metrics')))
        .body;
      assert.equal(metric(text, 'skypg_promotions_total'), 1);
      assert.equal(metric(text, 'skypg_fences_total'), 1);
      assert.equal(metric(text, 'skypg_writable_primary'), 1);
      const failover = metric(text, 'skypg_last_failover_duration_seconds') ?? 0;
      assert.ok(failover > 0 && failover < 60, `last failover took ${failover}s`);
    } catch (error) {
      await printSupervisorLogs(state);
      throw error;
    } finally {
      signalPids(frozen, 'SIGCONT');
    }
  });
});
