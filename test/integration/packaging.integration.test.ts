// The files an operator installs, checked by their own tools, and kept equal to the copies the
// docs print.
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runProgram } from '../../src/lib/process/run-program.js';

const unitPath = 'packaging/systemd/skypg.service';

async function hasSystemdAnalyze(): Promise<boolean> {
  const found = await runProgram('sh', ['-c', 'command -v systemd-analyze'], {
    allowFailure: true,
  });
  return found.exitCode === 0;
}

describe('the systemd unit', () => {
  it('docs/failover.md prints the shipped unit exactly', async () => {
    const unit = await readFile(unitPath, 'utf8');
    const doc = await readFile('docs/failover.md', 'utf8');
    assert.ok(doc.includes('```ini\n' + unit + '```\n'), 'failover.md must print ' + unitPath);
  });

  it('systemd-analyze verifies it and rates its exposure OK (below 5.0)', async (t) => {
    if (!(await hasSystemdAnalyze())) {
      t.skip('systemd-analyze is not installed');
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), 'skypg-unit-'));
    try {
      // verify needs ExecStart's program to exist: point it at an executable stand-in.
      const fakeBin = join(dir, 'skypg');
      await writeFile(fakeBin, '#!/bin/sh\nexit 0\n');
      await chmod(fakeBin, 0o755);
      const unit = (await readFile(unitPath, 'utf8')).replace('/usr/bin/skypg', fakeBin);
      await writeFile(join(dir, 'skypg.service'), unit);
      const verify = await runProgram('systemd-analyze', ['verify', 'skypg.service'], {
        cwd: dir,
        allowFailure: true,
        timeoutMs: 30_000,
      });
      assert.equal(verify.exitCode, 0, verify.stderr);
      await copyFile(unitPath, join(dir, 'skypg.service'));
      const security = await runProgram(
        'systemd-analyze',
        ['security', '--offline=true', '--threshold=50', 'skypg.service'],
        { cwd: dir, allowFailure: true, timeoutMs: 30_000 },
      );
      assert.equal(security.exitCode, 0, security.stdout.split('\n').at(-1));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
