// A loopback primary/standby pair for one test file: built once, always torn down.
import { join } from 'node:path';
import { after, before } from 'node:test';
import { loadConfigFile } from '../../src/lib/config/load.js';
import type { ClusterConfig } from '../../src/lib/config/types.js';
import { labUp, type LabState } from '../../src/lib/lab/loopback-pair.js';
import { makeScratchDir, removeScratchDir, sweepStaleScratchDirs } from './scratch.js';

export interface TestLab {
  state: LabState;
  config: ClusterConfig;
}

/** Registers before/after hooks and returns a getter for the running lab. */
export function useLoopbackLab(): () => TestLab {
  let scratch: string | undefined;
  let lab: TestLab | undefined;
  before(async () => {
    await sweepStaleScratchDirs();
    scratch = await makeScratchDir();
    const state = await labUp({ dir: join(scratch, 'lab') });
    lab = { state, config: (await loadConfigFile(state.configPath)).config };
  });
  after(async () => {
    if (scratch !== undefined) await removeScratchDir(scratch);
  });
  return () => {
    if (lab === undefined) throw new Error('the lab is not up (did before() fail?)');
    return lab;
  };
}
