// probe against real ports: an open PostgreSQL, a closed port, a port that never answers.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { runSkypg } from '../support/cli.js';
import { useLoopbackLab } from '../support/lab.js';
import { openSilentPort } from '../support/silent-listener.js';

interface ProbeJson {
  target: string;
  host: string;
  port: number;
  reachable: boolean;
  latencyMs: number;
  role?: string;
  error?: string;
}

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
  });
}

describe('probe', () => {
  const lab = useLoopbackLab();
  const probe = (...args: string[]) =>
    runSkypg(['probe', ...args], { env: { SKYPG_CONFIG: lab().state.configPath } });

  it('reports an open port by node name, with latency, exit 0', async () => {
    const run = await probe('host1', '--json');
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as ProbeJson;
    assert.equal(result.reachable, true);
    assert.equal(result.port, lab().config.nodes[0].postgres.port);
    assert.ok(result.latencyMs >= 0 && result.latencyMs < 1000);
  });

  it('with --sql tells the primary from the standby', async () => {
    const primary = JSON.parse((await probe('host1', '--sql', '--json')).stdout) as ProbeJson;
    const standby = JSON.parse((await probe('host2', '--sql', '--json')).stdout) as ProbeJson;
    assert.equal(primary.role, 'primary');
    assert.equal(standby.role, 'standby');
  });

  it('reports a closed port as not reachable, exit 2', async () => {
    const port = await closedPort();
    const run = await probe(`127.0.0.1:${port}`);
    assert.equal(run.code, 2);
    assert.match(run.stdout, /NOT reachable: connection refused/);
  });

  it('gives up on a port that never answers within the timeout, exit 2', async () => {
    const silent = await openSilentPort();
    try {
      const run = await probe(`127.0.0.1:${silent.port}`, '--timeout', '300ms', '--json');
      assert.equal(run.code, 2);
      const result = JSON.parse(run.stdout) as ProbeJson;
      assert.equal(result.reachable, false);
      assert.match(result.error ?? '', /no answer within 300ms/);
      assert.ok(result.latencyMs >= 290 && result.latencyMs < 1000, `latency ${result.latencyMs}`);
    } finally {
      silent.close();
    }
  });

  it('probes HOST:PORT without any configuration', async () => {
    const port = await closedPort();
    const run = await runSkypg(['probe', `127.0.0.1:${port}`], {
      env: { SKYPG_CONFIG: undefined, HOME: '/nonexistent' },
    });
    assert.equal(run.code, 2, run.stderr);
  });

  const bad: { name: string; args: string[]; expect: RegExp }[] = [
    {
      name: 'an unknown target',
      args: ['hots1'],
      expect: /^skypg: unknown target "hots1" \(did you mean "host1"\?\)/,
    },
    {
      name: 'an unknown VIP role',
      args: ['vip:prim'],
      expect: /^skypg: unknown VIP "prim" \(did you mean "primary"\?\)/,
    },
    {
      name: 'an unconfigured VIP',
      args: ['vip:primary'],
      expect: /^skypg: vip\.primary is not configured/,
    },
    {
      name: 'an address without port',
      args: ['127.0.0.1'],
      expect: /^skypg: "127\.0\.0\.1" has no port/,
    },
    {
      name: 'an IPv4 address with a part above 255',
      args: ['999.1.1.1:5432'],
      expect: /^skypg: "999\.1\.1\.1" in "999\.1\.1\.1:5432" is not an IPv4 address \(hint: /,
    },
    {
      name: 'a bad timeout',
      args: ['host1', '--timeout', 'abc'],
      expect: /^skypg: --timeout "abc" is not a duration/,
    },
  ];
  for (const { name, args, expect } of bad) {
    it(`refuses ${name} with one line and exit 1`, async () => {
      const run = await probe(...args);
      assert.equal(run.code, 1);
      assert.match(run.stderr, expect);
      assert.equal(run.stderr.trim().split('\n').length, 1);
    });
  }
});
