// Who may answer for the peer (security review H1, H2): an impostor on 127.0.0.x that asks for a
// cleartext or MD5 password gets none; one that passes SCRAM but belongs to another cluster
// (another system identifier) is no proof of a role for promote or the supervisor.
import assert from 'node:assert/strict';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { loadConfigFile } from '../../src/lib/config/load.js';
import type { ClusterConfig } from '../../src/lib/config/types.js';
import { localTarget, remoteTarget, withConnection } from '../../src/lib/pg/connect.js';
import { readServerStatus } from '../../src/lib/pg/server-status.js';
import { decide } from '../../src/lib/supervisor/decide.js';
import { observe } from '../../src/lib/supervisor/observe.js';
import { initialMemory } from '../../src/lib/supervisor/types.js';
import { runSkypg } from '../support/cli.js';
import {
  startFakePostgres,
  statusAnswer,
  type FakeAuth,
  type FakePostgres,
} from '../support/fake-postgres.js';
import { useLoopbackLab } from '../support/lab.js';
import { refusal } from '../support/refusal.js';

const fakes: FakePostgres[] = [];
async function fake(
  auth: FakeAuth,
  answer?: Parameters<typeof statusAnswer>[0],
): Promise<FakePostgres> {
  const server = await startFakePostgres({
    host: '127.0.0.3',
    auth,
    ...(answer === undefined ? {} : { answer: statusAnswer(answer) }),
  });
  fakes.push(server);
  return server;
}

