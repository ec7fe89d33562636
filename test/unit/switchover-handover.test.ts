// The old primary's hand-over (actions/switchover-handover.ts) on recording fakes and a
// virtual clock: the order of its effects, that the primary VIP stays until the new primary
// answers for it (or the wait runs out), and where it stops when something is wrong.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  handOverPrimary,
  handOverVipWaitMs,
  type HandOverDeps,
} from '../../src/lib/actions/switchover-handover.js';
import type { ControlData } from '../../src/lib/pg/controldata.js';
import { SkypgError } from '../../src/lib/common/errors.js';
import { FakeClock } from '../support/loop-fakes.js';
import { examplePair } from '../support/switchover-fakes.js';

const { config } = await examplePair();
const host1 = config.nodes[0];
if (host1 === undefined) throw new Error('no host1 in the example');

interface Script {
  /** Looks at the postmaster before it is gone. */
  stopLooks?: number;
  /** The peer answers for the VIP from this look on; never when undefined. */
  peerHoldsFromLook?: number;
  /** The standby start takes this long. */
  startMs?: number;
  checkpointFails?: boolean;
  clusterState?: string;
}

function fakes(script: Script): { deps: HandOverDeps; effects: string[]; clock: FakeClock } {
  const clock = new FakeClock();
  const effects: string[] = [];
  let stopLooks = 0;
  let holderLooks = 0;
  const control: ControlData = {
    systemIdentifier: '1',
    clusterState: script.clusterState ?? 'shut down',
    checkpointLsn: '0/3000028',
    checkpointTimeline: 1,
    minRecoveryEndLsn: '0/0',
    minRecoveryEndTimeline: 0,
    walLogHints: true,
    dataChecksums: false,
  };
  /** An effect that only records itself. */
  const recorded = (what: string) => async (): Promise<void> => {
    effects.push(what);
    await Promise.resolve();
  };
  const deps: HandOverDeps = {
    checkpoint: async () => {
      effects.push('checkpoint');
      if (script.checkpointFails === true) throw new Error('out of disk');
      await clock.sleep(40);
    },
    requestFastStop: recorded('stop'),
    running: async () => {
      stopLooks += 1;
      await clock.sleep(1);
      return stopLooks <= (script.stopLooks ?? 3);
    },
    otherHolder: async () => {
      holderLooks += 1;
      await clock.sleep(10);
      const held =
        script.peerHoldsFromLook !== undefined && holderLooks >= script.peerHoldsFromLook;
      if (held) effects.push('peer holds the vip');
      return held;
    },
    dropVip: recorded('drop vip'),
    controlData: async () => {
      effects.push('control data');
      await Promise.resolve();
      return control;
    },
    writeStandbyFiles: recorded('standby files'),
    startStandby: async () => {
      effects.push('start standby');
      await clock.sleep(script.startMs ?? 200);
      effects.push('standby up');
      return 'a standby of host2 (10.0.0.12)';
    },
    clock,
  };
  return { deps, effects, clock };
}

describe('the old primary’s hand-over', () => {
  it('checkpoints, stops, restarts holding the VIP, then drops it once the peer answers for it', async () => {
    const { deps, effects } = fakes({ peerHoldsFromLook: 3 });
    const detail = await handOverPrimary(config, host1, deps);
    assert.deepEqual(effects, [
      'checkpoint',
      'standby files',
      'stop',
      'control data',
      'start standby',
      'standby up',
      'peer holds the vip',
      'drop vip',
    ]);
    assert.match(detail, /primary VIP dropped once the new primary held it/);
    assert.match(
      detail,
      /\(checkpoint \+40ms, stopped \+\d+ms, control file read \+\d+ms, standby \+\d+ms, vip dropped once the peer held it \+\d+ms\)$/,
    );
  });

  it('drops the VIP after the wait when the new primary never takes it', async () => {
    const { deps, effects, clock } = fakes({});
    const begun = clock.now();
    const detail = await handOverPrimary(config, host1, deps);
    assert.ok(effects.includes('drop vip'));
    assert.ok(clock.now() - begun >= handOverVipWaitMs);
    assert.match(detail, /did not take it within 3s/);
  });

  it('goes on when the checkpoint before the stop fails, and says so', async () => {
    const { deps, effects } = fakes({ checkpointFails: true, peerHoldsFromLook: 1 });
    const detail = await handOverPrimary(config, host1, deps);
    assert.deepEqual(effects.slice(0, 3), ['checkpoint', 'standby files', 'stop']);
    assert.match(detail, /the checkpoint before it failed: out of disk/);
  });

  it('neither restarts nor drops the VIP when the control file is not a clean shutdown', async () => {
    const { deps, effects } = fakes({ clusterState: 'in production', peerHoldsFromLook: 1 });
    await assert.rejects(
      handOverPrimary(config, host1, deps),
      (error: unknown) => error instanceof SkypgError && /left stopped/.test(error.message),
    );
    assert.deepEqual(effects, ['checkpoint', 'standby files', 'stop', 'control data']);
  });

  it('keeps the VIP when the fast shutdown does not finish', async () => {
    const { deps, effects } = fakes({ stopLooks: Number.POSITIVE_INFINITY, peerHoldsFromLook: 1 });
    await assert.rejects(
      handOverPrimary(config, host1, deps),
      (error: unknown) =>
        error instanceof SkypgError && /the primary VIP is kept/.test(error.message),
    );
    assert.deepEqual(effects, ['checkpoint', 'standby files', 'stop']);
  });
});
