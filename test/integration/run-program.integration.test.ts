// The program adapter's deadlines hold whatever the program leaves behind: a grandchild that
// keeps the output pipes open (a daemon started without redirection, a hung helper) must not
// stall the caller, and a timeout stops the whole process group. Also: the network
// capabilities a systemd unit grants skypg never reach anything but ip and arping.
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { SkypgError } from '../../src/lib/common/errors.js';
import { runProgram, withoutAmbientCapabilities } from '../../src/lib/process/run-program.js';
import { waitUntil } from '../support/wait.js';

async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  // A zombie is dead: only its parent's reaping is left.
  return stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

describe('runProgram deadlines', () => {
  it('returns once the program exits although a grandchild still holds its stdout and stderr', async () => {
    const started = Date.now();
    const result = await runProgram('sh', ['-c', 'sleep 120 & echo "grandchild $!"'], {
      timeoutMs: 60_000,
    });
    const elapsed = Date.now() - started;
    const pid = Number(/grandchild (\d+)/.exec(result.stdout)?.[1]);
    assert.ok(pid > 0, `no grandchild PID in ${JSON.stringify(result.stdout)}`);
    assert.equal(result.exitCode, 0);
    // Far below the 120 s the grandchild would hold the pipes (not a timing assertion: the
    // alternative outcome is a hang until the sleep ends).
    assert.ok(elapsed < 30_000, `took ${elapsed}ms`);
    await waitUntil(
      'the left-behind grandchild to be stopped',
      async () => !(await alive(pid)),
      5000,
    );
  });

  it('a timeout stops the program and every process it started, and says so in one line', async () => {
    const marker = `/tmp/skypg-run-program-${process.pid}`;
    await assert.rejects(
      runProgram('sh', ['-c', `sleep 120 & echo $! > ${marker}; sleep 120`], { timeoutMs: 500 }),
      (error: unknown) =>
        error instanceof SkypgError &&
        error.code === 'COMMAND_FAILED' &&
        /^sh did not finish within 500ms/.test(error.message) &&
        !error.message.includes('\n'),
    );
    const pid = Number((await readFile(marker, 'utf8')).trim());
    await rm(marker, { force: true });
    await waitUntil(
      'the grandchild to be stopped with its group',
      async () => !(await alive(pid)),
      5000,
    );
  });

  it('allowFailure reports a timeout instead of throwing', async () => {
    const result = await runProgram('sleep', ['30'], { timeoutMs: 200, allowFailure: true });
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, -1);
  });
});

describe('ambient capabilities', () => {
  it('wraps every program but ip and arping in setpriv when the process holds ambient capabilities', () => {
    const line: [string, string[]] = ['/usr/lib/postgresql/15/bin/pg_ctl', ['start']];
    assert.deepEqual(withoutAmbientCapabilities(line, line[0], 0x3000n), [
      'setpriv',
      ['--inh-caps=-all', '--ambient-caps=-all', '--', line[0], 'start'],
    ]);
    assert.deepEqual(withoutAmbientCapabilities(['ip', ['addr']], 'ip', 0x3000n), ['ip', ['addr']]);
    assert.deepEqual(withoutAmbientCapabilities(['arping', []], '/usr/bin/arping', 0x3000n), [
      'arping',
      [],
    ]);
    assert.deepEqual(withoutAmbientCapabilities(line, line[0], 0n), line);
  });

  it('a child of a skypg holding CAP_NET_ADMIN and CAP_NET_RAW as ambient capabilities gets none ', async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('needs root to hand capabilities to another user');
      return;
    }
    // The documented unit's situation: skypg runs as postgres with two ambient capabilities.
    const script = [
      "import { runProgram } from './src/lib/process/run-program.ts';",
      "const caps = async (file, args) => (await runProgram(file, args)).stdout.split('\\n').filter((l) => l.startsWith('CapEff') || l.startsWith('CapAmb')).join(' ');",
      "console.log(JSON.stringify({ cat: await caps('cat', ['/proc/self/status']) }));",
    ].join('\n');
    const result = await runProgram(
      'setpriv',
      [
        '--reuid=postgres',
        '--regid=postgres',
        '--init-groups',
        '--inh-caps=+net_admin,+net_raw',
        '--ambient-caps=+net_admin,+net_raw',
        '--',
        process.execPath,
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        script,
      ],
      { cwd: process.cwd(), timeoutMs: 60_000 },
    );
    const seen = JSON.parse(result.stdout.split('\n').at(-1) ?? '{}') as { cat: string };
    assert.match(seen.cat, /CapEff:\s*0000000000000000/);
    assert.match(seen.cat, /CapAmb:\s*0000000000000000/);
  });
});
