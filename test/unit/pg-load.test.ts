// How connect.ts loads pg: only when a connection is opened, without Node's fetch implementation
// (which pg's Cloudflare probe would otherwise load), and leaving no `navigator` behind.
// Each test file runs in its own process, so what is loaded here is what this file loaded.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { withConnection, type ConnectTarget } from '../../src/lib/pg/connect.js';
import { SkypgError } from '../../src/lib/common/errors.js';

// process.moduleLoadList (undocumented, so not in @types/node) names each internal module loaded.
const internalModules = (): readonly string[] =>
  (process as unknown as { moduleLoadList: string[] }).moduleLoadList;
const loadedFetch = (): boolean =>
  internalModules().some((name) => name.includes('internal/deps/undici'));
const requireCache = createRequire(import.meta.url).cache;
const loadedPg = (): boolean =>
  Object.keys(requireCache).some((file) => file.endsWith('/node_modules/pg/lib/index.js'));

const hadNavigator = 'navigator' in globalThis;
const fetchBefore = loadedFetch();
const pgBefore = loadedPg();
const scratch = await mkdtemp(join(tmpdir(), 'skypg-pg-load-'));

describe('loading pg', () => {
  after(() => rm(scratch, { recursive: true, force: true }));
  // A socket directory with no server in it: the connection fails at once, after pg has loaded.
  const target: ConnectTarget = {
    host: scratch,
    port: 5432,
    user: 'nobody',
    database: 'postgres',
    passfile: join(scratch, 'no-passfile'),
    connectTimeoutMs: 1000,
    statementTimeoutMs: 1000,
  };

  it('importing connect.ts does not load pg', () => {
    assert.equal(pgBefore, false);
  });

  it('the first connection loads pg but not fetch, and leaves globalThis as it was', async (t) => {
    if (fetchBefore) t.skip('fetch was already loaded before the test');
    await assert.rejects(
      withConnection(target, () => Promise.resolve()),
      (error) => error instanceof SkypgError,
    );
    assert.equal(loadedPg(), true);
    assert.equal(loadedFetch(), false);
    assert.equal('navigator' in globalThis, hadNavigator);
  });
});
