// The multi-host lab's background trouble for bench:steady --chaos, against the real lab: busy
// loops in a host's namespace as nobody, the nft loss table at the switch with its counters,
// and a pause that stops a process and resumes it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import * as chaos from '../../src/lib/lab/netns-chaos.js';
import {
  execIn,
  heal,
  labAddresses,
  namespacePids,
  partition,
  type NetnsLabState,
} from '../../src/lib/lab/netns-lab.js';
import { processState } from '../../src/lib/lab/netns-process.js';
import { netnsLabSkipReason, useNetnsLab } from '../support/netns.js';

const skip = await netnsLabSkipReason();

async function pingsPeer(state: NetnsLabState): Promise<boolean> {
  const result = await execIn(
    state,
    'host1',
    'ping',
    ['-c', '1', '-W', '1', '-q', labAddresses.host2],
    {
      allowFailure: true,
    },
  );
  return result.exitCode === 0;
}

describe('netns lab chaos', { skip, timeout: 120_000 }, () => {
  const lab = useNetnsLab();
  const state = (): NetnsLabState => lab().state;

  it('runs busy loops in the host as nobody, pauses one, and kills them by PID', async () => {
    const hogs = await chaos.startCpuHogs(state(), 'host2', 2);
    try {
      assert.equal(hogs.length, 2);
      const inHost = await namespacePids(state().netns.host2);
      for (const pid of hogs) {
        assert.ok(inHost.includes(pid), `hog ${pid} runs in host2's namespace`);
        const status = await readFile(`/proc/${pid}/status`, 'utf8');
        assert.match(status, /^Uid:\s+65534\s/m);
        assert.equal(await processState(pid), 'running');
      }
      const [first] = hogs;
      assert.ok(first !== undefined);
      const paused = chaos.pauseProcess(first, 400);
      await sleep(150);
      assert.equal(await processState(first), 'stopped', 'stopped during the pause');
      const stoppedMs = await paused;
      assert.ok(stoppedMs >= 400, `stopped for ${stoppedMs} ms`);
      await sleep(50);
      assert.equal(await processState(first), 'running', 'resumed after the pause');
    } finally {
      await chaos.stopCpuHogs(hogs);
    }
    for (const pid of hogs) assert.equal(await processState(pid), 'gone');
  });

  it('drops frames on the hosts links and counts them; removing it leaves a partition alone', async () => {
    await chaos.startPacketLoss(state(), 0);
    try {
      assert.ok(await pingsPeer(state()), 'no loss at 0 %');
      const quiet = await chaos.readPacketLoss(state());
      assert.ok((quiet['host1']?.seen ?? 0) > 0, 'frames counted on host1 link');
      assert.equal((quiet['host1']?.dropped ?? 0) + (quiet['host2']?.dropped ?? 0), 0);
    } finally {
      await chaos.stopPacketLoss(state());
    }

    await chaos.startPacketLoss(state(), 100);
    try {
      assert.ok(!(await pingsPeer(state())), 'everything lost at 100 %');
      const lossy = await chaos.readPacketLoss(state());
      const dropped = (lossy['host1']?.dropped ?? 0) + (lossy['host2']?.dropped ?? 0);
      assert.ok(dropped > 0, 'drops counted');
      await partition(state(), 'host1', 'host2');
    } finally {
      await chaos.stopPacketLoss(state());
    }
    try {
      assert.ok(!(await pingsPeer(state())), 'the partition outlives the loss table');
      await assert.rejects(chaos.readPacketLoss(state()), 'the loss table is gone');
      await chaos.stopPacketLoss(state()); // idempotent
    } finally {
      await heal(state());
    }
    assert.ok(await pingsPeer(state()), 'healed');
  });
});
