// TLS for skypg's own connections against a real PostgreSQL with ssl = on: a CA and server
// certificates made with openssl in the lab directory; verify-full with the right CA works
// (with channel binding), a wrong CA or a certificate for another address fails in one line.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chown, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { NodeConfig } from '../../src/lib/config/types.js';
import {
  localTarget,
  remoteTarget,
  withConnection,
  type ConnectTarget,
  type TlsSettings,
} from '../../src/lib/pg/connect.js';
import { useLoopbackLab } from '../support/lab.js';
import { refusal } from '../support/refusal.js';
import { waitUntil } from '../support/wait.js';

const run = promisify(execFile);

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

/** A CA (name.crt, name.key) in dir. */
async function makeCa(dir: string, name: string): Promise<void> {
  // prettier-ignore
  await openssl(dir, [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`,
  ]);
}

/** A server certificate signed by `ca` naming only `address`. */
async function makeServerCert(
  dir: string,
  ca: string,
  name: string,
  address: string,
): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), `subjectAltName=IP:${address}\n`);
  // prettier-ignore
  await openssl(dir, [
    'req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`,
    '-keyout', `${name}.key`, '-out', `${name}.csr`,
  ]);
  // prettier-ignore
  await openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`,
    '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.crt`,
  ]);
}

describe('TLS for skypg connections (postgres.sslmode)', () => {
  const lab = useLoopbackLab();
  let dir = '';
  let host1: NodeConfig;
  let host2: NodeConfig;

  /** host1 serves this certificate from now on (ssl = on, reloaded). */
  async function serve(cert: string): Promise<void> {
    const owner = await stat(host1.data_dir);
    for (const file of [`${cert}.crt`, `${cert}.key`])
      await chown(join(dir, file), owner.uid, owner.gid);
    await withConnection(localTarget(host1), async (session) => {
      await session.query('alter system set ssl = on');
      await session.query(`alter system set ssl_cert_file = '${join(dir, `${cert}.crt`)}'`);
      await session.query(`alter system set ssl_key_file = '${join(dir, `${cert}.key`)}'`);
      await session.query('select pg_reload_conf()');
    });
    await waitUntil('the server serves the new certificate', () =>
      withConnection(localTarget(host1), (session) =>
        session.query<{ file: string }>("select current_setting('ssl_cert_file') as file"),
      ).then((rows) => rows[0]?.file === join(dir, `${cert}.crt`)),
    );
  }

  const tcp = (node: NodeConfig, tls: Partial<TlsSettings>): ConnectTarget => {
    const target = remoteTarget(node);
    return { ...target, tls: { ...target.tls, sslmode: 'verify-full', ...tls } as TlsSettings };
  };
  const proofOf = (target: ConnectTarget): Promise<unknown> =>
    withConnection(target, (session) => Promise.resolve(session.proof));

  before(async () => {
    [host1, host2] = lab().config.nodes;
    dir = lab().state.dir;
    await makeCa(dir, 'ca');
    await makeCa(dir, 'other-ca');
    await makeServerCert(dir, 'ca', 'right-name', '127.0.0.1');
    await makeServerCert(dir, 'ca', 'wrong-name', '127.0.0.9');
    await serve('right-name');
  });

  it('verify-full with the right CA: TLS verified, SCRAM bound to the channel', async () => {
    const proof = await proofOf(tcp(host1, { sslrootcert: join(dir, 'ca.crt') }));
    assert.deepEqual(proof, { scram: true, channelBinding: true, tls: 'verified-full' });
    const required = await proofOf(
      tcp(host1, { sslrootcert: join(dir, 'ca.crt'), channel_binding: 'require' }),
    );
    assert.deepEqual(required, { scram: true, channelBinding: true, tls: 'verified-full' });
  });

  it('require without a CA encrypts but proves nothing; prefer falls back on a server without TLS', async () => {
    assert.deepEqual(await proofOf(tcp(host1, { sslmode: 'require' })), {
      scram: true,
      channelBinding: true,
      tls: 'unverified',
    });
    assert.deepEqual(await proofOf(tcp(host2, { sslmode: 'prefer' })), {
      scram: true,
      channelBinding: false,
      tls: 'none',
    });
  });

  it('a wrong CA fails with one line naming the cause', async () => {
    const error = await refusal(proofOf(tcp(host1, { sslrootcert: join(dir, 'other-ca.crt') })));
    assert.equal(error.code, 'PG_TLS');
    assert.match(error.message, /^TLS to PostgreSQL at 127\.0\.0\.1:\d+ .*failed: its certificate/);
    assert.doesNotMatch(error.message, /\n/);
    assert.match(error.hint ?? '', /sslrootcert/);
  });

  it('a server without TLS fails verify-full, and channel_binding require refuses a plain login', async () => {
    const error = await refusal(proofOf(tcp(host2, { sslrootcert: join(dir, 'ca.crt') })));
    assert.equal(error.code, 'PG_TLS');
    assert.match(error.message, /the server has no TLS/);
    const unbound = await refusal(
      proofOf(tcp(host2, { sslmode: 'disable', channel_binding: 'require' })),
    );
    assert.equal(unbound.code, 'PG_AUTH_METHOD');
    assert.match(unbound.message, /offers no SCRAM-SHA-256-PLUS/);
  });

  it('a certificate for another address fails verify-full but passes verify-ca', async () => {
    await serve('wrong-name');
    const error = await refusal(proofOf(tcp(host1, { sslrootcert: join(dir, 'ca.crt') })));
    assert.equal(error.code, 'PG_TLS');
    assert.match(error.message, /its certificate does not name this host/);
    assert.doesNotMatch(error.message, /\n/);
    const proof = await proofOf(
      tcp(host1, { sslmode: 'verify-ca', sslrootcert: join(dir, 'ca.crt') }),
    );
    assert.deepEqual(proof, { scram: true, channelBinding: true, tls: 'verified-ca' });
  });
});
