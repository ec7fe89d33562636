// The multi-host (network namespace) lab for one test file: built once, always torn down.
// Root only; netnsLabSkipReason() says why a file should skip instead.
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { loadConfigFile } from '../../src/lib/config/load.js';
import type { ClusterConfig } from '../../src/lib/config/types.js';
import {
  netnsLabDown,
  netnsLabStateFile,
  netnsLabUp,
  type NetnsLabState,
} from '../../src/lib/lab/netns-lab.js';
import { isRoot, runProgram } from '../../src/lib/process/run-program.js';
import { makeScratchDir, removeScratchDir, sweepStaleScratchDirs } from './scratch.js';

const scratchPrefix = 'skypg-test-';
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
export function useNetnsLab(): () => TestNetnsLab {
  let scratch: string | undefined;
  let lab: TestNetnsLab | undefined;
  before(async () => {
    await sweepStaleNetnsLabs();
    await sweepStaleScratchDirs();
    // makeScratchDir marks it with our PID and opens it (0711) for the postgres OS user.
    scratch = await makeScratchDir();
    const state = await netnsLabUp({ dir: join(scratch, labDirName) });
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Tears down multi-host labs left in scratch dirs by test processes that died: their
 * namespaces and BMCs outlive them, and removeScratchDir only knows the loopback lab.
 */
export async function sweepStaleNetnsLabs(): Promise<string[]> {
  const swept: string[] = [];
  for (const entry of await readdir(tmpdir()).catch(() => [] as string[])) {
    if (!entry.startsWith(scratchPrefix)) continue;
    const scratch = join(tmpdir(), entry);
    const ownerText = await readFile(join(scratch, 'owner.pid'), 'utf8').catch(() => '');
    const owner = Number(ownerText.trim());
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) continue;
    for (const child of await readdir(scratch).catch(() => [] as string[])) {
      const dir = join(scratch, child);
      const labs = await readdir(dir).catch(() => [] as string[]);
      if (!labs.includes(netnsLabStateFile)) continue;
      // One lab that will not go away must not stop this test file; the next sweep retries.
      if (
        await netnsLabDown(dir).then(
          () => true,
          () => false,
        )
      )
        swept.push(dir);
    }
  }
  return swept;
}