describe('peer trust: SCRAM only, and only this pair answers for the peer', () => {
  const lab = useLoopbackLab();
  after(async () => {
    await Promise.all(fakes.map((server) => server.close()));
  });

  /** The lab's passwords, offered for any host (so an impostor on 127.0.0.3 could get them). */
  async function passwords(): Promise<Record<string, string>> {
    const text = await readFile(lab().state.passfile, 'utf8');
    const entries = text
      .trim()
      .split('\n')
      .map((line) => line.split(':'))
      .map((fields) => [fields[3] ?? '', fields[4] ?? ''] as const);
    return Object.fromEntries(entries);
  }

  /** A copy of the lab's config with node `name` moved to the fake, and a passfile for any host. */
  async function configWith(
    name: string,
    server: FakePostgres,
    change: (raw: Record<string, unknown>) => void = () => undefined,
  ): Promise<{ path: string; config: ClusterConfig }> {
    const dir = lab().state.dir;
    const passfile = join(dir, `pgpass-any-${String(server.port)}`);
    const lines = Object.entries(await passwords()).map(([user, pw]) => `*:*:*:${user}:${pw}`);
    await writeFile(passfile, `${lines.join('\n')}\n`, { mode: 0o600 });
    await chmod(passfile, 0o600);
    const raw = parse(await readFile(lab().state.configPath, 'utf8')) as Record<string, unknown>;
    (raw['postgres'] as Record<string, unknown>)['passfile'] = passfile;
    const node = (raw['nodes'] as Record<string, unknown>[]).find((n) => n['name'] === name);
    assert.ok(node);
    node['address'] = server.host;
    (node['postgres'] as Record<string, unknown>)['port'] = server.port;
    change(raw);
    const path = join(dir, `skypg-fake-${String(server.port)}.yaml`);
    await writeFile(path, stringify(raw));
    return { path, config: (await loadConfigFile(path)).config };
  }

  for (const method of ['cleartext', 'md5'] as const) {
    it(`sends no password to a server that asks for a ${method} one`, async () => {
      const server = await fake({ method });
      const { config } = await configWith('host1', server);
      const [host1] = config.nodes;
      const error = await refusal(withConnection(remoteTarget(host1), () => Promise.resolve()));
      assert.equal(error.code, 'PG_AUTH_METHOD');
      const wanted = method === 'md5' ? 'an MD5' : 'a cleartext';
      assert.match(
        error.message,
        new RegExp(`^server asked for ${wanted} password; skypg only uses SCRAM-SHA-256`),
      );
      assert.doesNotMatch(error.message, /\n/);
      assert.match(error.hint ?? '', /scram-sha-256/);
      assert.deepEqual(server.passwordMessages, []);
    });
  }

  it('skypg status and probe --sql send no password to a cleartext impostor', async () => {
    const server = await fake({ method: 'cleartext' });
    const { path } = await configWith('host2', server);
    const status = await runSkypg(['status', '-c', path, '--node', 'host1']);
    const probe = await runSkypg(['probe', 'host2', '--sql', '-c', path]);
    assert.deepEqual(server.passwordMessages, []);
    assert.match(
      status.stdout + status.stderr,
      /cleartext password; skypg only uses SCRAM-SHA-256/,
    );
    assert.match(probe.stdout + probe.stderr, /cleartext password; skypg only uses SCRAM-SHA-256/);
    assert.notEqual(probe.code, 0);
  });

  it('refuses a server that ends SCRAM without its signature, or with a wrong one', async () => {
    for (const forge of ['skip-final', 'bad-signature'] as const) {
      const server = await fake({ method: 'scram', passwords: await passwords(), forge });
      const { config } = await configWith('host1', server);
      const error = await refusal(
        withConnection(remoteTarget(config.nodes[0]), () => Promise.resolve()),
      );
      assert.equal(error.code, 'PG_AUTH_METHOD', `${forge}: ${error.message}`);
      assert.match(error.message, /did not prove it knows the password|without proving/);
    }
  });

  it('refuses a server that lets skypg in over TCP without authentication', async () => {
    const server = await fake(
      { method: 'trust' },
      { role: 'standby', timeline: 1, lsn: '0/3000000' },
    );
    const { config } = await configWith('host1', server);
    const error = await refusal(withConnection(remoteTarget(config.nodes[0]), readServerStatus));
    assert.equal(error.code, 'PG_AUTH_METHOD');
    assert.match(error.message, /without any authentication/);
  });

  it('logs in to the real server with SCRAM (pg_hba uses scram-sha-256) and reads its identifier', async () => {
    const [host1, host2] = lab().config.nodes;
    const hba = await readFile(join(host1.data_dir, 'pg_hba.conf'), 'utf8');
    assert.match(hba, /^host\s+all\s+all\s+\S+\s+scram-sha-256/m);
    const proof = await withConnection(remoteTarget(host1), (session) =>
      Promise.resolve(session.proof),
    );
    assert.deepEqual(proof, { scram: true, channelBinding: false, tls: 'none' });
    const primary = await withConnection(remoteTarget(host1), readServerStatus);
    const standby = await withConnection(localTarget(host2), readServerStatus);
    assert.match(primary.systemIdentifier ?? '', /^\d{10,}$/);
    assert.equal(primary.systemIdentifier, standby.systemIdentifier);
  });

  it('the supervisor takes a SCRAM-capable "standby" of another cluster as no answer', async () => {
    const local = await withConnection(localTarget(lab().config.nodes[1]), readServerStatus);
    const impostor = await fake(
      { method: 'scram', passwords: await passwords() },
      { role: 'standby', timeline: 1, lsn: '0/9000000', systemIdentifier: '7000000000000000001' },
    );
    const { config } = await configWith('host1', impostor);
    const observation = await observe(config, config.nodes[1], () => Date.now());
    assert.equal(observation.peerServer.answering, false);
    assert.match(
      observation.peerServer.notPeer ?? '',
      new RegExp(
        `^the server at 127\\.0\\.0\\.3 is not this pair's peer \\(system identifier 7000000000000000001, expected ${String(local.systemIdentifier)}\\)$`,
      ),
    );
    assert.ok(impostor.queries.length > 0, 'the impostor was asked (it passed SCRAM)');

    // The same impostor with the pair's identifier is believed: the check above is what refused.
    const twin = await fake(
      { method: 'scram', passwords: await passwords() },
      { role: 'standby', timeline: 1, lsn: '0/9000000', systemIdentifier: local.systemIdentifier },
    );
    const twinConfig = (await configWith('host1', twin)).config;
    const believed = await observe(twinConfig, twinConfig.nodes[1], () => Date.now());
    assert.equal(believed.peerServer.answering, true);
    assert.equal(believed.peerServer.role, 'standby');
  });

  it('a "primary on a newer timeline" of another cluster does not make the primary yield', async () => {
    const impostor = await fake(
      { method: 'scram', passwords: await passwords() },
      { role: 'primary', timeline: 99, lsn: '9/0' },
    );
    const { config } = await configWith('host2', impostor);
    const observation = await observe(config, config.nodes[0], () => Date.now());
    assert.equal(observation.local.role, 'primary');
    assert.equal(observation.peerServer.answering, false);
    assert.match(observation.peerServer.notPeer ?? '', /system identifier none, expected \d+/);
    const decision = decide(observation, { ...initialMemory, state: 'primary' }, config);
    const kinds = decision.actions.map((action) => action.kind);
    assert.ok(!kinds.includes('demote') && !kinds.includes('rebuild'), decision.reason);
  });

  it('promote --dry-run does not count a "standby" of another cluster as proof', async () => {
    const impostor = await fake(
      { method: 'scram', passwords: await passwords() },
      { role: 'standby', timeline: 1, lsn: '0/9000000', systemIdentifier: '7000000000000000001' },
    );
    for (const fencing of ['none', 'required']) {
      const { path } = await configWith('host1', impostor, (raw) => {
        (raw['failover'] as Record<string, unknown>)['fencing'] = fencing;
      });
      const run = await runSkypg(['promote', '--dry-run', '--json', '-c', path, '--node', 'host2']);
      const result = JSON.parse(run.stdout) as {
        preconditions: { check: string; ok: boolean; detail: string }[];
      };
      const oldPrimary = result.preconditions.find((p) => p.check.includes('cannot write'));
      assert.equal(oldPrimary?.ok, false, `${fencing}: ${JSON.stringify(oldPrimary)}`);
      if (fencing === 'none') assert.match(oldPrimary.detail, /is not this pair's peer/);
    }
  });
});
