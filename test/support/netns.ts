// The multi-host (network namespace) lab for one test file: built once, always torn down.
// Root only; netnsLabSkipReason() says why a file should skip instead.
import { join } from 'node:path';
import { after, before } from 'node:test';
import { loadConfigFile } from '../../src/lib/config/load.js';
import type { ClusterConfig } from '../../src/lib/config/types.js';
import type { LabShape } from '../../src/lib/lab/lab-shapes.js';
import { netnsLabDown, netnsLabUp, type NetnsLabState } from '../../src/lib/lab/netns-lab.js';
import { isRoot, runProgram } from '../../src/lib/process/run-program.js';
import { makeScratchDir, removeScratchDir, sweepStaleScratchDirs } from './scratch.js';

const labDirName = 'netns-lab';

export interface TestNetnsLab {
  state: NetnsLabState;
  config: ClusterConfig;
}

/** Why the multi-host lab cannot run here, or undefined when it can. */
export async function netnsLabSkipReason(): Promise<string | undefined> {
  if (!isRoot()) return 'the multi-host lab needs root (network namespaces)';
  const list = await runProgram('ip', ['netns', 'list'], { allowFailure: true }).catch(
    () => undefined,
  );
  if (list?.exitCode !== 0) return "'ip netns' cannot be used here (is iproute2 installed?)";
  const probe = await runProgram('unshare', ['--net', 'true'], { allowFailure: true }).catch(
    () => undefined,
  );
  if (probe?.exitCode !== 0) return 'this machine does not allow new network namespaces';
  const missing: string[] = [];
  for (const program of ['ipmi_sim', 'ipmitool', 'fence_ipmilan', 'nft', 'ping']) {
    const found = await runProgram('sh', ['-c', `command -v ${program}`], {
      allowFailure: true,
      env: { PATH: `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin` },
    });
    if (found.exitCode !== 0) missing.push(program);
  }
  if (missing.length > 0) {
    return `missing ${missing.join(', ')} (run scripts/install-prerequisites.sh)`;
  }
  return undefined;
}

/** Registers before/after hooks and returns a getter for the running lab. */
export function useNetnsLab(
  options: { fenceLevels?: 1 | 2; shape?: LabShape } = {},
): () => TestNetnsLab {
  let scratch: string | undefined;
  let lab: TestNetnsLab | undefined;
  before(async () => {
    // Labs left by killed test processes first: their namespaces and BMCs outlive them.
    await sweepStaleScratchDirs();
    // makeScratchDir marks it with our PID and opens it (0711) for the postgres OS user.
    scratch = await makeScratchDir();
    const state = await netnsLabUp({ dir: join(scratch, labDirName), ...options });
    lab = { state, config: (await loadConfigFile(state.configPath)).config };
  });
  after(async () => {
    if (scratch === undefined) return;
    // A failed teardown throws and keeps the scratch dir, so a later sweep can retry it.
    await netnsLabDown(join(scratch, labDirName));
    await removeScratchDir(scratch);
  });
  return () => {
    if (lab === undefined) throw new Error('the lab is not up (did before() fail?)');
    return lab;
  };
}
