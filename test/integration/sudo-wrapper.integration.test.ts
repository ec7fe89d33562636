// packaging/skypg-net, the sudo wrapper of docs/operations.md, run by the real /bin/sh with
// its two `exec` lines turned into `echo`: what it would run as root, or that it refuses.
// The argument lists include those of security-review.md M1 (extra arping options as root).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { makeScratchDir, removeScratchDir } from '../support/scratch.js';

const run = promisify(execFile);
const wrapperFile = new URL('../../packaging/skypg-net', import.meta.url);
const operationsDoc = new URL('../../docs/operations.md', import.meta.url);

const vip = '10.231.0.130';
const dad = (wait: string): string[] => ['arping', '-D', '-c', '1', '-w', wait, '-I', 'eth0', vip];
const announce = (count: string, interval: string): string[] => [
  ...['arping', '-U', '-c', count, '-i', interval, '-I', 'eth0', vip],
];

describe('the sudo wrapper skypg-net', () => {
  let dir: string;
  let dryRun: string;
  before(async () => {
    dir = await makeScratchDir();
    const text = await readFile(wrapperFile, 'utf8');
    const echoed = text.replaceAll('exec "$', 'echo "$');
    assert.equal(echoed.split('echo "$').length - text.split('echo "$').length, 2);
    dryRun = join(dir, 'skypg-net');
    await writeFile(dryRun, echoed, { mode: 0o755 });
  });
  after(async () => {
    await removeScratchDir(dir);
  });

  const wrapper = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
    try {
      const { stdout, stderr } = await run('/bin/sh', [dryRun, ...args]);
      return { code: 0, out: stdout, err: stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, out: failed.stdout, err: failed.stderr };
    }
  };

  it('is included verbatim in docs/operations.md', async () => {
    const [doc, text] = await Promise.all([
      readFile(operationsDoc, 'utf8'),
      readFile(wrapperFile, 'utf8'),
    ]);
    assert.ok(doc.includes(`\`\`\`sh\n${text}\`\`\`\n`), 'docs/operations.md lost the wrapper');
  });

  const accepted: [string[], string][] = [
    [['arping', '-V'], '/usr/bin/arping -V'],
    [['ip', '-o', 'addr', 'show', 'dev', 'eth0'], '/usr/sbin/ip -o addr show dev eth0'],
    [['ip', 'addr', 'add', `${vip}/24`, 'dev', 'eth0'], `/usr/sbin/ip addr add ${vip}/24 dev eth0`],
    [
      ['ip', 'addr', 'add', '10.231.0.131/24', 'dev', 'eth0', 'label', 'eth0:2'],
      '/usr/sbin/ip addr add 10.231.0.131/24 dev eth0 label eth0:2',
    ],
    [['ip', 'addr', 'del', `${vip}/24`, 'dev', 'eth0'], `/usr/sbin/ip addr del ${vip}/24 dev eth0`],
    [dad('1'), `/usr/bin/arping -D -c 1 -w 1 -I eth0 ${vip}`],
    [dad('60'), `/usr/bin/arping -D -c 1 -w 60 -I eth0 ${vip}`],
    // What skypg's announcer sends: one announcement per run, while the VIP is held.
    [announce('1', '1'), `/usr/bin/arping -U -c 1 -i 1 -I eth0 ${vip}`],
    [announce('5', '1'), `/usr/bin/arping -U -c 5 -i 1 -I eth0 ${vip}`],
    [announce('100', '60'), `/usr/bin/arping -U -c 100 -i 60 -I eth0 ${vip}`],
  ];
  for (const [args, expected] of accepted) {
    it(`runs ${args.join(' ')}`, async () => {
      assert.deepEqual(await wrapper(args), { code: 0, out: `${expected}\n`, err: '' });
    });
  }

  const refused: [string, string[]][] = [
    [
      'M1: arping -s spoofing a source',
      [...dad('1').slice(0, 6), '-s', '10.231.0.1', ...dad('1').slice(6)],
    ],
    ['M1: an ARP flood', announce('99999999', '0')],
    ['a count above 100', announce('101', '1')],
    ['an interval of 0', announce('5', '0')],
    ['an interval above 60', announce('5', '61')],
    ['a DAD wait above 60', dad('61')],
    ['a leading zero', dad('01')],
    ['a glob as a count', dad('*')],
    ['options inside one argument', dad('1 -s 10.231.0.1')],
    ['a DAD with two probes', ['arping', '-D', '-c', '2', '-w', '1', '-I', 'eth0', vip]],
    ['arping for another address', [...dad('1').slice(0, 8), '10.231.0.1']],
    ['arping on another interface', ['arping', '-D', '-c', '1', '-w', '1', '-I', 'eth1', vip]],
    ['arping -V with more', ['arping', '-V', '-h']],
    ['ip netns exec', ['ip', 'netns', 'exec', 'host1', 'id']],
    ['another address', ['ip', 'addr', 'add', '10.231.0.99/24', 'dev', 'eth0']],
    ['the VIP without its prefix', ['ip', 'addr', 'add', vip, 'dev', 'eth0']],
    ['another interface', ['ip', 'addr', 'add', `${vip}/24`, 'dev', 'eth1']],
    ['an unlisted label', ['ip', 'addr', 'add', `${vip}/24`, 'dev', 'eth0', 'label', 'eth0:9']],
    ['a label on del', ['ip', 'addr', 'del', `${vip}/24`, 'dev', 'eth0', 'label', 'eth0:1']],
    ['a trailing argument', ['ip', 'addr', 'add', `${vip}/24`, 'dev', 'eth0', 'up']],
    ['addr show of another device', ['ip', '-o', 'addr', 'show', 'dev', 'lo']],
    ['words joined into one argument', ['ip -o', 'addr', 'show', 'dev', 'eth0', '']],
    ['another program', ['sh', '-c', 'id']],
    ['nothing', []],
  ];
  for (const [name, args] of refused) {
    it(`refuses ${name}`, async () => {
      const result = await wrapper(args);
      assert.deepEqual(
        { code: result.code, out: result.out },
        { code: 1, out: '' },
        `ran: ${result.out}`,
      );
      assert.equal(result.err, `skypg-net: refused: ${args.join(' ')}\n`);
    });
  }
});
