// The built CLI, run as a process: help, version, config example/check, error formatting.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { runSkypg } from '../support/cli.js';

const execFileAsync = promisify(execFile);

describe('skypg CLI (built binary)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skypg-cli-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('--version prints the version', async () => {
    const run = await runSkypg(['--version']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^skypg\/\d+\.\d+\.\d+ /);
  });

  it('--help lists every command with its summary', async () => {
    const run = await runSkypg(['--help']);
    assert.equal(run.code, 0);
    for (const command of ['config check', 'config example', 'lab up', 'lab status', 'lab down']) {
      assert.match(
        run.stdout,
        new RegExp(`\\n  ${command} +\\S`),
        `${command} missing from --help`,
      );
    }
  });

  it('config example passes config check', async () => {
    const example = await runSkypg(['config', 'example']);
    assert.equal(example.code, 0);
    const file = join(dir, 'example.yaml');
    await writeFile(file, example.stdout);
    const check = await runSkypg(['config', 'check', '-c', file]);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /valid/);
  });

  it('config check prints three located one-line errors and exits 1, without a stack trace', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(
      file,
      [
        'cluster: demo',
        'postgres:',
        '  prot: 5432',
        'nodes:',
        '  - { name: host1, address: 10.0.0.1, data_dir: /d, postgres: { port: abc } }',
        '  - { name: host2, address: 10.0.0.2 }',
        '',
      ].join('\n'),
    );
    const run = await runSkypg(['config', 'check', '-c', file]);
    assert.equal(run.code, 1);
    const lines = run.stderr.trim().split('\n');
    assert.deepEqual(lines.slice(0, 3), [
      `${file}:3:3: postgres.prot: unknown key (did you mean "port"?)`,
      `${file}:5:71: nodes[0].postgres.port: expected an integer from 1 to 65535, got "abc"`,
      `${file}:6:5: nodes[1].data_dir: is required (an absolute path)`,
    ]);
    assert.match(lines[3] ?? '', /^skypg: .* has 3 problems \(hint: /);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
  });

  it('config check --json reports problems as data', async () => {
    const file = join(dir, 'bad.json.yaml');
    await writeFile(file, 'cluster: demo\nnodes: []\n');
    const run = await runSkypg(['config', 'check', '-c', file, '--json']);
    assert.equal(run.code, 1);
    const parsed = JSON.parse(run.stdout) as { valid: boolean; problems: { path: string }[] };
    assert.equal(parsed.valid, false);
    assert.equal(parsed.problems[0]?.path, 'nodes');
  });

  const oneLineErrors: { name: string; args: (dir: string) => string[]; expect: RegExp }[] = [
    {
      name: 'a missing file',
      args: (d) => ['config', 'check', '-c', join(d, 'nope.yaml')],
      expect: /^skypg: config file .*nope\.yaml does not exist \(hint: /,
    },
    {
      name: 'a directory',
      args: (d) => ['config', 'check', '-c', d],
      expect: /^skypg: config path .* is a directory, not a file/,
    },
    {
      name: 'an unknown flag',
      args: () => ['config', 'check', '--bogus'],
      expect: /^skypg: Nonexistent flag: --bogus/,
    },
    {
      name: 'a missing argument',
      args: () => ['vip', 'up'],
      expect: /^skypg: missing argument ROLE \(one of primary, standby\) \(hint: /,
    },
    {
      name: 'an unknown command',
      args: () => ['config', 'chek'],
      expect: /^skypg: unknown command "config chek" \(did you mean "config check"\?\)/,
    },
  ];
  for (const { name, args, expect } of oneLineErrors) {
    it(`${name} gets one clear line and exit 1`, async () => {
      const run = await runSkypg(args(dir));
      assert.equal(run.code, 1);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
      assert.match(run.stderr, expect);
    });
  }

  it('a FIFO as --config is refused at once instead of waiting for a writer', async () => {
    const fifo = join(dir, 'fifo.yaml');
    await execFileAsync('mkfifo', [fifo]);
    const run = await runSkypg(['config', 'check', '-c', fifo], { timeoutMs: 15_000 });
    assert.equal(run.code, 1, `signal or timeout: ${run.stderr}`);
    assert.match(
      run.stderr,
      /^skypg: config path .*fifo\.yaml is a named pipe \(FIFO\), not a file \(hint: /,
    );
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  });

  it('a YAML alias bomb is a config problem (exit 1), not an internal error', async () => {
    const file = join(dir, 'bomb.yaml');
    const levels = Array.from({ length: 9 }, (_, i) => {
      const item = i === 0 ? '*a' : `*b${i - 1}`;
      return `b${i}: &b${i} [${Array(10).fill(item).join(', ')}]`;
    });
    await writeFile(file, `a: &a [x, x, x, x, x, x, x, x, x, x]\n${levels.join('\n')}\n`);
    const run = await runSkypg(['config', 'check', '-c', file]);
    assert.equal(run.code, 1);
    const lines = run.stderr.trim().split('\n');
    assert.equal(
      lines[0],
      `${file}:1:1: the file uses more YAML aliases (*name) than a configuration needs; write the values out`,
    );
    assert.match(lines[1] ?? '', /^skypg: .*bomb\.yaml has 1 problem \(hint: /);
    assert.doesNotMatch(run.stderr, /internal error|bug/);
  });

  it('the config path comes from $SKYPG_CONFIG when --config is absent', async () => {
    const run = await runSkypg(['config', 'check'], {
      env: { SKYPG_CONFIG: join(dir, 'from-env.yaml') },
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /from-env\.yaml does not exist/);
  });
});
