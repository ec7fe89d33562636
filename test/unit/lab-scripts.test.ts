// The lab's shell scripts (src/lib/lab/sh): they parse, pass shellcheck where it is installed,
// and the launchers a lab writes hand them their values intact.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { installPduScript, outletOn, pduFenceCommand } from '../../src/lib/lab/lab-pdu.js';
import { labScriptPath, shellWord, type LabScriptName } from '../../src/lib/lab/lab-scripts.js';

const scripts: LabScriptName[] = ['chassis-control.sh', 'postgres-boot.sh', 'pdu-fence.sh'];

function bash(
  args: string[],
  input = '',
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('bash', args, {
    input,
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('lab scripts', () => {
  for (const name of scripts) {
    it(`${name} parses (bash -n) and passes shellcheck if installed`, () => {
      assert.equal(bash(['-n', labScriptPath(name)]).status, 0);
      const checked = spawnSync('shellcheck', [labScriptPath(name)], { encoding: 'utf8' });
      if (checked.error === undefined) assert.equal(checked.status, 0, checked.stdout);
    });
  }

  it('shellWord keeps quotes, spaces and $ as they are', () => {
    const value = `it's a "dir" with $HOME and \\ in it`;
    assert.equal(bash(['-c', `printf %s ${shellWord(value)}`]).stdout, value);
  });

  it('chassis-control.sh refuses to run without its values', () => {
    const result = bash([labScriptPath('chassis-control.sh'), 'get', 'power']);
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /CHASSIS_NETNS is not set/);
  });

  it('postgres-boot.sh names its arguments when they are missing', () => {
    const result = bash([labScriptPath('postgres-boot.sh')]);
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /usage: postgres-boot\.sh DATA_DIR/);
  });

  describe('the PDU launcher', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "skypg pdu 'test' "));
      // A chassis hook that only records how it was called.
      await writeFile(
        join(dir, 'hook'),
        `#!/bin/bash\necho "$*" >>${shellWord(join(dir, 'calls'))}\n`,
        {
          mode: 0o700,
        },
      );
      await installPduScript(join(dir, 'pdu'), [
        { outlet: 'host1', chassisHook: join(dir, 'hook') },
      ]);
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('switches an outlet through its chassis hook and reports its state', async () => {
      const pdu = join(dir, 'pdu');
      assert.equal(await outletOn(pdu, 'host1'), true);
      const off = bash([pduFenceCommand(pdu)], 'action=off\noutlet=host1\nport=ignored\n');
      assert.equal(off.status, 0, off.stderr);
      assert.equal(await outletOn(pdu, 'host1'), false);
      assert.equal(await readFile(join(dir, 'calls'), 'utf8'), 'set power 0\n');
    });

    it('refuses an outlet it does not have', () => {
      const result = bash([pduFenceCommand(join(dir, 'pdu'))], 'action=off\noutlet=host9\n');
      assert.equal(result.status, 1);
      assert.match(result.stderr, /this PDU has no outlet 'host9'/);
    });
  });
});
