// Faults of the multi-host lab's machines: a killed or frozen postmaster, and a hung machine
// (every process stopped) with its thaw. Network faults are in netns-network.ts, power in netns-bmc.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import { SkypgError } from '../common/errors.js';
import { isPostmasterOf, readPostmasterPid } from '../pg/programs.js';
import {
  labHost,
  serverDir,
  type LabHostName,
  type LabMember,
  type NetnsLabState,
} from './netns-plan.js';
import {
  childrenOf,
  isRunning,
  namespacePids,
  processState,
  signalAll,
  waitFor,
} from './netns-process.js';

/** SIGKILLs the host's postmaster (PID checked against its data dir); returns that PID. */
export async function killPostgres(state: NetnsLabState, name: LabHostName): Promise<number> {
  const host = labHost(state, name);
  const pid = await readPostmasterPid(host.dataDir);
  if (pid === undefined || !(await isPostmasterOf(pid, serverDir(host)))) {
    throw new SkypgError('LAB_FAILED', `PostgreSQL is not running on ${name}`, {
      hint: 'start it first (startPostgres)',
    });
  }
  // Its children notice the death on their own; until they have, a restart finds the shared
  // memory still in use and fails.
  const children = await childrenOf(pid);
  process.kill(pid, 'SIGKILL');
  await waitFor(`the postmaster of ${name} and its children to die`, 10_000, async () => {
    if (await isPostmasterOf(pid, serverDir(host))) return false;
    const alive = await Promise.all(children.map(isRunning));
    return !alive.includes(true);
  });
  return pid;
}

/**
 * Freezes the host's PostgreSQL (SIGSTOP), its supervisor and the host itself still running:
 * the postmaster first, so that it forks nothing while its children are listed (a backend
 * forked in between would keep answering), then every child. Returns the PIDs, for SIGCONT.
 */
export async function freezePostgres(state: NetnsLabState, name: LabHostName): Promise<number[]> {
  const postmaster = await readPostmasterPid(labHost(state, name).dataDir);
  if (postmaster === undefined) return [];
  signalAll([postmaster], 'SIGSTOP');
  await waitFor(`the postmaster of ${name} to stop`, 5000, async () => {
    const current = await processState(postmaster);
    return current !== 'running';
  });
  const children = await childrenOf(postmaster);
  signalAll(children, 'SIGSTOP');
  return [postmaster, ...children];
}

/** SIGSTOPs every process in the member's namespace (a hung machine); returns their PIDs. */
export async function freeze(state: NetnsLabState, member: LabMember): Promise<number[]> {
  const pids = await namespacePids(state.netns[member]);
  signalAll(pids, 'SIGSTOP');
  // Delivery is asynchronous: under load a process may still run for a moment after kill().
  const deadline = Date.now() + 2000;
  for (const pid of pids) {
    while (Date.now() < deadline && (await processState(pid)) === 'running') await sleep(10);
  }
  return pids;
}

/** The processes of a member that are stopped (a frozen machine); empty when none are. */
export async function frozenPids(state: NetnsLabState, member: LabMember): Promise<number[]> {
  const pids = await namespacePids(state.netns[member]);
  const states = await Promise.all(pids.map(processState));
  return pids.filter((_pid, index) => states[index] === 'stopped');
}

export async function thaw(state: NetnsLabState, member: LabMember): Promise<number[]> {
  const pids = await namespacePids(state.netns[member]);
  signalAll(pids, 'SIGCONT');
  return pids;
}
