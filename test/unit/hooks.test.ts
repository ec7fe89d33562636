// The hooks configuration, the environment and command line a hook gets, and pre_promote's
// verdicts (over a fake of the program adapter).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { exampleConfig } from '../../src/lib/config/example.js';
import { checkConfigText, formatProblem } from '../../src/lib/config/load.js';
import type { ClusterConfig } from '../../src/lib/config/types.js';
import { SkypgError } from '../../src/lib/common/errors.js';
import { hookEnvironment } from '../../src/lib/hooks/environment.js';
import { runPrePromoteHook } from '../../src/lib/hooks/pre-promote.js';
import { hookArgv, type HookRun } from '../../src/lib/hooks/run-hook.js';
import { NOW } from '../support/observations.js';

const withHooks = (hooks: string): string => `${exampleConfig}\nhooks:\n${hooks}`;

async function check(text: string) {
  const result = await checkConfigText(text, 'skypg.yaml');
  return { ...result, messages: result.problems.map(formatProblem) };
}

async function configWith(hooks: string): Promise<ClusterConfig> {
  const { config, messages } = await check(withHooks(hooks));
  return config ?? assert.fail(messages.join('\n'));
}

describe('hooks configuration', () => {
  it('defaults: no hooks, a 30 s timeout, no pre_promote', async () => {
    const { config } = await check(exampleConfig);
    assert.deepEqual(config?.hooks, { timeout: 30_000, commands: {}, pre_promote: undefined });
  });

  it('takes a lone path or a list of a path and fixed arguments; pre_promote defaults to 5 s', async () => {
    const config = await configWith(
      '  on_fence: /usr/local/sbin/notify\n  on_promote: [/usr/local/sbin/notify, --page, 2]\n  pre_promote: { command: /usr/local/sbin/may-promote }\n',
    );
    assert.deepEqual(config.hooks.commands, {
      fence: { path: '/usr/local/sbin/notify', args: [] },
      promote: { path: '/usr/local/sbin/notify', args: ['--page', '2'] },
    });
    assert.deepEqual(config.hooks.pre_promote, {
      command: { path: '/usr/local/sbin/may-promote', args: [] },
      timeout: 5000,
    });
  });

  it('refuses a newline in an argument, an unknown event, a pre_promote over 30 s', async () => {
    const { messages } = await check(
      withHooks(
        '  on_rejoin: [/bin/notify, "a\\nb"]\n  on_start: /bin/true\n  pre_promote: { command: /bin/may, timeout: 31s }\n',
      ),
    );
    assert.deepEqual(
      messages.map((message) => message.replace(/^skypg\.yaml:\d+:\d+: /, '').split(':')[0]),
      ['hooks.on_rejoin[1]', 'hooks.on_start', 'hooks.pre_promote.timeout'],
    );
    assert.match(
      messages.join('\n'),
      /must not contain control characters.*\n.*unknown key.*\n.*at most 30s/,
    );
  });

  it('refuses a command that does not start with an absolute program path (no shell)', async () => {
    const { messages } = await check(
      withHooks(
        '  on_fence: notify.sh\n  on_demote: ["/bin/sh -c x"]\n  pre_promote: { command: [./may, x] }\n',
      ),
    );
    assert.deepEqual(
      messages.map((message) => message.replace(/^skypg\.yaml:\d+:\d+: /, '')),
      [
        'hooks.on_fence: must start with the absolute path of an executable (letters, digits, "_", ".", "/", "+", "-"; no shell), got "notify.sh"',
        'hooks.on_demote: must start with the absolute path of an executable (letters, digits, "_", ".", "/", "+", "-"; no shell), got "/bin/sh -c x"',
        'hooks.pre_promote.command[0]: must start with the absolute path of an executable (letters, digits, "_", ".", "/", "+", "-"; no shell), got "./may"',
      ],
    );
  });

  it('warns when a hook program is not there (yet)', async () => {
    const { warnings } = await check(withHooks('  on_fence: /nonexistent/skypg-hook\n'));
    assert.ok(
      warnings.some((w) =>
        /hooks\.on_fence: \/nonexistent\/skypg-hook is not an executable/.test(w),
      ),
      warnings.join('\n'),
    );
  });
});

