// Bad inputs to the actions: one clear line, a non-zero exit, and nothing changed.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runSkypg } from '../support/cli.js';
import { makeScratchDir, removeScratchDir } from '../support/scratch.js';

describe('actions: bad inputs', () => {
  let dir: string;
  let configPath: string;
  before(async () => {
    dir = await makeScratchDir();
    configPath = join(dir, 'skypg.yaml');
    const openPassword = join(dir, 'open.password');
    await writeFile(openPassword, 'secret\n', { mode: 0o644 });
    await writeFile(
      configPath,
      [
        'cluster: bad',
        'nodes:',
        '  - { name: host1, address: 127.0.0.1, data_dir: /nonexistent/d1 }',
        `  - name: host2`,
        '    address: 127.0.0.1',
        '    data_dir: /nonexistent/d2',
        '    postgres: { port: 5433 }',
        `    fence: { agent: fence_ipmilan, ip: 127.0.0.1, username: fence, password_file: ${join(dir, 'missing.password')} }`,
        'failover: { fencing: none }',
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await removeScratchDir(dir);
  });

  const cases: { name: string; args: string[]; expect: RegExp }[] = [
    {
      name: 'an unknown VIP role',
      args: ['vip', 'up', 'tertiary'],
      expect: /^skypg: Expected tertiary to be one of: primary, standby/,
    },
    {
      name: 'an unconfigured VIP',
      args: ['vip', 'up', 'primary', '--node', 'host1'],
      expect: /^skypg: vip\.primary is not configured \(hint: /,
    },
    {
      name: 'fencing a node without a fence device',
      args: ['fence', 'host1'],
      expect: /^skypg: node host1 has no fence device configured \(hint: add a fence: block/,
    },
    {
      name: 'fencing an unknown node',
      args: ['fence', 'hots2'],
      expect: /^skypg: no node named "hots2" in the configuration \(did you mean "host2"\?\)/,
    },
    {
      name: 'an unreadable fence password file',
      args: ['fence', 'host2', '--action', 'status'],
      expect: /^skypg: cannot read the fence password file of host2: .*missing\.password: ENOENT/,
    },
    {
      name: 'a bad fence action',
      args: ['fence', 'host2', '--action', 'cycle'],
      expect: /^skypg: Expected --action=cycle to be one of: off, on, reboot, status/,
    },
    {
      name: 'promote with nothing running',
      args: ['promote', '--node', 'host1'],
      expect: /^skypg: cannot promote host1: its PostgreSQL does not answer/,
    },
    {
      name: 'rebuild from a source that does not answer',
      args: ['rebuild-standby', '--node', 'host1'],
      expect: /^skypg: PostgreSQL at 127\.0\.0\.1:5433 .*refused the connection/,
    },
    {
      name: 'rebuild with an unknown method',
      args: ['rebuild-standby', '--node', 'host1', '--method', 'copy'],
      expect: /^skypg: Expected --method=copy to be one of: auto, rewind, basebackup/,
    },
  ];
  for (const { name, args, expect } of cases) {
    it(`${name}: one line, exit 1`, async () => {
      const run = await runSkypg(args, { env: { SKYPG_CONFIG: configPath } });
      assert.equal(run.code, 1, run.stdout);
      assert.match(run.stderr, expect);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    });
  }

  it('a fence password file readable by others is refused before the device is contacted', async () => {
    const open = join(dir, 'open.password');
    const openConfig = join(dir, 'open-password.yaml');
    await writeFile(
      openConfig,
      (await readFile(configPath, 'utf8')).replace(join(dir, 'missing.password'), open),
    );
    const run = await runSkypg(['fence', 'host2', '--action', 'status'], {
      env: { SKYPG_CONFIG: openConfig },
    });
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /password_file: .*open\.password has mode 0644, readable by group or others; run 'chmod 600/,
    );
  });
});
