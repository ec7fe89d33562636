// skypg connstring's URI (src/lib/config/connstring.ts), built from validated configurations.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildConnstring } from '../../src/lib/config/connstring.js';
import { exampleConfig } from '../../src/lib/config/example.js';
import { checkConfigText } from '../../src/lib/config/load.js';
import type { ClusterConfig } from '../../src/lib/config/types.js';

async function configOf(text: string): Promise<ClusterConfig> {
  const { config, problems } = await checkConfigText(text, 'skypg.yaml');
  if (config === undefined) throw new Error(problems.map((p) => p.message).join('; '));
  return config;
}

const base = { target: 'read-write', database: 'postgres', user: undefined } as const;

describe('skypg connstring', () => {
  it('lists both nodes in order with their ports, for the primary by default', async () => {
    const got = buildConnstring(await configOf(exampleConfig), base);
    assert.equal(
      got.uri,
      'postgresql://10.231.0.11:5432,10.231.0.12:5432/postgres?target_session_attrs=read-write&connect_timeout=3',
    );
    assert.equal(got.needsLibpq, 10);
  });

  it('brackets IPv6 addresses, keeps per-node ports and host names, encodes user and database', async () => {
    const text = `cluster: six
nodes:
  - { name: a, address: "fd00::11", data_dir: /d, postgres: { port: 5433 } }
  - { name: b, address: db-b.example.internal, data_dir: /d }
postgres: { connect_timeout: 500ms, sslmode: verify-full }
`;
    const got = buildConnstring(await configOf(text), {
      target: 'prefer-standby',
      database: 'app/db',
      user: 'app@eu',
    });
    assert.equal(
      got.uri,
      'postgresql://app%40eu@[fd00::11]:5433,db-b.example.internal:5432/app%2Fdb?target_session_attrs=prefer-standby&connect_timeout=2&sslmode=verify-full',
    );
    assert.deepEqual(got.hosts, ['[fd00::11]:5433', 'db-b.example.internal:5432']);
    assert.equal(got.needsLibpq, 14);
  });

  it('says which targets need libpq 14', async () => {
    const config = await configOf(exampleConfig);
    const needs = (
      ['read-write', 'any', 'read-only', 'primary', 'standby', 'prefer-standby'] as const
    ).map((target) => buildConnstring(config, { ...base, target }).needsLibpq);
    assert.deepEqual(needs, [10, 10, 14, 14, 14, 14]);
  });

  it('never carries a password', async () => {
    const got = buildConnstring(await configOf(exampleConfig), { ...base, user: 'postgres' });
    assert.doesNotMatch(got.uri, /password|:[^/@]*@/);
  });
});