describe('what a hook is given', () => {
  const event = {
    event: 'fence' as const,
    role: 'standby' as const,
    state: 'promoting',
    rule: 'standby-promote',
    reason: 'host1 fenced\nsecond line',
    detail: 'powered-off',
    at: NOW,
  };
  const who = { cluster: 'demo', node: 'host2', peer: 'host1' };

  it('only PATH and SKYPG_* variables, one line each, never anything of the supervisor environment', () => {
    process.env['PGPASSWORD'] = 'inherited-secret';
    try {
      const env = hookEnvironment(event, who);
      assert.ok(Object.keys(env).every((name) => name === 'PATH' || name.startsWith('SKYPG_')));
      assert.ok(!Object.values(env).some((value) => value.includes('inherited-secret')));
      assert.equal(env['SKYPG_REASON'], 'host1 fenced second line');
      assert.equal(env['SKYPG_TIMELINE'], '');
    } finally {
      delete process.env['PGPASSWORD'];
    }
  });

  it('env -i, the pairs, the program and its arguments: nothing inherited, no shell', () => {
    const argv = hookArgv(
      { path: '/hooks/x', args: ['--a', 'b c'] },
      { PATH: '/bin', SKYPG_EVENT: 'fence' },
    );
    assert.deepEqual(argv, ['-i', 'PATH=/bin', 'SKYPG_EVENT=fence', '/hooks/x', '--a', 'b c']);
  });

  it('docs/hooks.md documents every variable a hook gets', async () => {
    const doc = await readFile(join(import.meta.dirname, '..', '..', 'docs', 'hooks.md'), 'utf8');
    const missing = Object.keys(hookEnvironment(event, who)).filter(
      (name) => !new RegExp(`^\\| \`${name}\` +\\|`, 'm').test(doc),
    );
    assert.deepEqual(missing, []);
  });
});

describe('pre_promote', () => {
  const run = (outcome: HookRun) => {
    const calls: { path: string; env: Record<string, string>; timeoutMs: number }[] = [];
    return {
      calls,
      fake: (command: { path: string }, env: Record<string, string>, timeoutMs: number) => {
        calls.push({ path: command.path, env, timeoutMs });
        return Promise.resolve(outcome);
      },
    };
  };
  const context = { fence: 'powered-off' as const, reason: 'host1 fenced (power off, verified)' };

  it('is not asked when none is configured', async () => {
    const config = await configWith('  timeout: 10s\n');
    const { calls, fake } = run({ exitCode: 0, timedOut: false, said: undefined });
    assert.equal(await runPrePromoteHook(config, config.nodes[1], context, fake), undefined);
    assert.equal(calls.length, 0);
  });

  it('exit 0 allows, within its own deadline, told the event and how the peer was cleared', async () => {
    const config = await configWith('  pre_promote: { command: /hooks/may, timeout: 2s }\n');
    const { calls, fake } = run({ exitCode: 0, timedOut: false, said: 'fine' });
    assert.equal(
      await runPrePromoteHook(config, config.nodes[1], context, fake, () => NOW),
      'allowed: fine',
    );
    assert.equal(calls[0]?.timeoutMs, 2000);
    assert.equal(calls[0]?.env['SKYPG_EVENT'], 'pre_promote');
    assert.equal(calls[0]?.env['SKYPG_NODE'], 'host2');
    assert.equal(calls[0]?.env['SKYPG_DETAIL'], 'powered-off');
    assert.equal(calls[0]?.env['SKYPG_REASON'], context.reason);
  });

  it('a non-zero exit or the timeout vetoes: REFUSED, saying which', async () => {
    const config = await configWith('  pre_promote: { command: /hooks/may, timeout: 2s }\n');
    await assert.rejects(
      runPrePromoteHook(
        config,
        config.nodes[1],
        context,
        run({ exitCode: 3, timedOut: false, said: 'DBA says no' }).fake,
      ),
      (error: unknown) =>
        error instanceof SkypgError &&
        error.code === 'REFUSED' &&
        /hooks\.pre_promote \/hooks\/may vetoed promoting host2 \(exit 3\): DBA says no/.test(
          error.message,
        ),
    );
    await assert.rejects(
      runPrePromoteHook(
        config,
        config.nodes[1],
        context,
        run({ exitCode: -1, timedOut: true, said: undefined }).fake,
      ),
      (error: unknown) =>
        error instanceof SkypgError &&
        error.code === 'REFUSED' &&
        /did not answer within 2s \(killed\): not promoting host2/.test(error.message),
    );
  });
});
