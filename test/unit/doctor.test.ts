// The pure parts of skypg doctor: pg_hba rule matching, settings verdicts, checklist and exit code.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { judgeSpace } from '../../src/lib/pg/data-dir.js';
import { checkConfigText } from '../../src/lib/config/load.js';
import { exampleConfig } from '../../src/lib/config/example.js';
import type { ClusterConfig } from '../../src/lib/config/types.js';
import {
  doctorExitCode,
  renderChecklist,
  resultJson,
  type CheckResult,
} from '../../src/lib/doctor/checklist.js';
import {
  connectionsTo,
  evaluateHba,
  hbaBlockBegin,
  hbaLineFor,
  withHbaBlock,
  type HbaConnection,
  type HbaContext,
  type HbaRule,
} from '../../src/lib/doctor/hba.js';
import {
  alterSystemSql,
  evaluateSettings,
  type SettingRow,
  type SettingsInput,
} from '../../src/lib/doctor/settings.js';

let config: ClusterConfig;
before(async () => {
  const checked = await checkConfigText(exampleConfig, 'example.yaml');
  assert.ok(checked.config);
  config = checked.config;
});

let lineNumber = 0;
/** One pg_hba_file_rules row from a pg_hba.conf-like line: TYPE DB USER [ADDRESS/BITS] METHOD. */
function rule(text: string): HbaRule {
  const [type = '', database = '', user = '', ...rest] = text.split(/\s+/);
  const method = rest.pop() ?? '';
  const [address, bits] = (rest[0] ?? '').split('/');
  // JavaScript shifts by 32 mod 32, so /0 is spelled out.
  const mask32 = Number(bits) === 0 ? 0 : (0xffffffff << (32 - Number(bits))) >>> 0;
  const mask =
    bits === undefined ? null : [24, 16, 8, 0].map((shift) => (mask32 >>> shift) & 255).join('.');
  lineNumber += 1;
  return {
    line_number: lineNumber,
    type,
    database: database.split(','),
    user_name: user.split(','),
    address: type === 'local' ? null : (address ?? null),
    netmask: type === 'local' || address === 'all' ? null : mask,
    auth_method: method,
    error: null,
  };
}

const replication: HbaConnection = {
  purpose: 'replication',
  database: 'replication',
  user: 'replica',
  address: '10.231.0.130',
  replication: true,
  ssl: false,
};
const heartbeat: HbaConnection = {
  purpose: 'heartbeat',
  database: 'sky_pg_cluster',
  user: 'sky_pg_cluster',
  address: '10.231.0.12',
  replication: false,
  ssl: false,
};
const noGroups: HbaContext = { memberOf: () => false, serverAddresses: ['10.231.0.11'] };

