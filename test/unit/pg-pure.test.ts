import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lsnDistance, parseLsn } from '../../src/lib/pg/lsn.js';
import { findPassword } from '../../src/lib/pg/passfile.js';
import { parseLockFile } from '../../src/lib/pg/programs.js';
import { socketDirectoriesOf } from '../../src/lib/pg/server-control.js';

describe('LSN arithmetic', () => {
  it('parses both halves', () => {
    assert.equal(parseLsn('0/0'), 0n);
    assert.equal(parseLsn('1/0'), 1n << 32n);
    assert.equal(parseLsn('16/B374D848'), (0x16n << 32n) + 0xb374d848n);
  });
  it('distance is ahead minus behind, never negative', () => {
    assert.equal(lsnDistance('0/3000100', '0/3000000'), 256);
    assert.equal(lsnDistance('1/0', '0/FFFFFFFF'), 1);
    assert.equal(lsnDistance('0/3000000', '0/3000100'), 0);
  });
  it('rejects garbage', () => {
    assert.throws(() => parseLsn('nope'));
  });
});

describe('password file lookup (libpq rules)', () => {
  const file = [
    '# comment',
    '10.0.0.1:5432:app:alice:first',
    '*:*:*:replica:rep\\:pass',
    'localhost:5433:*:postgres:socket-pw',
    '10.0.0.2:*:*:*:catch:all',
  ].join('\n');
  const cases: {
    name: string;
    query: Parameters<typeof findPassword>[1];
    expected: string | undefined;
  }[] = [
    {
      name: 'exact line',
      query: { host: '10.0.0.1', port: 5432, database: 'app', user: 'alice' },
      expected: 'first',
    },
    {
      name: 'wildcards and an escaped colon',
      query: { host: 'h', port: 1, database: 'd', user: 'replica' },
      expected: 'rep:pass',
    },
    {
      name: 'a socket directory matches localhost',
      query: { host: '/run/pg', port: 5433, database: 'x', user: 'postgres' },
      expected: 'socket-pw',
    },
    {
      name: 'colons after the fifth field belong to the password',
      query: { host: '10.0.0.2', port: 9, database: 'd', user: 'u' },
      expected: 'catch:all',
    },
    {
      name: 'no match',
      query: { host: '10.0.0.1', port: 5432, database: 'app', user: 'bob' },
      expected: undefined,
    },
  ];
  for (const { name, query, expected } of cases) {
    it(name, () => {
      assert.equal(findPassword(file, query), expected);
    });
  }
});

describe('postmaster.pid (the lock file a killed server leaves)', () => {
  const lines = (shmem: string): string =>
    [
      '4242',
      '/var/lib/postgresql/15/main',
      '1765000000',
      '5432',
      '/var/run/postgresql',
      '*',
      shmem,
      'ready   ',
      '',
    ].join('\n');

  it('gives the PID and the System V segment ID of line 7 ("KEY ID")', () => {
    const rest = { port: 5432, socketDir: '/var/run/postgresql' };
    assert.deepEqual(parseLockFile(lines('  5432001     32769')), {
      pid: 4242,
      ...rest,
      shmid: 32769,
    });
    assert.deepEqual(parseLockFile(lines('        0         0')), { pid: 4242, ...rest, shmid: 0 });
  });

  it('without a segment line (a server still starting), only the PID: its reaping is waited for', () => {
    assert.deepEqual(parseLockFile('4242\n/var/lib/postgresql/15/main\n'), { pid: 4242 });
    const rest = { port: 5432, socketDir: '/var/run/postgresql' };
    assert.deepEqual(parseLockFile(lines('')), { pid: 4242, ...rest });
    assert.deepEqual(parseLockFile(lines('5432001')), { pid: 4242, ...rest });
  });

  it('no PID, no lock', () => {
    for (const text of ['', 'x\n', '-1\n', '0\n'])
      assert.equal(parseLockFile(text), undefined, text);
  });
});

describe('unix_socket_directories as postgres -C prints it', () => {
  it('splits the list, unquotes, and leaves out abstract sockets (no lock file)', () => {
    assert.deepEqual(socketDirectoriesOf('/var/run/postgresql\n'), ['/var/run/postgresql']);
    assert.deepEqual(socketDirectoriesOf('/var/run/postgresql, /tmp\n'), [
      '/var/run/postgresql',
      '/tmp',
    ]);
    assert.deepEqual(socketDirectoriesOf('"/run/my dir",@abstract,\n'), ['/run/my dir']);
    assert.deepEqual(socketDirectoriesOf('\n'), []);
  });
});
