// The fence device password never leaves skypg in what a fence agent prints (docs/security.md,
// "Fence device credentials"): a real agent script that echoes its whole stdin (where skypg
// hands it `password=...`) to stdout and stderr, then fails, on a real loopback pair. Every way
// the agent's output can come out is read: `fence` on stderr and in --json, doctor --json,
// promote's refusal, and the supervisor's log file, its stdout and its state file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { runSkypg, skypgBin, type CliRun } from '../support/cli.js';
import { useLoopbackLab } from '../support/lab.js';
import { labNode, sql, stopServer } from '../support/lab-control.js';
import { waitUntil } from '../support/wait.js';

// Characters a careless scrub (a regular expression, a shell) would trip on.
const password = 'Fence.Pw+7$(x)*[y]';
const scrubbed = 'password=***';

/** No password anywhere in `text`, and the agent's echo did come through (scrubbed). */
function assertScrubbed(where: string, text: string): void {
  assert.ok(!text.includes(password), `${where} shows the fence password:\n${text}`);
  assert.ok(
    text.includes(scrubbed),
    `${where} lacks the scrubbed echo, so proves nothing:\n${text}`,
  );
}

function output(run: CliRun): string {
  return `${run.stdout}\n${run.stderr}`;
}

describe('fence agent output is scrubbed of the device password on every path', () => {
  const lab = useLoopbackLab();
  let configPath = '';
  const skypg = (args: string[]): Promise<CliRun> =>
    runSkypg(args, { env: { SKYPG_CONFIG: configPath }, timeoutMs: 60_000 });

  before(async () => {
    const dir = lab().state.dir;
    // Echoes every line skypg wrote to its stdin to both streams, and fails every action.
    const agent = join(dir, 'echo-fence-agent');
    await writeFile(
      agent,
      [
        '#!/bin/sh',
        'input=$(cat)',
        'printf \'%s\\n\' "$input" >&2',
        'printf \'the agent was given:\\n%s\\n\' "$input"',
        'exit 1',
        '',
      ].join('\n'),
      { mode: 0o700 },
    );
    const passwordFile = join(dir, 'host1-fence.password');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    const raw = parse(await readFile(lab().state.configPath, 'utf8')) as Record<string, unknown>;
    const nodes = raw['nodes'] as Record<string, unknown>[];
    const host1 = nodes.find((node) => node['name'] === 'host1');
    assert.ok(host1);
    host1['fence'] = {
      agent: 'command',
      command: agent,
      password_file: passwordFile,
      timeout: '2s',
    };
    raw['failover'] = { fencing: 'required' };
    raw['gateway'] = ['127.0.0.1'];
    (raw['heartbeat'] as Record<string, unknown>)['interval'] = '200ms';
    configPath = join(dir, 'skypg-echo-fence.yaml');
    await writeFile(configPath, stringify(raw));
  });

  it('skypg fence: the status and off failures on stderr, and in --json', async () => {
    for (const action of ['status', 'off']) {
      const plain = await skypg(['fence', 'host1', '--action', action]);
      assert.notEqual(plain.code, 0, plain.stdout);
      assert.match(plain.stderr, /^skypg: cannot (query the power of|fence) host1/);
      assertScrubbed(`fence --action ${action}`, output(plain));
      const json = await skypg(['fence', 'host1', '--action', action, '--json']);
      assert.notEqual(json.code, 0, json.stdout);
      assertScrubbed(`fence --action ${action} --json`, output(json));
    }
  });

  it("doctor --json: the fence check's finding", async () => {
    const run = await skypg(['doctor', '--node', 'host2', '--json']);
    const results = (JSON.parse(run.stdout) as { results: { id: string; found: string }[] })
      .results;
    const fence = results.find((result) => result.id === 'fence');
    assert.ok(fence, run.stdout);
    assertScrubbed('the doctor fence check', fence.found);
    assert.ok(!output(run).includes(password), 'doctor output shows the password');
  });

  describe('with host1 stopped, so that host2 fences it', () => {
    before(async () => {
      await stopServer(lab(), 'host1');
    });

    it("promote's refusal", async () => {
      const run = await skypg(['promote', '--node', 'host2']);
      assert.notEqual(run.code, 0, run.stdout);
      assert.match(run.stderr, /^skypg: not promoting host2: /);
      assertScrubbed('promote', output(run));
      const json = await skypg(['promote', '--node', 'host2', '--json']);
      assertScrubbed('promote --json', output(json));
    });

    it("the supervisor's log file, stdout, stderr and state file", async () => {
      const log = join(lab().state.dir, 'echo-fence-supervisor.log');
      const supervisor = spawn(
        process.execPath,
        [skypgBin, 'supervisor', '--node', 'host2', '--log-file', log],
        { env: { ...process.env, SKYPG_CONFIG: configPath }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let streams = '';
      supervisor.stdout.on('data', (chunk: Buffer) => (streams += chunk.toString()));
      supervisor.stderr.on('data', (chunk: Buffer) => (streams += chunk.toString()));
      const exited = once(supervisor, 'close');
      try {
        const line = await waitUntil(
          'the supervisor logs the failed fence-peer action',
          async () =>
            (await readFile(log, 'utf8').catch(() => ''))
              .split('\n')
              .find((entry) => /"action":"fence-peer"/.test(entry) && /"failed"/.test(entry)),
          30_000,
        );
        assertScrubbed('the fence-peer log line', line);
      } finally {
        supervisor.kill('SIGTERM');
        await exited;
      }
      assert.ok(!(await readFile(log, 'utf8')).includes(password), 'the log file has it');
      assert.ok(!streams.includes(password), 'the supervisor printed it');
      const stateFile = join(lab().state.dir, 'host2', 'supervisor-state.json');
      const state = await readFile(stateFile, 'utf8');
      assert.ok(!state.includes(password), `the state file has it:\n${state}`);
      const [row] = await sql<{ standby: boolean }>(
        labNode(lab(), 'host2'),
        'select pg_is_in_recovery() as standby',
      );
      assert.equal(row?.standby, true, 'host2 promoted without a fence');
    });
  });
});
