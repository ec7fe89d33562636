// The heartbeat module is the only owner of the heartbeat table and of connections to the
// heartbeat database: which role reaches the row by which route is decided in targets.ts alone.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { checkConfigText } from '../../src/lib/config/load.js';
import { exampleConfig } from '../../src/lib/config/example.js';
import type { ClusterConfig } from '../../src/lib/config/types.js';
import { heartbeatDbTarget } from '../../src/lib/heartbeat/targets.js';

let config: ClusterConfig;
before(async () => {
  const checked = await checkConfigText(exampleConfig, 'example.yaml');
  assert.ok(checked.config);
  config = checked.config;
});

describe('heartbeatDbTarget', () => {
  it('logs each role into the heartbeat database, by the socket or over TCP', () => {
    const [node] = config.nodes;
    const { database, user } = config.heartbeat;
    const cases = [
      { login: 'heartbeat', route: 'socket', user, host: node.postgres.socket_dir },
      { login: 'heartbeat', route: 'tcp', user, host: node.address },
      { login: 'monitor', route: 'tcp', user, host: node.address },
      {
        login: 'superuser',
        route: 'socket',
        user: node.postgres.superuser,
        host: node.postgres.socket_dir,
      },
      { login: 'superuser', route: 'tcp', user: node.postgres.superuser, host: node.address },
    ] as const;
    for (const expected of cases) {
      const target = heartbeatDbTarget(config, node, expected.login, expected.route);
      assert.deepEqual(
        {
          user: target.user,
          database: target.database,
          host: target.host,
          tls: target.tls !== undefined,
        },
        { user: expected.user, database, host: expected.host, tls: expected.route === 'tcp' },
        `${expected.login} by ${expected.route}`,
      );
    }
  });

  it('the monitor login is heartbeat.monitor_user when it is set', () => {
    const [node] = config.nodes;
    const monitored = {
      ...config,
      heartbeat: { ...config.heartbeat, monitor_user: 'sky_pg_monitor' },
    };
    assert.equal(heartbeatDbTarget(monitored, node, 'monitor', 'tcp').user, 'sky_pg_monitor');
    assert.equal(
      heartbeatDbTarget(monitored, node, 'heartbeat', 'tcp').user,
      config.heartbeat.user,
    );
  });
});

describe('the heartbeat module owns the table', () => {
  it('no source file outside src/lib/heartbeat names the table or builds a heartbeat-database target', async () => {
    const files = (await readdir('src', { recursive: true })).filter((file) =>
      file.endsWith('.ts'),
    );
    const outside = files.filter((file) => !file.startsWith(join('lib', 'heartbeat')));
    const offenders: string[] = [];
    for (const file of outside) {
      const text = await readFile(join('src', file), 'utf8');
      if (/cluster_status|(local|remote)Target\([^)]*heartbeat\.database/.test(text))
        offenders.push(file);
    }
    assert.deepEqual(offenders, []);
  });
});
