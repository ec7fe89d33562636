import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exampleConfig } from '../../src/lib/config/example.js';
import { checkConfigText, formatProblem } from '../../src/lib/config/load.js';

/** A minimal valid config; cases below edit it with small string replacements. */
const minimal = `cluster: demo
nodes:
  - name: host1
    address: 10.231.0.11
    data_dir: /var/lib/postgresql/15/main
  - name: host2
    address: 10.231.0.12
    data_dir: /var/lib/postgresql/15/main
`;

async function problemsOf(text: string): Promise<string[]> {
  const { problems } = await checkConfigText(text, 'skypg.yaml');
  return problems.map(formatProblem);
}

describe('config validation', () => {
  it('accepts the printed example as it is', async () => {
    const { config, problems } = await checkConfigText(exampleConfig, 'example.yaml');
    assert.deepEqual(problems, []);
    assert.equal(config?.nodes[0].name, 'host1');
    assert.equal(config?.heartbeat.interval, 1000);
    assert.equal(config?.failover.max_lag, 16 * 1024 * 1024);
    assert.equal(config?.nodes[0].fence[0]?.options['lanplus'], '1');
    assert.equal(config?.nodes[0].fence[0]?.label, 'ipmi');
    assert.equal(config?.nodes[1].fence[0]?.label, 'ipmitool');
    // fence_ipmilan puts the BMC password on ipmitool's command line: never the example's default.
    const agents = config?.nodes.flatMap((node) => node.fence.map((level) => level.agent));
    assert.ok(agents !== undefined && agents.length >= 2);
    assert.deepEqual([...new Set(agents)], ['ipmitool']);
  });

  it('applies defaults and merges per-node postgres overrides', async () => {
    const text = minimal.replace(
      '    data_dir: /var/lib/postgresql/15/main\n  - name: host2',
      '    data_dir: /var/lib/postgresql/15/main\n    postgres: { port: 5433 }\n  - name: host2',
    );
    const { config } = await checkConfigText(
      `${text}postgres: { port: 6000, superuser: admin }\n`,
      'x',
    );
    assert.equal(config?.nodes[0].postgres.port, 5433);
    assert.equal(config?.nodes[0].postgres.superuser, 'admin');
    assert.equal(config?.nodes[1].postgres.port, 6000);
    assert.equal(config?.nodes[1].postgres.os_user, 'postgres');
    assert.equal(config?.replication.mode, 'async');
    assert.deepEqual(config?.gateway, []);
  });

  it('reports a misspelled key, a bad port and a missing data_dir, each located', async () => {
    const text = `cluster: demo
postgres:
  prot: 5432
nodes:
  - name: host1
    address: 10.231.0.11
    data_dir: /data
    postgres: { port: abc }
  - name: host2
    address: 10.231.0.12
`;
    assert.deepEqual(await problemsOf(text), [
      'skypg.yaml:3:3: postgres.prot: unknown key (did you mean "port"?)',
      'skypg.yaml:8:23: nodes[0].postgres.port: expected an integer from 1 to 65535, got "abc"',
      'skypg.yaml:9:5: nodes[1].data_dir: is required (an absolute path)',
    ]);
  });

  const rejected: { name: string; edit: (text: string) => string; expect: RegExp }[] = [
    {
      name: 'one node',
      edit: (t) => t.split('  - name: host2')[0] ?? t,
      expect: /nodes: expected exactly 2 entries, got 1/,
    },
    {
      name: 'duplicate node names',
      edit: (t) => t.replace('name: host2', 'name: host1'),
      expect: /nodes\[1\]\.name: duplicates the name/,
    },
    {
      name: 'same address and port',
      edit: (t) => t.replace('10.231.0.12', '10.231.0.11'),
      expect: /same address and port/,
    },
    {
      name: 'duration without unit',
      edit: (t) => `${t}heartbeat: { interval: 1 }\n`,
      expect: /heartbeat\.interval: .*got 1 \(add a unit\)/,
    },
    {
      name: 'bad size',
      edit: (t) => `${t}failover: { max_lag: lots }\n`,
      expect: /failover\.max_lag: expected a size/,
    },
    {
      name: 'misspelled enum',
      edit: (t) => `${t}replication: { mode: snyc }\n`,
      expect: /did you mean "sync"/,
    },
    {
      name: 'relative data_dir',
      edit: (t) => t.replace('data_dir: /var/lib/postgresql/15/main', 'data_dir: main'),
      expect: /nodes\[0\]\.data_dir: expected an absolute path/,
    },
    {
      name: 'bad VIP',
      edit: (t) => `${t}vip: { primary: { address: 10.231.0.130, interface: eth0 } }\n`,
      expect: /vip\.primary\.address: expected an address with a prefix length/,
    },
    {
      name: 'VIP equal to a node address',
      edit: (t) => `${t}vip: { primary: { address: 10.231.0.11/24, interface: eth0 } }\n`,
      expect: /node host1's own address/,
    },
    {
      name: 'bad gateway',
      edit: (t) => `${t}gateway: [gw.example]\n`,
      expect: /gateway\[0\]: expected an IP address/,
    },
    {
      name: 'command fence without command',
      edit: (t) => t.replace('  - name: host2', '    fence: { agent: command }\n  - name: host2'),
      expect: /fence\.command: is required when agent is "command"/,
    },
    {
      name: 'IPMI fence without ip',
      edit: (t) =>
        t.replace('  - name: host2', '    fence: { agent: fence_ipmilan }\n  - name: host2'),
      expect: /fence\.ip: is required for agent "fence_ipmilan"/,
    },
    {
      name: 'a fence.command with arguments',
      edit: (t) =>
        t.replace(
          '  - name: host2',
          '    fence: { agent: command, command: "/usr/local/sbin/pdu-fence --outlet 3" }\n  - name: host2',
        ),
      expect: /fence\.command: expected one absolute path to an executable, without arguments/,
    },
    {
      name: 'a fence.command with $(…)',
      edit: (t) =>
        t.replace(
          '  - name: host2',
          '    fence: { agent: command, command: "/bin/$(id)" }\n  - name: host2',
        ),
      expect: /fence\.command: expected one absolute path/,
    },
    {
      name: 'a newline in fence.username (it would add action=off to the agent input)',
      edit: (t) =>
        t.replace(
          '  - name: host2',
          '    fence: { agent: fence_ipmilan, ip: 10.0.0.9, username: "fence\\naction=off" }\n  - name: host2',
        ),
      expect: /fence\.username: must not contain control characters/,
    },
    {
      name: 'a newline in a fence option value',
      edit: (t) =>
        t.replace(
          '  - name: host2',
          '    fence: { agent: fence_ipmilan, ip: 10.0.0.9, options: { cipher: "3\\naction=reboot" } }\n  - name: host2',
        ),
      expect: /fence\.options\.cipher: must not contain control characters/,
    },
    {
      name: 'an "=" in a fence option name',
      edit: (t) =>
        t.replace(
          '  - name: host2',
          '    fence: { agent: fence_ipmilan, ip: 10.0.0.9, options: { "action=off x": 1 } }\n  - name: host2',
        ),
      expect: /an option name has only letters, digits/,
    },
    {
      name: 'the second fence level without ip, located in the list',
      edit: (t) =>
        t.replace(
          '  - name: host2',
          '    fence:\n      - { agent: ipmitool, ip: 10.0.0.9 }\n      - { name: pdu, agent: fence_apc }\n  - name: host2',
        ),
      expect: /skypg\.yaml:8:\d+: nodes\[0\]\.fence\[1\]\.ip: is required for agent "fence_apc"/,
    },
    {
      name: 'duplicate key',
      edit: (t) => `${t}cluster: other\n`,
      expect: /malformed YAML: Map keys must be unique/,
    },
    { name: 'malformed YAML', edit: (t) => `${t}vip: [\n`, expect: /malformed YAML/ },
    { name: 'empty file', edit: () => '\n', expect: /skypg\.yaml:1:1: the file is empty/ },
    {
      name: 'a list at the top',
      edit: () => '- a\n- b\n',
      expect: /expected a mapping, got a list/,
    },
  ];
  for (const { name, edit, expect } of rejected) {
    it(`rejects ${name}`, async () => {
      const problems = await problemsOf(edit(minimal));
      assert.ok(
        problems.some((line) => expect.test(line)),
        `no line matched ${String(expect)} in:\n${problems.join('\n')}`,
      );
    });
  }

  it('takes one fence device or a list of levels, and gives code one shape', async () => {
    const one = await checkConfigText(
      minimal.replace(
        '  - name: host2',
        '    fence: { agent: ipmitool, ip: 10.0.0.9 }\n  - name: host2',
      ),
      'x',
    );
    assert.deepEqual(one.problems, []);
    assert.equal(one.config?.nodes[0].fence.length, 1);
    assert.equal(one.config?.nodes[0].fence[0]?.label, 'ipmitool');
    assert.equal(one.config?.nodes[0].fence[0]?.connect_timeout, 2000);
    assert.deepEqual(one.config?.nodes[1].fence, []);
    const two = await checkConfigText(
      minimal.replace(
        '  - name: host2',
        '    fence:\n      - { name: bmc, agent: ipmitool, ip: 10.0.0.9, connect_timeout: 1s }\n      - { name: pdu, agent: command, command: /usr/local/sbin/pdu-fence, options: { outlet: 3 } }\n  - name: host2',
      ),
      'x',
    );
    assert.deepEqual(two.problems, []);
    assert.deepEqual(
      two.config?.nodes[0].fence.map((level) => [level.label, level.agent, level.connect_timeout]),
      [
        ['bmc', 'ipmitool', 1000],
        ['pdu', 'command', 2000],
      ],
    );
    assert.equal(two.config?.nodes[0].fence[1]?.options['outlet'], '3');
  });

  it('warns about the safety a minimal pair gives up, without failing', async () => {
    const { config, warnings } = await checkConfigText(minimal, 'x');
    assert.ok(config);
    assert.ok(warnings.some((w) => w.includes('no vip.primary')));
    assert.ok(warnings.some((w) => w.includes('no gateway')));
    assert.ok(warnings.some((w) => w.includes('node host1 has no fence device')));
  });
});