describe('pg_hba evaluation', () => {
  const cases: {
    name: string;
    rules: string[];
    connection: HbaConnection;
    expected: string;
    context?: HbaContext;
  }[] = [
    {
      name: 'the seed VIP line admits replication from the VIP',
      rules: ['host replication replica 10.231.0.130/32 md5'],
      connection: replication,
      expected: 'admitted:1',
    },
    {
      name: 'without the VIP line, node lines do not cover the VIP',
      rules: [
        'host replication replica 10.231.0.11/32 md5',
        'host replication replica 10.231.0.12/32 md5',
      ],
      connection: replication,
      expected: 'no-match',
    },
    {
      name: '"all" does not match a physical replication connection',
      rules: ['host all all 0.0.0.0/0 md5'],
      connection: replication,
      expected: 'no-match',
    },
    {
      name: 'a subnet covers the VIP',
      rules: ['host replication replica 10.231.0.0/24 scram-sha-256'],
      connection: replication,
      expected: 'admitted:1',
    },
    {
      name: 'first match wins: an earlier reject shadows a later accept',
      rules: [
        'host all all 10.231.0.12/32 reject',
        'host sky_pg_cluster sky_pg_cluster 10.231.0.0/24 md5',
      ],
      connection: heartbeat,
      expected: 'rejected:1',
    },
    {
      name: 'another user or database does not match',
      rules: [
        'host postgres sky_pg_cluster 10.231.0.0/24 md5',
        'host sky_pg_cluster replica 10.231.0.0/24 md5',
      ],
      connection: heartbeat,
      expected: 'no-match',
    },
    {
      name: 'sameuser matches the database named like the user',
      rules: ['host sameuser all 10.231.0.0/24 md5'],
      connection: heartbeat,
      expected: 'admitted:1',
    },
    {
      name: '+group matches a member of the group',
      rules: ['host all +hagroup 10.231.0.0/24 md5'],
      connection: heartbeat,
      context: { memberOf: (_user, role) => role === 'hagroup', serverAddresses: [] },
      expected: 'admitted:1',
    },
    {
      name: 'hostssl does not match a client without SSL; host does',
      rules: ['hostssl all all 10.231.0.0/24 md5', 'host all all 10.231.0.0/24 scram-sha-256'],
      connection: heartbeat,
      expected: 'admitted:2',
    },
    {
      name: 'local lines match only the Unix socket',
      rules: ['local all all trust', 'host all all 0.0.0.0/0 md5'],
      connection: heartbeat,
      expected: 'admitted:2',
    },
    {
      name: 'a host name cannot be evaluated',
      rules: ['host all all db.example 0 md5'],
      connection: heartbeat,
      expected: 'unknown:1',
    },
    {
      name: 'an IPv6 rule never matches an IPv4 client',
      rules: ['host all all ::1/128 md5'],
      connection: heartbeat,
      expected: 'no-match',
    },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      lineNumber = 0;
      const rules = testCase.rules.map((text) =>
        text.includes(' db.example ')
          ? { ...rule('host all all 1.2.3.4/32 md5'), address: 'db.example', netmask: null }
          : rule(text),
      );
      const verdict = evaluateHba(rules, testCase.connection, testCase.context ?? noGroups);
      const summary = 'line' in verdict ? `${verdict.kind}:${verdict.line}` : verdict.kind;
      assert.equal(summary, testCase.expected);
    });
  }

  it('a line that does not parse is skipped, as the server does', () => {
    lineNumber = 0;
    const broken = { ...rule('host all all 10.231.0.0/24 md5'), error: 'invalid auth method' };
    assert.equal(evaluateHba([broken], heartbeat, noGroups).kind, 'no-match');
  });

  it('lists replication and heartbeat from both nodes and both VIPs, as the seed insists', () => {
    const connections = connectionsTo(config, config.nodes[0]);
    const from = (purpose: string) =>
      connections.filter((c) => c.purpose === purpose).map((c) => c.address);
    const all = ['10.231.0.11', '10.231.0.12', '10.231.0.130', '10.231.0.131'];
    assert.deepEqual(from('replication'), all);
    assert.deepEqual(from('heartbeat'), all);
    assert.ok(connections.some((c) => c.address === undefined && c.user === 'sky_pg_cluster'));
  });

  it('writes the fix as one /32 line', () => {
    assert.equal(
      hbaLineFor(replication, 'scram-sha-256'),
      'host  replication  replica  10.231.0.130/32  scram-sha-256',
    );
  });
});

