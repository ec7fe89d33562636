// The PostgreSQL adapter against a real primary and streaming standby.
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { SkypgError } from '../../src/lib/common/errors.js';
import {
  localTarget,
  remoteTarget,
  withConnection,
  withTimeouts,
} from '../../src/lib/pg/connect.js';
import {
  readReplication,
  readServerStatus,
  readWalReceiver,
} from '../../src/lib/pg/server-status.js';
import { useLoopbackLab } from '../support/lab.js';

async function errorCodeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SkypgError, `not a SkypgError: ${String(error)}`);
    return error.code;
  }
  assert.fail('expected an error');
}

describe('pg adapter', () => {
  const lab = useLoopbackLab();

  it('reads the primary: role, version, timeline, current LSN, a streaming standby', async () => {
    const [host1] = lab().config.nodes;
    const { status, replication } = await withConnection(localTarget(host1), async (session) => ({
      status: await readServerStatus(session),
      replication: await readReplication(session),
    }));
    assert.equal(status.role, 'primary');
    assert.ok(status.versionNum >= 120000);
    assert.equal(status.timeline, 1);
    assert.match(status.currentLsn ?? '', /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.equal(replication.length, 1);
    assert.equal(replication[0]?.applicationName, 'host2');
    assert.equal(replication[0]?.state, 'streaming');
    // replay_lsn (and so the byte lag) stays NULL until the standby's first status reply.
    assert.match(replication[0]?.sentLsn ?? '', /\//);
  });

  it('reads the standby: role, timeline, receive/replay LSNs and its WAL receiver', async () => {
    const [, host2] = lab().config.nodes;
    const { status, receiver } = await withConnection(localTarget(host2), async (session) => {
      const status = await readServerStatus(session);
      return { status, receiver: await readWalReceiver(session, status.versionNum) };
    });
    assert.equal(status.role, 'standby');
    assert.equal(status.timeline, 1);
    assert.equal(status.currentLsn, undefined);
    assert.match(status.replayLsn ?? '', /\//);
    assert.equal(receiver?.status, 'streaming');
    assert.equal(receiver?.receivedTimeline, 1);
    assert.equal(receiver?.senderPort, lab().config.nodes[0].postgres.port);
  });

  it('connects over TCP with the password from the configured passfile', async () => {
    const [host1] = lab().config.nodes;
    const rows = await withConnection(remoteTarget(host1), (session) =>
      session.query<{ name: string }>("select current_setting('application_name') as name"),
    );
    assert.equal(rows[0]?.name, 'skypg');
  });

  it('classifies a login without a usable password as PG_AUTH', async () => {
    const [host1] = lab().config.nodes;
    const target = {
      ...remoteTarget(host1, { user: 'replica', database: 'postgres' }),
      passfile: '/nonexistent/pgpass',
    };
    assert.equal(await errorCodeOf(withConnection(target, () => Promise.resolve())), 'PG_AUTH');
  });

  it('classifies a missing database as PG_NOT_FOUND', async () => {
    const [host1] = lab().config.nodes;
    const target = localTarget(host1, { database: 'no_such_db' });
    assert.equal(
      await errorCodeOf(withConnection(target, () => Promise.resolve())),
      'PG_NOT_FOUND',
    );
  });

  it('classifies a closed port as PG_REFUSED', async () => {
    const [host1] = lab().config.nodes;
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => {
          resolve(typeof address === 'object' && address ? address.port : 0);
        });
      });
    });
    const target = { ...remoteTarget(host1), port: closed };
    assert.equal(await errorCodeOf(withConnection(target, () => Promise.resolve())), 'PG_REFUSED');
  });

  it('gives up within the connect timeout on a server that never answers', async () => {
    const [host1] = lab().config.nodes;
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    const port = await new Promise<number>((resolve) => {
      silent.listen(0, '127.0.0.1', () => {
        const address = silent.address();
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
    try {
      const started = Date.now();
      const target = withTimeouts({ ...remoteTarget(host1), port }, 300);
      assert.equal(
        await errorCodeOf(withConnection(target, () => Promise.resolve())),
        'PG_TIMEOUT',
      );
      assert.ok(Date.now() - started < 2000, 'took longer than the timeout allows');
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('cancels a query that outlives the statement timeout (PG_TIMEOUT)', async () => {
    const [host1] = lab().config.nodes;
    const target = { ...localTarget(host1), statementTimeoutMs: 200 };
    const code = await errorCodeOf(
      withConnection(target, (session) => session.query('select pg_sleep(5)')),
    );
    assert.equal(code, 'PG_TIMEOUT');
  });

  it('classifies a write on the standby as PG_IN_RECOVERY', async () => {
    const [, host2] = lab().config.nodes;
    const code = await errorCodeOf(
      withConnection(localTarget(host2), (session) => session.query('create table t (id int)')),
    );
    assert.equal(code, 'PG_IN_RECOVERY');
  });
});
