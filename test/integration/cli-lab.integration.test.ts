// `skypg lab up | status | down` as a user runs them: a real pair, then nothing left behind.
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPostmasterOf, readPostmasterPid } from '../../src/lib/pg/programs.js';
import { runSkypg } from '../support/cli.js';
import { makeScratchDir, removeScratchDir, sweepStaleScratchDirs } from '../support/scratch.js';

interface LabJson {
  dir: string;
  configPath: string;
  nodes: { name: string; dataDir: string }[];
}

describe('skypg lab (built binary)', () => {
  let scratch: string;
  before(async () => {
    await sweepStaleScratchDirs();
    scratch = await makeScratchDir();
  });
  after(async () => {
    await removeScratchDir(scratch);
  });

  it('up builds a primary and a streaming standby, status shows them, down leaves nothing', async () => {
    const dir = join(scratch, 'lab');
    const up = await runSkypg(['lab', 'up', '--dir', dir, '--json']);
    assert.equal(up.code, 0, up.stderr);
    const lab = JSON.parse(up.stdout) as LabJson;

    const status = await runSkypg(['lab', 'status', '--dir', dir]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^host1 +127\.0\.0\.1:\d+ +primary +1 /m);
    assert.match(status.stdout, /^host2 +127\.0\.0\.1:\d+ +standby +1 +\S+ +0B/m);

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
    const dir = join(scratch, 'twice');
    const first = await runSkypg(['lab', 'up', '--dir', dir]);
    assert.equal(first.code, 0, first.stderr);
    const second = await runSkypg(['lab', 'up', '--dir', dir]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /^skypg: a lab already exists in .* \(hint: /);
    await runSkypg(['lab', 'down', '--dir', dir]);
    const status = await runSkypg(['lab', 'status', '--dir', dir]);
    assert.equal(status.code, 1);
    assert.match(status.stderr, /^skypg: no lab in /);
  });
});
