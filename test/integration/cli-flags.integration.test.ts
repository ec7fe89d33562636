// The built CLI, run as a process: parsed flags (oclif custom flags) and the JSON error envelope.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runSkypg } from '../support/cli.js';

interface ErrorEnvelope {
  error: { code: string; message: string; hint?: string; exitCode: number };
}

// No configuration file exists: each bad flag must be refused before skypg looks for one
// (CONFIG_NOT_FOUND would show that it read the configuration first).
const configPath = '/nonexistent/skypg.yaml';

describe('skypg CLI: unit flags and the JSON error envelope', () => {
  const badFlags: { name: string; args: string[]; expect: RegExp }[] = [
    {
      name: 'a duration without a unit',
      args: ['probe', '127.0.0.1:1', '--timeout', '2'],
      expect:
        /^skypg: --timeout "2" is not a duration \(hint: write it with a unit, e\.g\. --timeout 500ms or --timeout 2s\)$/,
    },
    {
      name: 'a duration given as --flag=value',
      args: ['rebuild-standby', '--timeout=soon'],
      expect: /^skypg: --timeout "soon" is not a duration \(hint: /,
    },
    {
      name: 'an empty --reason',
      args: ['pause', '--reason', ''],
      expect: /^skypg: --reason is empty \(hint: say who and why/,
    },
    {
      name: "an integer flag's oclif message, without oclif's wrapping",
      args: ['lab', 'logs', '--lines', 'abc'],
      expect: /^skypg: Expected an integer but received: abc \(hint: /,
    },
  ];
  for (const { name, args, expect } of badFlags) {
    it(`${name}: one line, exit 1`, async () => {
      const run = await runSkypg(args, { env: { SKYPG_CONFIG: configPath } });
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.equal(run.stdout, '');
      assert.match(run.stderr.trimEnd(), expect);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    });
  }

  it('a bad duration in a Nagios check is UNKNOWN (exit 3) on stdout', async () => {
    const run = await runSkypg(['check-alive', '--max-age', 'soon', '--config', configPath]);
    assert.equal(run.code, 3, run.stdout + run.stderr);
    assert.match(run.stdout, /^SKYPG_ALIVE UNKNOWN - --max-age "soon" is not a duration \(hint: /);
  });

  const jsonErrors: { name: string; args: string[]; code: string; exitCode: number }[] = [
    {
      name: 'a bad duration',
      args: ['probe', '127.0.0.1:1', '--timeout', 'soon', '--json'],
      code: 'USAGE',
      exitCode: 1,
    },
    {
      name: 'a missing configuration file',
      args: ['status', '--config', configPath, '--json'],
      code: 'CONFIG_NOT_FOUND',
      exitCode: 1,
    },
    {
      name: 'a bad range in a Nagios check',
      args: ['check-lag', '-w', '8XB', '--config', configPath, '--json'],
      code: 'USAGE',
      exitCode: 3,
    },
  ];
  for (const { name, args, code, exitCode } of jsonErrors) {
    it(`--json on ${name}: the envelope carries the process's exit code (${exitCode})`, async () => {
      const run = await runSkypg(args);
      assert.equal(run.code, exitCode, run.stdout + run.stderr);
      assert.equal(run.stderr, '');
      const envelope = JSON.parse(run.stdout) as ErrorEnvelope;
      assert.equal(envelope.error.code, code);
      assert.equal(envelope.error.exitCode, run.code);
      assert.doesNotMatch(envelope.error.message, /Parsing|--help/);
    });
  }

  it('--help shows a duration default as written, not in milliseconds', async () => {
    const run = await runSkypg(['status', '--help']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /--timeout=DURATION\s+\[default: 2s\]/);
    assert.match(run.stdout, /--watch=DURATION\s/);
  });
});
