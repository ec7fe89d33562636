// The supervisor's JSON log must never crash the supervisor: a bad --log-file is one error up
// front, and a file that fails later (disk full, a reopen that fails) falls back to stderr.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { SkypgError } from '../../src/lib/common/errors.js';
import { JsonLog } from '../../src/lib/supervisor/log.js';

/** Waits until `done()` holds, one event-loop turn at a time (no clock involved). */
async function settle(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 10_000 && !done(); turn += 1) await tick();
}

describe('supervisor log file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skypg-log-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a file in a missing directory with one USAGE error, before anything runs', () => {
    const file = join(dir, 'missing', 'x.log');
    assert.throws(
      () => new JsonLog(file, 'host1'),
      (error: unknown) =>
        error instanceof SkypgError &&
        error.code === 'USAGE' &&
        error.message === `cannot open --log-file ${file}: ENOENT`,
    );
  });

  it('a write error (disk full) is reported on stderr and later lines go there', async () => {
    const captured: string[] = [];
    const log = new JsonLog('/dev/full', 'host1', (text) => captured.push(text));
    log.write({ event: 'start', node: 'host1' });
    await settle(() => captured.length > 0);
    assert.equal(
      captured[0],
      'skypg supervisor: cannot write log file /dev/full: ENOSPC; logging to stderr\n',
    );
    log.write({ event: 'stop', node: 'host1' });
    assert.match(captured[1] ?? '', /"event":"stop"/);
    await log.close();
  });

  it('a reopen that fails keeps writing to the old file and says so', async () => {
    const file = join(dir, 'supervisor.log');
    const captured: string[] = [];
    const log = new JsonLog(file, 'host1', (text) => captured.push(text));
    log.write({ event: 'start', node: 'host1' });
    // logrotate moved the file, and something left a directory where the new one should go.
    await rename(file, `${file}.1`);
    await mkdir(file);
    log.reopen();
    assert.deepEqual(captured, [
      `skypg supervisor: cannot open --log-file ${file}: EISDIR; keeping the old file open\n`,
    ]);
    log.write({ event: 'stop', node: 'host1' });
    await log.close();
    const lines = (await readFile(`${file}.1`, 'utf8')).trim().split('\n');
    assert.deepEqual(
      lines.map((line) => (JSON.parse(line) as { event: string }).event),
      ['start', 'stop'],
    );
  });
});