describe('fence password files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skypg-unit-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const withPasswordFile = (file: string): string =>
    minimal.replace(
      '  - name: host2',
      `    fence: { agent: fence_ipmilan, ip: 10.231.0.101, password_file: ${file} }\n  - name: host2`,
    );

  it('rejects a password file readable by group or others', async () => {
    const file = join(dir, 'open.ipmi');
    await writeFile(file, 'secret\n');
    await chmod(file, 0o644);
    const problems = await problemsOf(withPasswordFile(file));
    assert.equal(problems.length, 1);
    assert.match(
      problems[0] ?? '',
      /nodes\[0\]\.fence\.password_file: .* has mode 0644, readable by group or others; run 'chmod 600/,
    );
  });

  it('accepts mode 0600 and warns about a file that does not exist yet', async () => {
    const file = join(dir, 'closed.ipmi');
    await writeFile(file, 'secret\n');
    await chmod(file, 0o600);
    assert.deepEqual(await problemsOf(withPasswordFile(file)), []);
    const missing = await checkConfigText(withPasswordFile(join(dir, 'absent')), 'x');
    assert.deepEqual(missing.problems, []);
    assert.ok(missing.warnings.some((w) => w.includes('does not exist yet')));
  });
});

/** The problems without their FILE:LINE:COL prefix, for exact comparison. */
async function messagesOf(text: string): Promise<string[]> {
  return (await problemsOf(text)).map((line) => line.replace(/^skypg\.yaml:\d+:\d+: /, ''));
}

