// `skypg lab up | status | down` as a user runs them: a real pair, then nothing left behind.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isPostmasterOf, readPostmasterPid } from '../../src/lib/pg/programs.js';
import { runSkypg } from '../support/cli.js';
import { useScratchDir } from '../support/scratch.js';

interface LabJson {
  dir: string;
  configPath: string;
  nodes: { name: string; dataDir: string }[];
}

describe('skypg lab (built binary)', () => {
  const scratch = useScratchDir();

  it('up builds a primary and a streaming standby, status shows them, down leaves nothing', async () => {
    const dir = join(scratch(), 'lab');
    const up = await runSkypg(['lab', 'up', '--loopback', '--dir', dir, '--json']);
    assert.equal(up.code, 0, up.stderr);
    const lab = (JSON.parse(up.stdout) as { kind: string; state: LabJson }).state;

    const status = await runSkypg(['lab', 'status', '--dir', dir]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^host1 +127\.0\.0\.1:\d+ +primary +1 /m);
    assert.match(status.stdout, /^host2 +127\.0\.0\.1:\d+ +standby +1 +\S+ +0B/m);

    // Faults, heal and logs need real machines: the loopback pair refuses them, changing nothing.
    for (const args of [['fault', 'kill'], ['heal'], ['logs']]) {
      const refused = await runSkypg(['lab', ...args, '--dir', dir]);
      assert.equal(refused.code, 1, `lab ${args.join(' ')}`);
      assert.match(refused.stderr, /^skypg: lab \w+ needs the multi-host lab, .* \(hint: .*lab up/);
    }

    const check = await runSkypg(['config', 'check', '-c', lab.configPath]);
    assert.equal(check.code, 0, check.stderr);

    const pids = await Promise.all(lab.nodes.map((node) => readPostmasterPid(node.dataDir)));
    assert.equal(pids.filter((pid) => pid !== undefined).length, 2, 'both servers should run');
    const down = await runSkypg(['lab', 'down', '--dir', dir]);
    assert.equal(down.code, 0, down.stderr);
    for (const [index, pid] of pids.entries()) {
      const dataDir = lab.nodes[index]?.dataDir ?? '';
      assert.equal(await isPostmasterOf(pid ?? 0, dataDir), false, `postmaster ${pid} still runs`);
    }
    await assert.rejects(stat(dir), /ENOENT/);

    const again = await runSkypg(['lab', 'down', '--dir', dir]);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /nothing to do/);
  });

  it('a second lab up in the same directory is refused with one line, and status of no lab fails cleanly', async () => {
    const dir = join(scratch(), 'twice');
    const first = await runSkypg(['lab', 'up', '--loopback', '--dir', dir]);
    assert.equal(first.code, 0, first.stderr);
    const second = await runSkypg(['lab', 'up', '--loopback', '--dir', dir]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /^skypg: a lab already exists in .* \(hint: /);
    await runSkypg(['lab', 'down', '--dir', dir]);
    const status = await runSkypg(['lab', 'status', '--dir', dir]);
    assert.equal(status.code, 1);
    assert.match(status.stderr, /^skypg: no lab in /);
  });
});
