// `skypg lab demo`, the README's main job, run as a user would: it must tell the whole story
// and exit 0, and leave no namespace behind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runProgram } from '../../src/lib/process/run-program.js';
import { runSkypg } from '../support/cli.js';
import { netnsLabSkipReason } from '../support/netns.js';
import { join } from 'node:path';
import { makeScratchDir, removeScratchDir, sweepStaleScratchDirs } from '../support/scratch.js';

const skip = await netnsLabSkipReason();

describe('skypg lab demo', { skip }, () => {
  it('tells the failover story end to end and exits 0', async () => {
    await sweepStaleScratchDirs();
    // In a scratch dir, so that even a killed run is swept (namespaces, BMCs, supervisors).
    const scratch = await makeScratchDir();
    let run;
    try {
      run = await runSkypg(['lab', 'demo', '--dir', join(scratch, 'lab')], { timeoutMs: 300_000 });
    } finally {
      await removeScratchDir(scratch);
    }
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    for (const milestone of [
      'detected:',
      'declared failed:',
      'fenced:',
      'promoted:',
      'VIP moved:',
      'first write accepted',
      'host1 streams from host2 again',
    ]) {
      assert.ok(run.stdout.includes(milestone), `the story lacks "${milestone}"`);
    }
    assert.match(run.stdout, /^host2 +10\.231\.0\.12:5432 +primary +2 /m);
    assert.match(run.stdout, /^host1 +10\.231\.0\.11:5432 +standby +2 /m);
    assert.match(run.stdout, /samples with two writable primaries: 0/);
    assert.match(run.stdout, /the lab was removed/);
    // Other test files build labs at the same time: look only for this demo's namespaces.
    const id = /create namespaces (\w+)-\{/.exec(run.stdout)?.[1];
    assert.ok(id, 'the demo names its lab');
    const left = (await runProgram('ip', ['netns', 'list'])).stdout
      .split('\n')
      .filter((line) => line.startsWith(`${id}-`));
    assert.deepEqual(left, [], 'no namespace of the demo left behind');
  });
});