const withFence = (t: string, fence: string): string =>
  t.replace('  - name: host2', `    fence: ${fence}\n  - name: host2`);
const withVip = (t: string, vip: string): string => `${t}vip: { primary: ${vip} }\n`;
const roleProblem = (path: string, got: string): string =>
  `${path}: expected a PostgreSQL name such as sky_pg_cluster (a letter or "_", then letters, digits, "_", "-" or ".", at most 63 bytes), got ${got}`;
const controlProblem = (path: string, got: string): string =>
  `${path}: must not contain control characters (newline, carriage return, tab, NUL...), got ${got}; write the value on one line`;

describe('config validation: the bad-input list (issue 14)', () => {
  const cases: { name: string; edit: (text: string) => string; expect: string[] }[] = [
    {
      name: 'a port written as a quoted hexadecimal string',
      edit: (t) => `${t}postgres: { port: "0x1538" }\n`,
      expect: ['postgres.port: expected an integer from 1 to 65535, got "0x1538"'],
    },
    {
      name: 'a port written as a YAML hexadecimal number',
      edit: (t) => `${t}postgres: { port: 0x1538 }\n`,
      expect: ['postgres.port: is written as 0x1538; write numbers in decimal (5432)'],
    },
    {
      name: 'a duration above the 24h ceiling',
      edit: (t) => `${t}postgres: { connect_timeout: 1000h }\n`,
      expect: ['postgres.connect_timeout: must be at most 24h, got "1000h"'],
    },
    {
      name: 'a heartbeat interval above the ceiling',
      edit: (t) => `${t}heartbeat: { interval: 25h }\n`,
      expect: ['heartbeat.interval: must be at most 24h, got "25h"'],
    },
    {
      name: 'a size above the ceiling',
      edit: (t) => `${t}failover: { max_lag: 99999999999999TB }\n`,
      expect: ['failover.max_lag: must be at most 1024TB, got "99999999999999TB"'],
    },
    {
      name: 'a DAD timeout above a minute',
      edit: (t) => withVip(t, '{ address: 10.231.0.130/24, interface: eth0 }, dad_timeout: 2m'),
      expect: ['vip.dad_timeout: must be at most 1m, got "2m"'],
    },
    {
      name: 'an announce interval above a minute',
      edit: (t) =>
        withVip(t, '{ address: 10.231.0.130/24, interface: eth0 }, announce: { interval: 99999s }'),
      expect: ['vip.announce.interval: expected whole seconds from 1s to 60s, got "99999s"'],
    },
    {
      name: 'an IPv6 VIP',
      edit: (t) => withVip(t, '{ address: "fd00::130/64", interface: eth0 }'),
      expect: [
        'vip.primary.address: is an IPv6 address, but skypg checks and announces VIPs with iputils arping, which is IPv4-only; use an IPv4 VIP',
      ],
    },
    {
      name: 'a VIP equal to the gateway',
      edit: (t) =>
        withVip(`${t}gateway: [10.231.0.1]\n`, '{ address: 10.231.0.1/24, interface: eth0 }'),
      expect: [
        'vip.primary.address: is also gateway[0] (10.231.0.1); a VIP must be an address no other machine uses',
      ],
    },
    {
      name: 'a VIP equal to a BMC',
      edit: (t) =>
        withVip(
          withFence(t, '{ agent: fence_ipmilan, ip: 10.231.0.101 }'),
          '{ address: 10.231.0.101/24, interface: eth0 }',
        ),
      expect: [
        'vip.primary.address: is also nodes[0].fence.ip (10.231.0.101); a VIP must be an address no other machine uses',
      ],
    },
    {
      name: 'a VIP equal to a BMC written as ::ffff:',
      edit: (t) =>
        withVip(
          withFence(t, '{ agent: fence_ipmilan, ip: "::ffff:10.231.0.101" }'),
          '{ address: 10.231.0.101/24, interface: eth0 }',
        ),
      expect: [
        'vip.primary.address: is also nodes[0].fence.ip (::ffff:10.231.0.101); a VIP must be an address no other machine uses',
      ],
    },
    {
      name: 'a node address that is the VIP written as ::ffff:',
      edit: (t) =>
        withVip(
          t.replace('10.231.0.12', '"::ffff:10.231.0.130"'),
          '{ address: 10.231.0.130/24, interface: eth0 }',
        ),
      expect: [
        "vip.primary.address: is node host2's own address (::ffff:10.231.0.130); a VIP must be an extra address",
      ],
    },
    {
      name: 'a label not starting with its interface',
      edit: (t) => withVip(t, '{ address: 10.231.0.130/24, interface: eth0, label: "eth1:1" }'),
      expect: [
        'vip.primary.label: must be the interface name, a colon and a suffix, such as "eth0:1" (at most 15 characters), got "eth1:1"',
      ],
    },
    {
      name: 'shell characters in an interface name',
      edit: (t) => withVip(t, '{ address: 10.231.0.130/24, interface: "eth0;reboot" }'),
      expect: [
        'vip.primary.interface: expected a network interface name such as eth0 (1 to 15 letters, digits, "_", "." or "-"), got "eth0;reboot"',
      ],
    },
    {
      name: 'a " in a role name',
      edit: (t) => `${t}heartbeat: { user: 'hb"user' }\n`,
      expect: [roleProblem('heartbeat.user', '"hb\\"user"')],
    },
    {
      name: 'a space in a role name',
      edit: (t) => `${t}replication: { user: "hb user" }\n`,
      expect: [roleProblem('replication.user', '"hb user"')],
    },
    {
      name: 'a role name longer than 63 bytes',
      edit: (t) => `${t}postgres: { superuser: ${'a'.repeat(64)} }\n`,
      expect: [roleProblem('postgres.superuser', `"${'a'.repeat(64)}"`)],
    },
    {
      name: 'a cluster name longer than 63 bytes',
      edit: (t) => t.replace('cluster: demo', `cluster: ${'c'.repeat(64)}`),
      expect: [
        `cluster: expected a name of letters, digits, "_" and "-" (at most 63 characters), got "${'c'.repeat(64)}"`,
      ],
    },
    {
      name: 'an IPv4 address with an octet above 255',
      edit: (t) => t.replace('10.231.0.11', '999.1.1.1'),
      expect: ['nodes[0].address: expected an IP address or host name, got "999.1.1.1"'],
    },
    {
      name: 'a fence device address with an octet above 255',
      edit: (t) => withFence(t, '{ agent: fence_ipmilan, ip: 10.231.0.256 }'),
      expect: ['nodes[0].fence.ip: expected an IP address or host name, got "10.231.0.256"'],
    },
    {
      name: 'a newline in the fence user name',
      edit: (t) =>
        withFence(t, '{ agent: fence_ipmilan, ip: 10.231.0.101, username: "fence\\naction=off" }'),
      expect: [controlProblem('nodes[0].fence.username', '"fence\\naction=off"')],
    },
    {
      name: 'a newline in a fence option value',
      edit: (t) =>
        withFence(
          t,
          '{ agent: fence_ipmilan, ip: 10.231.0.101, options: { lanplus: "1\\naction=off" } }',
        ),
      expect: [controlProblem('nodes[0].fence.options.lanplus', '"1\\naction=off"')],
    },
    {
      name: 'a newline in a fence option key',
      edit: (t) =>
        withFence(t, '{ agent: fence_ipmilan, ip: 10.231.0.101, options: { "a\\nb": 1 } }'),
      expect: [controlProblem('nodes[0].fence.options["a\\nb"]', '"a\\nb"')],
    },
    {
      name: 'a NUL in a path',
      edit: (t) => t.replace('data_dir: /var/lib/postgresql/15/main', 'data_dir: "/var/lib\\0x"'),
      expect: [controlProblem('nodes[0].data_dir', '"/var/lib\\u0000x"')],
    },
    {
      name: 'a carriage return in the replication user',
      edit: (t) => `${t}replication: { user: "replica\\r" }\n`,
      expect: [controlProblem('replication.user', '"replica\\r"')],
    },
    {
      name: 'a tab in the fence agent name',
      edit: (t) => withFence(t, '{ agent: "fence_ipmilan\\t", ip: 10.231.0.101 }'),
      expect: [controlProblem('nodes[0].fence.agent', '"fence_ipmilan\\t"')],
    },
  ];
  for (const { name, edit, expect } of cases) {
    it(`rejects ${name}`, async () => {
      assert.deepEqual(await messagesOf(edit(minimal)), expect);
    });
  }

  it('still accepts decimal ports, 24h, an IPv6 node address and a label of its interface', async () => {
    const text = withVip(
      `${minimal.replace('10.231.0.12', '"fd00::12"')}postgres: { port: "5433", statement_timeout: 24h }\n`,
      '{ address: 10.231.0.130/24, interface: eth0.10, label: "eth0.10:1" }',
    );
    assert.deepEqual(await messagesOf(text), []);
  });

  it('a YAML alias bomb is one located config problem, not an internal error', async () => {
    const levels = Array.from({ length: 9 }, (_, i) => {
      const item = i === 0 ? '*a' : `*b${i - 1}`;
      return `b${i}: &b${i} [${Array(10).fill(item).join(', ')}]`;
    });
    const bomb = `a: &a [x, x, x, x, x, x, x, x, x, x]\n${levels.join('\n')}\n`;
    assert.deepEqual(await problemsOf(bomb), [
      'skypg.yaml:1:1: the file uses more YAML aliases (*name) than a configuration needs; write the values out',
    ]);
  });
});

