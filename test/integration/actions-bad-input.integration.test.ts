// Bad inputs to the actions: one clear line, a non-zero exit, and nothing changed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runSkypg, skypgBin } from '../support/cli.js';
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
        'api: false',
        'beacon: false',
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
      args: ['fence', 'host1', '--action', 'off'],
      expect: /^skypg: node host1 has no fence device configured \(hint: add a fence: block/,
    },
    {
      name: 'fencing an unknown node',
      args: ['fence', 'hots2', '--action', 'status'],
      expect: /^skypg: no node named "hots2" in the configuration \(did you mean "host2"\?\)/,
    },
    {
      name: 'an unreadable fence password file',
      args: ['fence', 'host2', '--action', 'status'],
      expect:
        /^skypg: cannot query the power of host2: level 1 fence_ipmilan \(127\.0\.0\.1\): fence password file \S+missing\.password does not exist \(hint: put the device password .*missing\.password/,
    },
    {
      name: 'fence without --action (no destructive default)',
      args: ['fence', 'host2'],
      expect: /^skypg: fence host2 needs --action: off, on, reboot or status \(hint: /,
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
      expect:
        /^skypg: cannot reach host2, the primary to rebuild from: PostgreSQL at 127\.0\.0\.1:5433 .*refused the connection/,
    },
    {
      name: 'status --watch 0s',
      args: ['status', '--watch', '0s'],
      expect: /^skypg: --watch must be at least 1s, got "0s" \(hint: /,
    },
    {
      name: 'status --node with an unknown node',
      args: ['status', '--node', 'nosuchnode'],
      expect:
        /^skypg: no node named "nosuchnode" in the configuration \(hint: configured nodes: host1, host2\)$/m,
    },
    {
      name: 'an empty probe target',
      args: ['probe', ''],
      expect:
        /^skypg: TARGET is empty \(hint: give HOST:PORT, a node name, vip:primary or vip:standby\)$/m,
    },
    {
      name: 'a timeout above 24h',
      args: ['probe', '127.0.0.1:5432', '--timeout', '1000h'],
      expect: /^skypg: --timeout must be at most 24h, got "1000h" \(hint: /,
    },
    {
      name: 'pause with an empty reason',
      args: ['pause', '--reason', ''],
      expect:
        /^skypg: --reason is empty \(hint: say who and why, e\.g\. --reason "kernel update on host2", or leave --reason out\)$/m,
    },
    {
      name: 'pause with a newline in the reason',
      args: ['pause', '--reason', 'a\nb'],
      expect:
        /^skypg: --reason must not contain control characters \(newline, tab\.\.\.\) \(hint: /,
    },
    {
      name: 'a --log-file in a missing directory',
      args: ['supervisor', '--once', '--node', 'host1', '--log-file', '/nonexistent/dir/x.log'],
      expect:
        /^skypg: cannot open --log-file \/nonexistent\/dir\/x\.log: ENOENT \(hint: give a writable file in an existing directory, or leave --log-file out to log to stdout\)$/m,
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

  it('check-lag refuses a threshold above 1024TB: one UNKNOWN line, exit 3', async () => {
    const run = await runSkypg(['check-lag', '--node', 'host1', '-c', '99999999999999TB'], {
      env: { SKYPG_CONFIG: configPath },
    });
    assert.equal(run.code, 3, run.stderr);
    assert.match(
      run.stdout,
      /^SKYPG_LAG UNKNOWN - --critical "99999999999999TB" is above the limit of 1024TB/,
    );
    assert.equal(run.stdout.trim().split('\n').length, 1, run.stdout);
  });

  it('fence takes NODE from the command line only, never from piped stdin', async () => {
    const child = spawn(process.execPath, [skypgBin, 'fence', '--action', 'status'], {
      env: { ...process.env, SKYPG_CONFIG: configPath },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end('host2\n');
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'close')) as [number];
    assert.equal(code, 1);
    assert.match(stderr, /^skypg: missing argument NODE \(hint: /);
    assert.doesNotMatch(stderr, /host2/);
  });

  it('a failing fence command is one FENCE_FAILED line with a hint, not an internal error', async () => {
    const failing = join(dir, 'failing-fence');
    await writeFile(failing, '#!/bin/sh\necho "outlet 3: no such outlet" >&2\nexit 1\n', {
      mode: 0o700,
    });
    for (const [command, expect] of [
      [
        failing,
        /level 1 command \(\S+failing-fence\): \S+failing-fence status failed \(exit 1\): outlet 3: no such outlet/,
      ],
      [
        join(dir, 'absent-fence'),
        /level 1 command \(\S+absent-fence\): \S+absent-fence could not be run/,
      ],
    ] as const) {
      const commandConfig = join(dir, 'command-fence.yaml');
      await writeFile(
        commandConfig,
        (await readFile(configPath, 'utf8')).replace(
          /fence: \{[^}]*\}/,
          `fence: { agent: command, command: ${command} }`,
        ),
      );
      const run = await runSkypg(['fence', 'host2', '--action', 'off', '--json'], {
        env: { SKYPG_CONFIG: commandConfig },
      });
      assert.equal(run.code, 1, run.stdout);
      const error = (
        JSON.parse(run.stdout) as { error: { code: string; message: string; hint?: string } }
      ).error;
      assert.equal(error.code, 'FENCE_FAILED');
      assert.match(error.message, /^cannot fence host2 \(off\): /);
      assert.match(error.message, expect);
      assert.ok(error.hint !== undefined && error.hint.includes('may still run'));
      const text = await runSkypg(['fence', 'host2', '--action', 'off'], {
        env: { SKYPG_CONFIG: commandConfig },
      });
      assert.equal(text.stderr.trim().split('\n').length, 1, text.stderr);
      assert.doesNotMatch(text.stderr, /internal error|bug in skypg/);
    }
  });

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
