// The beacon over real UDP sockets on loopback: two supervisors' beacons hear each other; one
// that stops is a silence the other's waker reports within beacon.timeout and a tick; a datagram
// from another address (an impostor on 127.0.0.2) or of another cluster is not heard; a port that
// is taken is logged and the beacon goes on without its socket.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { describe, it } from 'node:test';
import { startBeacon, type Beacon } from '../../src/lib/beacon/beacon.js';
import { encodeBeacon } from '../../src/lib/beacon/message.js';
import { checkConfigText } from '../../src/lib/config/load.js';
import type { ClusterConfig } from '../../src/lib/config/types.js';
import type { LogEntry } from '../../src/lib/supervisor/log.js';
import { Waker } from '../../src/lib/supervisor/waker.js';
import type { LoopReport } from '../../src/lib/supervisor/loop.js';
import type { Observation } from '../../src/lib/supervisor/types.js';
import { waitUntil } from '../support/wait.js';

/** Free UDP ports on 127.0.0.1 (bound to 0, read, closed). */
async function freeUdpPorts(count: number): Promise<number[]> {
  const sockets: Socket[] = [];
  const ports: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    ports.push(socket.address().port);
    sockets.push(socket);
  }
  await Promise.all(sockets.map((socket) => new Promise<void>((done) => socket.close(done))));
  return ports;
}

async function pairConfig(port1: number, port2: number): Promise<ClusterConfig> {
  const text = [
    'cluster: beaconlab',
    'nodes:',
    `  - { name: host1, address: 127.0.0.1, data_dir: /d1, beacon: { listen: "127.0.0.1:${port1}" } }`,
    `  - { name: host2, address: 127.0.0.1, data_dir: /d2, postgres: { port: 5433 }, beacon: { listen: "127.0.0.1:${port2}" } }`,
    'api: false',
    'beacon: { interval: 50ms, timeout: 200ms }',
    '',
  ].join('\n');
  const { config, problems } = await checkConfigText(text, 'beacon.yaml');
  if (config === undefined) throw new Error(problems.map((p) => p.message).join('; '));
  return config;
}

const recordingLog = () => {
  const entries: LogEntry[] = [];
  return { entries, write: (entry: LogEntry) => entries.push(entry) };
};

function mustStart(
  config: ClusterConfig,
  index: 0 | 1,
  log: ReturnType<typeof recordingLog>,
  waker: Waker,
): Beacon {
  const beacon = startBeacon(config, config.nodes[index], log, waker);
  if (beacon === undefined) throw new Error('the beacon is configured');
  return beacon;
}

const answeringLoop: LoopReport = {
  startedAt: 0,
  endedAt: 1,
  observation: { local: { running: true, answering: true } } as unknown as Observation,
};

const notAnsweringLoop: LoopReport = {
  startedAt: 2,
  endedAt: 3,
  observation: { local: { running: true, answering: false } } as unknown as Observation,
};

