// status against a real pair: roles and lag; one node stopped; one node frozen (SIGSTOP).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readPostmasterPid } from '../../src/lib/pg/programs.js';
import { runSkypg } from '../support/cli.js';
import { useLoopbackLab } from '../support/lab.js';
import { labNode, startServer, stopServer } from '../support/lab-control.js';
import { waitUntil } from '../support/wait.js';

interface StatusJson {
  cluster: string;
  nodes: {
    name: string;
    reachable: boolean;
    role?: string;
    timeline?: number;
    lsn?: string;
    lagBytes?: number;
    error?: string;
  }[];
}

describe('status', () => {
  const lab = useLoopbackLab();
  const status = (...args: string[]) =>
    runSkypg(['status', ...args], { env: { SKYPG_CONFIG: lab().state.configPath } });

  it('shows the primary and the standby with timeline, LSN and lag', async () => {
    const parsed = await waitUntil('the standby reports its lag', async () => {
      const run = await status('--json');
      const json = JSON.parse(run.stdout) as StatusJson;
      return json.nodes[1]?.lagBytes !== undefined ? { run, json } : undefined;
    });
    assert.equal(parsed.run.code, 0);
    const [host1, host2] = parsed.json.nodes;
    assert.equal(parsed.json.cluster, 'lab');
    assert.deepEqual([host1?.name, host1?.role, host1?.timeline], ['host1', 'primary', 1]);
    assert.deepEqual([host2?.name, host2?.role, host2?.timeline], ['host2', 'standby', 1]);
    assert.match(host1?.lsn ?? '', /\//);
    assert.equal(typeof host2?.lagBytes, 'number');
    const text = await status();
    assert.match(text.stdout, /^NODE +ADDRESS +ROLE +TL +LSN +LAG +HEARTBEAT +VIPS +SUPERVISOR$/m);
  });

  it('a word after it makes an unknown command: one line and exit 1, as for any command', async () => {
    // bin/run.js runs `status` from the bundle with its own @oclif/core, anything else from the
    // package; the command_not_found hook is built against the package, so this checks the choice.
    const run = await status('extra');
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      'skypg: unknown command "status extra" (hint: \'skypg --help\' lists every command)\n',
    );
  });

  it('still answers within its timeout with the standby stopped, and exits 2', async () => {
    await stopServer(lab(), 'host2');
    try {
      const run = await status('--timeout', '1s', '--json');
      assert.equal(run.code, 2);
      const json = JSON.parse(run.stdout) as StatusJson;
      assert.equal(json.nodes[0]?.role, 'primary');
      assert.equal(json.nodes[1]?.reachable, false);
      assert.match(json.nodes[1]?.error ?? '', /refused/);
    } finally {
      await startServer(lab(), 'host2');
    }
  });

  it('answers within its timeout when a node hangs (postmaster frozen)', async () => {
    const pid = await readPostmasterPid(labNode(lab(), 'host2').data_dir);
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGSTOP');
    try {
      const run = await status('--timeout', '700ms', '--json');
      assert.equal(run.code, 2);
      const json = JSON.parse(run.stdout) as StatusJson;
      assert.equal(json.nodes[0]?.role, 'primary');
      assert.equal(json.nodes[1]?.reachable, false);
      assert.match(json.nodes[1]?.error ?? '', /did not answer within 700ms/);
      assert.ok(run.ms < 3000, `status took ${run.ms}ms with a 700ms timeout`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  });
});