describe('pg_hba fix lines and block', () => {
  const heartbeatFrom = (address: string | undefined, user = 'sky_pg_cluster'): HbaConnection => ({
    purpose: 'heartbeat',
    database: 'sky_pg_cluster',
    user,
    ...(address === undefined ? {} : { address }),
    replication: false,
    ssl: false,
  });

  it('an IPv6 address gets /128, never a /32 network', () => {
    assert.equal(
      hbaLineFor(heartbeatFrom('2001:db8:1::12'), 'scram-sha-256'),
      'host  sky_pg_cluster  sky_pg_cluster  2001:db8:1::12/128  scram-sha-256',
    );
  });

  it('quotes names with spaces, commas or keywords, and refuses what cannot be quoted', () => {
    assert.equal(
      hbaLineFor(heartbeatFrom(undefined, 'hb user'), 'peer'),
      'local  sky_pg_cluster  "hb user"  peer',
    );
    assert.match(hbaLineFor(heartbeatFrom('10.0.0.1', 'all'), 'md5'), /^host {2}\S+ {2}"all" /);
    assert.match(hbaLineFor(heartbeatFrom('10.0.0.1', '+admins,x'), 'md5'), / {2}"\+admins,x" /);
    for (const bad of ['a"b', 'line\nbreak', '']) {
      assert.throws(
        () => hbaLineFor(heartbeatFrom('10.0.0.1', bad), 'md5'),
        /role .* cannot be written in pg_hba\.conf/,
      );
    }
  });

  it('puts the block above the first rule, and a second run changes nothing', () => {
    const text = '# comment\n\nlocal all all peer\nhost all all 0.0.0.0/0 reject\n';
    const line = 'host  replication  replica  10.231.0.130/32  scram-sha-256';
    const once = withHbaBlock(text, [line]);
    assert.equal(
      once,
      `# comment\n\n${hbaBlockBegin}\n${line}\n# END skypg doctor --fix\nlocal all all peer\nhost all all 0.0.0.0/0 reject\n`,
    );
    assert.equal(withHbaBlock(once, [line]), once);
    assert.equal(withHbaBlock(once, [line.replaceAll('  ', ' ')]), once, 'spacing does not count');
  });

  it('adds a new line into the existing block instead of a second block', () => {
    const first = withHbaBlock('local all all peer\n', ['local  a  b  peer']);
    const second = withHbaBlock(first, ['local  c  d  peer']);
    assert.equal(second.split(hbaBlockBegin).length, 2);
    assert.match(second, /local {2}a {2}b {2}peer\nlocal {2}c {2}d {2}peer\n# END/);
  });
});

function settings(
  overrides: Record<string, string> = {},
  pending: string[] = [],
): Map<string, SettingRow> {
  const values: Record<string, string> = {
    wal_level: 'replica',
    max_wal_senders: '10',
    hot_standby: 'on',
    wal_log_hints: 'on',
    data_checksums: 'off',
    hot_standby_feedback: 'on',
    wal_keep_size: '256',
    archive_mode: 'off',
    archive_command: '',
    restore_command: '',
    listen_addresses: '*',
    synchronous_standby_names: '',
    ...overrides,
  };
  const restart = new Set([
    'wal_level',
    'max_wal_senders',
    'hot_standby',
    'wal_log_hints',
    'archive_mode',
    'listen_addresses',
  ]);
  return new Map(
    Object.entries(values).map(([name, setting]) => [
      name,
      {
        name,
        setting,
        context: restart.has(name) ? 'postmaster' : 'sighup',
        pending_restart: pending.includes(name),
      },
    ]),
  );
}

function verdictsOf(
  overrides: Record<string, string>,
  extra: Partial<SettingsInput> = {},
  cfg?: ClusterConfig,
) {
  const input: SettingsInput = {
    settings: settings(overrides),
    role: 'primary',
    nodeAddress: '10.231.0.11',
    vips: ['10.231.0.130', '10.231.0.131'],
    peerName: 'host2',
    hasSlot: false,
    ...extra,
  };
  return evaluateSettings(cfg ?? config, input).filter((verdict) => verdict.status !== 'ok');
}

describe('settings evaluation', () => {
  it('a pair set up like the lab has nothing to say', () => {
    assert.deepEqual(verdictsOf({}), []);
  });

  // name, settings changed, then the verdict expected: setting, status, ALTER SYSTEM value.
  const cases: [string, Record<string, string>, [string, string, string | null | undefined]][] = [
    ['wal_level minimal fails', { wal_level: 'minimal' }, ['wal_level', 'fail', 'replica']],
    [
      'one WAL sender is not enough for a rebuild',
      { max_wal_senders: '1' },
      ['max_wal_senders', 'fail', '10'],
    ],
    ['hot_standby off fails', { hot_standby: 'off' }, ['hot_standby', 'fail', 'on']],
    [
      'pg_rewind needs wal_log_hints or checksums',
      { wal_log_hints: 'off' },
      ['wal_log_hints', 'fail', 'on'],
    ],
    [
      'hot_standby_feedback off warns',
      { hot_standby_feedback: 'off' },
      ['hot_standby_feedback', 'warn', 'on'],
    ],
    ['no WAL kept and no slot warns', { wal_keep_size: '0' }, ['wal_keep_size', 'warn', '1GB']],
    [
      'an archive without a command fails',
      { archive_mode: 'on' },
      ['archive_command', 'fail', undefined],
    ],
    [
      'listen_addresses must cover the VIPs',
      { listen_addresses: 'localhost,10.231.0.11' },
      ['listen_addresses', 'fail', undefined],
    ],
    [
      'async mode with a sync standby named fails, fixed by RESET',
      { synchronous_standby_names: 'host2' },
      ['synchronous_standby_names', 'fail', null],
    ],
  ];
  for (const [name, overrides, expected] of cases) {
    it(name, () => {
      const bad = verdictsOf(overrides);
      const [first] = bad.filter((verdict) => verdict.name === expected[0]);
      assert.ok(first, `no verdict for ${expected[0]}: ${JSON.stringify(bad)}`);
      assert.deepEqual([first.name, first.status, first.fixValue], expected);
    });
  }

  it('listen_addresses: proposes the exact addresses (kept ones first), never applies *', () => {
    const [verdict] = verdictsOf({ listen_addresses: 'localhost,10.231.0.11' }).filter(
      (v) => v.name === 'listen_addresses',
    );
    assert.equal(verdict?.fixValue, undefined, 'nothing for --fix to apply');
    assert.match(
      verdict?.fixText ?? '',
      /^ALTER SYSTEM SET listen_addresses = 'localhost,10\.231\.0\.11,10\.231\.0\.130,10\.231\.0\.131';/,
    );
    assert.doesNotMatch(verdict?.fixText ?? '', /'\*'/);
  });

  it('data checksums stand in for wal_log_hints', () => {
    assert.deepEqual(verdictsOf({ wal_log_hints: 'off', data_checksums: 'on' }), []);
  });

  it('a replication slot stands in for wal_keep_size', () => {
    assert.deepEqual(verdictsOf({ wal_keep_size: '0' }, { hasSlot: true }), []);
  });

  it('sync mode: the primary names the standby; empty is a degrade (warn)', () => {
    const sync = { ...config, replication: { ...config.replication, mode: 'sync' as const } };
    assert.deepEqual(verdictsOf({ synchronous_standby_names: 'host2' }, {}, sync), []);
    assert.equal(verdictsOf({}, {}, sync)[0]?.status, 'warn');
    assert.deepEqual(verdictsOf({}, { role: 'standby' }, sync), []);
  });

  it('says when a changed value waits for a restart', () => {
    const input: SettingsInput = {
      settings: settings({ wal_log_hints: 'off' }, ['wal_log_hints']),
      role: 'primary',
      nodeAddress: '10.231.0.11',
      vips: [],
      peerName: 'host2',
      hasSlot: false,
    };
    const [verdict] = evaluateSettings(config, input).filter((v) => v.status !== 'ok');
    assert.match(verdict?.found ?? '', /waits for a restart/);
  });

  it('writes ALTER SYSTEM statements with quoted values', () => {
    assert.equal(
      alterSystemSql('listen_addresses', '*'),
      "ALTER SYSTEM SET listen_addresses = '*'",
    );
    assert.equal(
      alterSystemSql('synchronous_standby_names', null),
      'ALTER SYSTEM RESET synchronous_standby_names',
    );
  });
});

describe('checklist', () => {
  const result = (
    status: CheckResult['status'],
    extra: Partial<CheckResult> = {},
  ): CheckResult => ({
    id: 'settings',
    node: 'host1',
    scope: 'network',
    status,
    found: `found ${status}`,
    ...extra,
  });

  it('exits 0 when all OK (skips do not count), 1 on a WARN, 2 on a FAIL', () => {
    assert.equal(doctorExitCode([]), 0);
    assert.equal(doctorExitCode([result('ok'), result('skip')]), 0);
    assert.equal(doctorExitCode([result('ok'), result('warn'), result('skip')]), 1);
    assert.equal(doctorExitCode([result('warn'), result('fail')]), 2);
  });

  it('renders one line per check, the fix below a problem, local checks marked, and a summary', () => {
    const lines = renderChecklist([
      result('ok', { fix: 'not shown for OK' }),
      result('fail', { id: 'passfile', scope: 'local', fix: 'chmod 600 /x\nsecond line' }),
      result('skip', { id: 'systemd', node: undefined }),
    ]);
    assert.deepEqual(lines, [
      'OK    settings host1  found ok',
      'FAIL  passfile host1  found fail (local)',
      '      fix: chmod 600 /x',
      '           second line',
      'SKIP  systemd         found skip',
      '1 ok, 0 warn, 1 fail, 1 skipped',
    ]);
  });

  it('leaves the fix actions out of the JSON', () => {
    const json = resultJson(
      result('fail', { fixes: [{ describe: 'x', apply: () => Promise.resolve(undefined) }] }),
    );
    assert.equal('fixes' in json, false);
    assert.equal(json.status, 'fail');
  });
});

describe('free space under pg_wal and the data directory (judgeSpace)', () => {
  const mib = 1024 ** 2;
  const segment = 16 * mib;
  const cases: { name: string; free: number; size: number; status: string }[] = [
    { name: 'less than two WAL segments fails', free: 31 * mib, size: 64 * mib, status: 'fail' },
    {
      name: 'two segments on a small filesystem is ok',
      free: 32 * mib,
      size: 64 * mib,
      status: 'ok',
    },
    {
      name: 'under 5% of a 1 GiB filesystem warns',
      free: 40 * mib,
      size: 1024 * mib,
      status: 'warn',
    },
    {
      name: 'under 256 MiB of a big filesystem warns',
      free: 200 * mib,
      size: 100_000 * mib,
      status: 'warn',
    },
    {
      name: '256 MiB of a big filesystem is ok',
      free: 256 * mib,
      size: 100_000 * mib,
      status: 'ok',
    },
  ];
  for (const { name, free, size, status } of cases) {
    it(name, () => {
      const verdict = judgeSpace({ path: '/pg/wal', freeBytes: free, sizeBytes: size }, segment);
      assert.equal(verdict.status, status, verdict.detail);
      assert.match(verdict.detail, /^\/pg\/wal has [\d.]+ MiB free/);
    });
  }
  it('names what PostgreSQL cannot do when it fails', () => {
    const verdict = judgeSpace({ path: '/w', freeBytes: mib, sizeBytes: 64 * mib }, segment);
    assert.match(
      verdict.detail,
      /less than 2 WAL segments \(32\.0 MiB\): PostgreSQL cannot write the end-of-recovery checkpoint/,
    );
  });
});