describe('the beacon between two supervisors (UDP on loopback)', () => {
  it('each hears the other; its word that its server stopped, and a beacon that stops, wake the other (counted)', async () => {
    const [port1 = 0, port2 = 0] = await freeUdpPorts(2);
    const config = await pairConfig(port1, port2);
    const wakers = [new Waker(), new Waker()] as const;
    const logs = [recordingLog(), recordingLog()] as const;
    const host1 = mustStart(config, 0, logs[0], wakers[0]);
    const host2 = mustStart(config, 1, logs[1], wakers[1]);
    // Nothing is sent before a loop has said what the server does.
    for (const beacon of [host1, host2]) beacon.watcher.loopEnded?.(answeringLoop);
    try {
      await waitUntil(
        'each hears the other',
        () =>
          Promise.resolve(
            host1.view().lastHeardAt !== undefined && host2.view().lastHeardAt !== undefined,
          ),
        5000,
        20,
      );
      assert.equal(wakers[1].take(), undefined, 'no wake while the peer beacons');
      const heard = host2.stats();
      assert.equal(heard.bound, true);
      assert.ok(heard.received >= 1 && host1.stats().sent >= heard.received, JSON.stringify(heard));
      assert.equal(heard.peerServer, 'answering');
      assert.deepEqual(heard.wakes, { silence: 0, notAnswering: 0 });
      host1.watcher.loopEnded?.(notAnsweringLoop);
      await wakers[1].next(AbortSignal.timeout(5000));
      assert.match(wakers[1].take() ?? '', /stopped answering/);
      assert.equal(host2.stats().peerServer, 'not-answering');
      assert.deepEqual(host2.stats().wakes, { silence: 0, notAnswering: 1 });
      await host1.close();
      const closedAt = Date.now();
      await wakers[1].next(AbortSignal.timeout(5000));
      const wokeAfterMs = Date.now() - closedAt;
      assert.match(wakers[1].take() ?? '', /silent for 200ms/);
      assert.ok(wokeAfterMs >= 100 && wokeAfterMs < 2000, `woke ${wokeAfterMs}ms after the stop`);
      const silent = host2.stats();
      assert.deepEqual(silent.wakes, { silence: 1, notAnswering: 1 });
      assert.ok((silent.peerSilentForMs ?? 0) >= 200, JSON.stringify(silent));
    } finally {
      await host1.close();
      await host2.close();
    }
  });

  it('hears nothing from another address, another cluster or its own name', async () => {
    const [port1 = 0, port2 = 0] = await freeUdpPorts(2);
    const config = await pairConfig(port1, port2);
    const host2 = mustStart(config, 1, recordingLog(), new Waker());
    const impostor = createSocket('udp4');
    const local = createSocket('udp4');
    try {
      await new Promise<void>((resolve) => impostor.bind(0, '127.0.0.2', resolve));
      await new Promise<void>((resolve) => local.bind(0, '127.0.0.1', resolve));
      const send = (socket: Socket, cluster: string, node: string) =>
        new Promise<void>((resolve) => {
          socket.send(
            encodeBeacon({ cluster, node, seq: 1, server: 'answering' }),
            port2,
            '127.0.0.1',
            () => {
              resolve();
            },
          );
        });
      for (let round = 0; round < 5; round += 1) {
        await send(impostor, 'beaconlab', 'host1');
        await send(local, 'other', 'host1');
        await send(local, 'beaconlab', 'host2');
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(host2.view().lastHeardAt, undefined);
      assert.equal(
        host2.stats().received,
        0,
        'an impostor, another cluster or its own name is not counted',
      );
      await send(local, 'beaconlab', 'host1');
      await waitUntil(
        'the real one is heard',
        () => Promise.resolve(host2.view().lastHeardAt !== undefined),
        3000,
        20,
      );
    } finally {
      impostor.close();
      local.close();
      await host2.close();
    }
  });

  it('a taken port is logged once; the beacon goes on without its socket', async () => {
    const [port1 = 0, port2 = 0] = await freeUdpPorts(2);
    const config = await pairConfig(port1, port2);
    const squatter = createSocket('udp4');
    await new Promise<void>((resolve) => squatter.bind(port1, '127.0.0.1', resolve));
    const log = recordingLog();
    const host1 = mustStart(config, 0, log, new Waker());
    try {
      await waitUntil(
        'the error is logged',
        () => Promise.resolve(log.entries.some((e) => e.event === 'error')),
        3000,
        20,
      );
      const errors = log.entries.filter((e) => e.event === 'error');
      assert.equal(errors.length, 1);
      assert.match(
        errors[0]?.detail ?? '',
        /beacon cannot use UDP 127\.0\.0\.1:\d+: .*EADDRINUSE.*supervising without it/,
      );
    } finally {
      squatter.close();
      await host1.close();
    }
  });
});
