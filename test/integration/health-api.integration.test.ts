// The health API of a real supervisor on the loopback pair: a port that is taken does not stop
// the supervisor (it logs, supervises, and listens once the port is free), and a client that
// connects and says nothing neither blocks other clients nor keeps its connection for long.
// Then doctor's api check against stand-ins on 127.0.0.3: the node, another node, not skypg.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, Socket, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { getFromApi } from '../../src/lib/api/client.js';
import { exampleConfig } from '../../src/lib/config/example.js';
import { checkConfigText } from '../../src/lib/config/load.js';
import type { NodeConfig } from '../../src/lib/config/types.js';
import { checkApi } from '../../src/lib/doctor/cluster-checks.js';
import type { DoctorContext } from '../../src/lib/doctor/context.js';
import { skypgBin } from '../support/cli.js';
import { useLoopbackLab } from '../support/lab.js';
import { waitUntil } from '../support/wait.js';

function startSupervisor(configPath: string, log: string): ChildProcess {
  return spawn(process.execPath, [skypgBin, 'supervisor', '--node', 'host1', '--log-file', log], {
    env: { ...process.env, SKYPG_CONFIG: configPath },
    stdio: 'ignore',
  });
}

async function stopSupervisor(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

const listenOn = (server: Server, port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve();
    });
  });

describe('the health API of a running supervisor (loopback pair)', () => {
  const lab = useLoopbackLab();
  const api = () => {
    const listen = lab().config.nodes[0].api;
    if (listen === undefined) throw new Error('the loopback lab gives host1 an API port');
    return listen;
  };

  it('a taken port is logged and retried; the supervisor supervises meanwhile, then listens', async () => {
    const { port } = api();
    const log = join(lab().state.dir, 'supervisor-api-taken.log');
    const squatter = createServer();
    await listenOn(squatter, port);
    const child = startSupervisor(lab().state.configPath, log);
    try {
      const text = () => readFile(log, 'utf8').catch(() => '');
      await waitUntil('the supervisor says it cannot listen', async () =>
        (await text()).includes(`"health API cannot listen on 127.0.0.1:${port}`),
      );
      await waitUntil('and still decides', async () =>
        /"event":"decision","node":"host1","state":"primary"/.test(await text()),
      );
      const line = (await text()).split('\n').find((l) => l.includes('cannot listen')) ?? '';
      assert.match(line, /EADDRINUSE.*supervising without it, trying again every 10s/);
      await new Promise((resolve) => squatter.close(resolve));
      await waitUntil(
        'the supervisor listens once the port is free',
        async () => (await text()).includes(`"health API listening on 127.0.0.1:${port}"`),
        20_000,
        200,
      );
      const answer = await getFromApi('127.0.0.1', port, '/primary', 2000);
      assert.equal(answer.status, 200, answer.body);
      assert.equal(
        (await text()).split('\n').filter((l) => l.includes('cannot listen')).length,
        1,
        'the same failure is logged once, not at every retry',
      );
    } finally {
      squatter.close();
      assert.equal(await stopSupervisor(child), 0);
    }
  });

  it('a client that connects and sends nothing neither blocks others nor keeps its socket', async () => {
    const { port } = api();
    const log = join(lab().state.dir, 'supervisor-api-idle.log');
    const child = startSupervisor(lab().state.configPath, log);
    const idle: Socket[] = [];
    try {
      await waitUntil(
        'the API answers',
        async () =>
          (await getFromApi('127.0.0.1', port, '/liveness', 1000).catch(() => undefined))
            ?.status === 200,
        20_000,
        200,
      );
      const closedAt: number[] = [];
      const openedAt = Date.now();
      for (let index = 0; index < 50; index += 1) {
        const socket = new Socket();
        socket.on('error', () => undefined);
        socket.on('close', () => closedAt.push(Date.now() - openedAt));
        socket.connect(port, '127.0.0.1');
        idle.push(socket);
      }
      const answer = await getFromApi('127.0.0.1', port, '/health', 1000);
      assert.equal(answer.status, 200, 'answered beside 50 silent connections');
      assert.ok(answer.ms < 1000, `took ${answer.ms}ms`);
      await waitUntil(
        'the server closes every silent connection',
        () => Promise.resolve(closedAt.length === idle.length),
        20_000,
        200,
      );
      // The request deadline is 5 s, checked every second (src/lib/api/server.ts).
      assert.ok(Math.max(...closedAt) < 8000, `closed after ${Math.max(...closedAt)}ms`);
    } finally {
      for (const socket of idle) socket.destroy();
      assert.equal(await stopSupervisor(child), 0);
    }
  });
});

describe("skypg doctor's api check against what answers on api.listen", () => {
  async function nodeWithApi(host: string, port: number): Promise<NodeConfig> {
    const { config } = await checkConfigText(exampleConfig, 'example.yaml');
    if (config === undefined) throw new Error('example config invalid');
    return { ...config.nodes[0], api: { host, port } };
  }
  const context = {} as DoctorContext; // checkApi reads nothing from it

  /** A stand-in HTTP server on 127.0.0.3 that answers every request with status and body. */
  async function standIn(
    status: number,
    body: string,
  ): Promise<{ port: number; close: () => void }> {
    const server = createHttpServer((_request, response) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(body);
    });
    await new Promise<void>((resolve) => {
      server.listen(0, '127.0.0.3', () => {
        resolve();
      });
    });
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    return { port, close: () => server.close() };
  }

  const cases: { name: string; status: number; body: string; expect: string; found: RegExp }[] = [
    {
      name: 'the node itself',
      status: 200,
      body: '{"node":"host1"}',
      expect: 'ok',
      found: /answers \/liveness as host1/,
    },
    {
      name: 'the node, its loop stuck',
      status: 503,
      body: '{"node":"host1"}',
      expect: 'warn',
      found: /says its loop is not recent \(\/liveness 503\)/,
    },
    {
      name: 'another node',
      status: 200,
      body: '{"node":"host2"}',
      expect: 'fail',
      found: /answers, but not as host1's supervisor \(HTTP 200, node host2\)/,
    },
    {
      name: 'something that is not skypg',
      status: 200,
      body: '<html>hello</html>',
      expect: 'fail',
      found: /answers, but not as host1's supervisor \(HTTP 200\)/,
    },
  ];
  for (const { name, status, body, expect, found } of cases) {
    it(`${name}: ${expect}`, async () => {
      const server = await standIn(status, body);
      try {
        const result = await checkApi(context, await nodeWithApi('127.0.0.3', server.port));
        assert.equal(result.status, expect, result.found);
        assert.match(result.found, found);
      } finally {
        server.close();
      }
    });
  }

  it('nothing listening: warn, with where to look', async () => {
    const server = await standIn(200, '{}');
    const { port } = server;
    server.close();
    const result = await checkApi(context, await nodeWithApi('127.0.0.3', port));
    assert.equal(result.status, 'warn');
    assert.match(result.found, /does not answer: .*ECONNREFUSED/);
    assert.match(result.fix ?? '', /health API cannot listen/);
  });

  it('api: false: skip', async () => {
    const node = { ...(await nodeWithApi('127.0.0.3', 1)), api: undefined };
    assert.equal((await checkApi(context, node)).status, 'skip');
  });
});
