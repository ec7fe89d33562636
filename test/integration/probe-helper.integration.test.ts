// The probe helper: the one shell through which the supervisor looks for its VIPs and pings its
// gateways. Real sh, ip and ping on loopback, and in a network namespace of its own (unshare)
// where nothing answers; the shell must never outlive the process that started it.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProbeHelper } from '../../src/lib/process/probe-helper.js';
import { isRoot, runProgram } from '../../src/lib/process/run-program.js';
import { makeScratchDir, removeScratchDir } from '../support/scratch.js';
import { waitUntil } from '../support/wait.js';

async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
}

/** The command that runs a TypeScript module given as text (the helper's own process). */
function nodeRunning(script: string): string[] {
  return [process.execPath, '--import', 'tsx', '--input-type=module', '-e', script];
}

describe('the probe helper', () => {
  let dir: string;
  before(async () => {
    dir = await makeScratchDir();
  });
  after(async () => {
    await removeScratchDir(dir);
  });

  it('answers whether an address is on an interface, and whether a ping is answered', async () => {
    const helper = new ProbeHelper([]);
    try {
      const answers = await Promise.all([
        helper.addressOnInterface('lo', '127.0.0.1', 5000),
        helper.addressOnInterface('lo', '127.0.0.9', 5000),
        helper.addressOnInterface('skypg-none0', '127.0.0.1', 5000),
        helper.pingAnswers('127.0.0.1', 1, 5000),
      ]);
      assert.deepEqual(answers, [true, false, false, true]);
      // "127.0.0.1" must not match an address that only starts with it.
      assert.equal(await helper.addressOnInterface('lo', '127.0.0', 5000), false);
    } finally {
      helper.stop();
    }
  });

  it('an answer that came while the process was stalled past the deadline still counts', async () => {
    const helper = new ProbeHelper([]);
    try {
      // The shell is started first, so that the stall below is the only delay.
      assert.equal(await helper.addressOnInterface('lo', '127.0.0.1', 5000), true);
      const answer = helper.pingAnswers('127.0.0.1', 1, 50);
      // A stall of the event loop (as a SIGSTOP or a starved CPU makes one): the reply is in
      // the pipe when the 50 ms timer runs, and must be read before the timer's verdict.
      const until = Date.now() + 400;
      while (Date.now() < until) {
        // Busy on purpose: no turn of the event loop until the deadline has long passed.
      }
      assert.equal(await answer, true);
    } finally {
      helper.stop();
    }
  });

  it('runs ip behind the command prefix, and a prefix that hangs is "no" at the deadline', async () => {
    const log = join(dir, 'prefix.log');
    const logging = join(dir, 'log-and-run.sh');
    await writeFile(logging, `#!/bin/sh\necho "$*" >> ${log}\nexec "$@"\n`, { mode: 0o755 });
    const hanging = join(dir, 'hang.sh');
    await writeFile(hanging, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    const viaPrefix = new ProbeHelper([logging]);
    const hung = new ProbeHelper([hanging]);
    try {
      assert.equal(await viaPrefix.addressOnInterface('lo', '127.0.0.1', 5000), true);
      assert.equal((await readFile(log, 'utf8')).trim(), 'ip -o addr show dev lo');
      const started = Date.now();
      assert.equal(await hung.addressOnInterface('lo', '127.0.0.1', 300), false);
      assert.ok(Date.now() - started < 5000, 'the deadline did not end the question');
    } finally {
      viaPrefix.stop();
      hung.stop();
    }
  });

  it('refuses words the line protocol cannot carry', async () => {
    const helper = new ProbeHelper([]);
    await assert.rejects(helper.addressOnInterface('lo', '127.0.0.1 x', 1000), /not a plain word/);
    await assert.rejects(helper.pingAnswers('$(reboot)', 1, 1000), /not a plain word/);
    assert.equal(helper.pid, undefined, 'no shell was started for a refused question');
  });

  it('a killed shell fails its questions and the next question starts a new one', async () => {
    const helper = new ProbeHelper([]);
    try {
      assert.equal(await helper.pingAnswers('127.0.0.1', 1, 5000), true);
      const first = helper.pid;
      assert.ok(first !== undefined);
      process.kill(first, 'SIGKILL');
      await waitUntil(
        'the shell to be gone',
        () => Promise.resolve(helper.pid === undefined),
        5000,
      );
      assert.equal(await helper.addressOnInterface('lo', '127.0.0.1', 5000), true);
      assert.notEqual(helper.pid, first);
    } finally {
      helper.stop();
    }
  });

  it(
    'one lost echo request is not "no": the ping asks again until its deadline',
    { skip: isRoot() ? false : 'needs root (unshare --net, nft)' },
    async () => {
      // A namespace of its own whose output drops every other echo request, the first one
      // included (numgen inc counts from 0): a single request would never be answered.
      const script = [
        "import { ProbeHelper } from './src/lib/process/probe-helper.ts';",
        'const helper = new ProbeHelper([]);',
        "const answered = await helper.pingAnswers('127.0.0.1', 1, 5000);",
        'helper.stop();',
        'console.log(JSON.stringify({ answered }));',
      ].join('\n');
      const setup = [
        'set -e',
        'ip link set lo up',
        'nft add table inet lossy',
        "nft add chain inet lossy out '{ type filter hook output priority 0; }'",
        'nft add rule inet lossy out icmp type echo-request numgen inc mod 2 == 0 counter drop',
        'exec "$@"',
      ].join('\n');
      const result = await runProgram(
        'unshare',
        ['--net', 'sh', '-c', setup, 'lossy', ...nodeRunning(script)],
        { cwd: join(import.meta.dirname, '..', '..'), timeoutMs: 30_000 },
      );
      assert.deepEqual(JSON.parse(result.stdout), { answered: true });
    },
  );

  it(
    'where nothing answers, ping is "no"; the shell ends with the process that started it',
    { skip: isRoot() ? false : 'needs root (unshare --net)' },
    async () => {
      // A new network namespace: loopback is down, so nothing answers a ping.
      const script = [
        "import { ProbeHelper } from './src/lib/process/probe-helper.ts';",
        'const helper = new ProbeHelper([]);',
        "const answered = await helper.pingAnswers('127.0.0.1', 1, 5000);",
        'console.log(JSON.stringify({ answered, pid: helper.pid }));',
        // Exits without stop(): the helper must not keep the process alive, nor outlive it.
      ].join('\n');
      const result = await runProgram('unshare', ['--net', ...nodeRunning(script)], {
        cwd: join(import.meta.dirname, '..', '..'),
        timeoutMs: 30_000,
      });
      const { answered, pid } = JSON.parse(result.stdout) as { answered: boolean; pid?: number };
      assert.equal(answered, false);
      assert.ok(pid !== undefined && pid > 0, `no helper shell ran: ${result.stdout}`);
      await waitUntil(
        'the helper shell to end with its process',
        async () => !(await alive(pid)),
        5000,
      );
    },
  );
});