describe('config validation: the health API listen address', () => {
  const twoOnLoopback = `${minimal
    .replace('address: 10.231.0.11', 'address: 127.0.0.1')
    .replace('address: 10.231.0.12', 'address: 127.0.0.1')
    .replace('  - name: host2', '    postgres: { port: 5433 }\n  - name: host2')}beacon: false\n`;

  it('listens on each node’s own address, port 8008, by default', async () => {
    const { config } = await checkConfigText(minimal, 'x');
    assert.deepEqual(
      config?.nodes.map((node) => node.api),
      [
        { host: '10.231.0.11', port: 8008 },
        { host: '10.231.0.12', port: 8008 },
      ],
    );
  });

  it('takes :PORT, ADDRESS:PORT and [IPv6]:PORT, a node’s own setting first, and false', async () => {
    const text = `${minimal.replace('  - name: host2', '    api: { listen: "[fd00::5]:9001" }\n  - name: host2')}api: { listen: "0.0.0.0:9000" }\n`;
    const { config, problems } = await checkConfigText(text, 'x');
    assert.deepEqual(problems, []);
    assert.deepEqual(config?.nodes[0].api, { host: 'fd00::5', port: 9001 });
    assert.deepEqual(config?.nodes[1].api, { host: '0.0.0.0', port: 9000 });
    const off = await checkConfigText(`${minimal}api: false\n`, 'x');
    assert.deepEqual(
      off.config?.nodes.map((node) => node.api),
      [undefined, undefined],
    );
  });

  it('refuses two nodes on the same address and port, naming the fix', async () => {
    assert.deepEqual(await messagesOf(twoOnLoopback), [
      'api.listen: gives both nodes the health API on 127.0.0.1:8008; give each node its own nodes[N].api.listen (or api: false)',
    ]);
    const fixed = twoOnLoopback.replace(
      '    postgres: { port: 5433 }\n  - name: host2',
      '    postgres: { port: 5433 }\n    api: { listen: ":8009" }\n  - name: host2',
    );
    assert.deepEqual(await messagesOf(fixed), []);
  });

  it('says what a listen address looks like when it is not one', async () => {
    const expected =
      "expected ADDRESS:PORT, [IPv6]:PORT, or :PORT for the node's own address (port 1 to 65535)";
    for (const bad of ['8008', ':0', ':65536', 'fd00::5:8008', '[10.0.0.1]:80', 'a b:80', ':80x']) {
      assert.deepEqual(
        await messagesOf(`${minimal}api: { listen: "${bad}" }\n`),
        [`api.listen: ${expected}, got "${bad}"`],
        bad,
      );
    }
    assert.deepEqual(await messagesOf(`${minimal}api: true\n`), [
      `api: expected false or a mapping, got true`,
    ]);
  });
});

