// skypg's own Unix socket connections are held to the same rule as TCP (docs/security.md,
// "Network trust"): a server behind the socket directory that asks for a cleartext or MD5
// password gets none, although the password file has one for it. The server is a fake on a
// Unix socket in this test's own directory; `trust` there stays allowed, as the docs say.
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfigFile } from '../../src/lib/config/load.js';
import type { NodeConfig } from '../../src/lib/config/types.js';
import { localTarget, withConnection } from '../../src/lib/pg/connect.js';
import { readServerStatus } from '../../src/lib/pg/server-status.js';
import { runSkypg } from '../support/cli.js';
import {
  startFakePostgres,
  statusAnswer,
  type FakeAuth,
  type FakePostgres,
} from '../support/fake-postgres.js';
import { refusal } from '../support/refusal.js';
import { useScratchDir } from '../support/scratch.js';

const secret = 'Socket-Secret-42';

describe("skypg's client over a Unix socket: SCRAM or trust, never a cleartext or MD5 password", () => {
  const scratch = useScratchDir();
  const fakes: FakePostgres[] = [];
  after(async () => {
    await Promise.all(fakes.map((server) => server.close()));
  });

  /**
   * A fake server on a socket in a directory of its own, and a configuration whose socket_dir
   * is that directory, with a password file that offers `secret` to every socket connection.
   */
  async function socketSetup(
    name: string,
    auth: FakeAuth,
  ): Promise<{ server: FakePostgres; node: NodeConfig; configPath: string }> {
    const dir = join(scratch(), name);
    await mkdir(dir);
    const server = await startFakePostgres({
      host: dir,
      socketPort: 5432,
      auth,
      answer: statusAnswer({ role: 'standby', timeline: 1, lsn: '0/3000000' }),
    });
    fakes.push(server);
    const passfile = join(dir, 'pgpass');
    await writeFile(passfile, `localhost:*:*:*:${secret}\n`, { mode: 0o600 });
    await chmod(passfile, 0o600);
    const configPath = join(dir, 'skypg.yaml');
    await writeFile(
      configPath,
      [
        'cluster: sockets',
        `postgres: { port: 5432, socket_dir: ${dir}, passfile: ${passfile}, connect_timeout: 2s, statement_timeout: 2s }`,
        'nodes:',
        `  - { name: host1, address: 127.0.0.1, data_dir: ${join(dir, 'data1')} }`,
        `  - { name: host2, address: 127.0.0.2, data_dir: ${join(dir, 'data2')} }`,
        'failover: { fencing: none }',
        '',
      ].join('\n'),
    );
    const { config } = await loadConfigFile(configPath);
    return { server, node: config.nodes[0], configPath };
  }

  for (const method of ['cleartext', 'md5'] as const) {
    const wanted = method === 'md5' ? 'an MD5' : 'a cleartext';
    it(`refuses ${wanted} password request on the socket and sends nothing`, async () => {
      const { server, node } = await socketSetup(`lib-${method}`, { method });
      const error = await refusal(withConnection(localTarget(node), readServerStatus));
      assert.equal(error.code, 'PG_AUTH_METHOD');
      assert.match(
        error.message,
        new RegExp(
          `^server asked for ${wanted} password; skypg only uses SCRAM-SHA-256 and sent nothing \\(.*${server.host}`,
        ),
      );
      assert.doesNotMatch(error.message, /\n/);
      assert.deepEqual(server.passwordMessages, [], 'a password message went to the server');
      assert.deepEqual(server.queries, [], 'a query ran without authentication');
    });
  }

  it('skypg heartbeat show and check-lag (both on the socket) send no password to a cleartext server', async () => {
    const { server, configPath } = await socketSetup('cli-cleartext', { method: 'cleartext' });
    const env = { env: { SKYPG_CONFIG: configPath } };
    const show = await runSkypg(['heartbeat', 'show', '--node', 'host1'], env);
    const lag = await runSkypg(['check-lag', '--node', 'host1'], env);
    for (const run of [show, lag]) {
      assert.notEqual(run.code, 0, run.stdout);
      assert.match(run.stdout + run.stderr, /cleartext password; skypg only uses SCRAM-SHA-256/);
      assert.doesNotMatch(run.stdout + run.stderr, new RegExp(secret));
    }
    assert.deepEqual(server.passwordMessages, []);
  });

  it('trust on the socket is still accepted (only local users reach it)', async () => {
    const { server, node } = await socketSetup('lib-trust', { method: 'trust' });
    const status = await withConnection(localTarget(node), readServerStatus);
    assert.equal(status.role, 'standby');
    assert.deepEqual(server.passwordMessages, []);
  });
});
