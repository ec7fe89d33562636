// The TLS keys of postgres: defaults, per-node overrides, and a bad value located in one line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConfigText, formatProblem } from '../../src/lib/config/load.js';

const config = (postgres: string, host1Postgres: string): string => `cluster: demo
postgres: ${postgres}
nodes:
  - name: host1
    address: 10.231.0.11
    data_dir: /var/lib/postgresql/15/main
    postgres: ${host1Postgres}
  - name: host2
    address: 10.231.0.12
    data_dir: /var/lib/postgresql/15/main
`;

describe('config: postgres TLS keys', () => {
  it('defaults to sslmode disable and channel_binding prefer; a node overrides them', async () => {
    const text = config(
      '{ sslmode: verify-full, sslrootcert: /etc/skypg/ca.crt }',
      '{ sslmode: verify-ca, channel_binding: require }',
    );
    const { config: parsed, problems } = await checkConfigText(text, 'x');
    assert.deepEqual(problems, []);
    const [host1, host2] = parsed?.nodes ?? [];
    assert.equal(host1?.postgres.sslmode, 'verify-ca');
    assert.equal(host1?.postgres.channel_binding, 'require');
    assert.equal(host1?.postgres.sslrootcert, '/etc/skypg/ca.crt');
    assert.equal(host2?.postgres.sslmode, 'verify-full');
    assert.equal(host2?.postgres.channel_binding, 'prefer');
    const plain = await checkConfigText(config('{}', '{}'), 'x');
    assert.equal(plain.config?.nodes[0].postgres.sslmode, 'disable');
    assert.equal(plain.config?.nodes[0].postgres.sslcert, undefined);
  });

  it('rejects an unknown sslmode and a relative sslrootcert, each located', async () => {
    const { problems } = await checkConfigText(
      config('{ sslmode: verify_full }', '{ sslrootcert: ca.crt }'),
      'skypg.yaml',
    );
    const lines = problems.map(formatProblem);
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(lines[0] ?? '', /^skypg\.yaml:2:\d+: postgres\.sslmode: .*verify-full/);
    assert.match(lines[1] ?? '', /^skypg\.yaml:7:\d+: nodes\[0\]\.postgres\.sslrootcert: /);
  });
});