describe('config validation: the beacon', () => {
  it('is on by default: UDP 8009 on each node’s own address, every 100ms, silent after 500ms', async () => {
    const { config } = await checkConfigText(minimal, 'x');
    assert.deepEqual(config?.beacon, { interval: 100, timeout: 500, confirm_timeout: 500 });
    assert.deepEqual(
      config?.nodes.map((node) => node.beacon),
      [
        { host: '10.231.0.11', port: 8009 },
        { host: '10.231.0.12', port: 8009 },
      ],
    );
  });

  it('beacon: false, or one node’s beacon: false, turns it off for the pair', async () => {
    const off = await checkConfigText(`${minimal}beacon: false\n`, 'x');
    assert.equal(off.config?.beacon, undefined);
    const oneOff = await checkConfigText(
      minimal.replace('  - name: host2', '    beacon: false\n  - name: host2'),
      'x',
    );
    assert.deepEqual(oneOff.problems, []);
    assert.equal(oneOff.config?.beacon, undefined);
  });

  it('confirm_timeout is never longer than heartbeat.timeout (a signal only makes a look quicker)', async () => {
    const short = await checkConfigText(
      `${minimal}heartbeat: { timeout: 300ms }\nbeacon: { confirm_timeout: 800ms }\n`,
      'x',
    );
    assert.deepEqual(short.problems, []);
    assert.equal(short.config?.beacon?.confirm_timeout, 300);
    const set = await checkConfigText(`${minimal}beacon: { confirm_timeout: 250ms }\n`, 'x');
    assert.equal(set.config?.beacon?.confirm_timeout, 250);
    assert.deepEqual(await messagesOf(`${minimal}beacon: { confirm_timeout: 10ms }\n`), [
      'beacon.confirm_timeout: must be at least 50ms, got "10ms"',
    ]);
  });

  it('refuses a timeout under three intervals, naming both', async () => {
    const { problems } = await checkConfigText(
      `${minimal}beacon: { interval: 200ms, timeout: 500ms }\n`,
      'x',
    );
    assert.deepEqual(
      problems.map((p) => `${p.path}: ${p.message}`),
      [
        'beacon.timeout: is shorter than 3 x beacon.interval (600ms): one or two lost datagrams would look like a silence; raise it or lower beacon.interval',
      ],
    );
  });
});
