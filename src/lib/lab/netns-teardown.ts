// Taking a multi-host lab down, whole or half built, from what its state file records.
import { readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SkypgError } from '../common/errors.js';
import { runProgram } from '../process/run-program.js';
import * as labSupport from './lab-support.js';
import { labDown } from './loopback-pair.js';
import { stopIpmiSim } from './netns-bmc.js';
import {
  netnsLabStateFile,
  readNetnsLabState,
  serverDir,
  type NetnsLabState,
} from './netns-plan.js';
import { killNamespace, namespaceExists, namespacePids, signalAll } from './netns-process.js';

export interface NetnsLabDownResult {
  removed: boolean;
  /** Namespaces deleted. */
  namespaces: string[];
  /** ipmi_sim, postmasters, and anything else that was still running in the lab's namespaces. */
  stoppedPids: number[];
}

/**
 * Undoes a lab, whole or half built: BMCs and postmasters by their verified PIDs, then every
 * process left in each of its namespaces (they are ours), then the namespaces (lan last) and the
 * directory. Safe to run twice; keeps the directory (and throws) if a namespace survives.
 */
export async function netnsLabDown(dirInput: string): Promise<NetnsLabDownResult> {
  const dir = resolve(dirInput);
  const entries = await readdir(dir).catch(() => undefined);
  if (entries === undefined) return { removed: false, namespaces: [], stoppedPids: [] };
  if (!entries.includes(netnsLabStateFile)) {
    // Claimed but nothing made yet (the state file comes first): only an empty dir is ours.
    if (entries.every((entry) => entry.startsWith(`.${netnsLabStateFile}.`))) {
      await rm(dir, { recursive: true, force: true });
      return { removed: true, namespaces: [], stoppedPids: [] };
    }
    throw new SkypgError('LAB_NOT_FOUND', `no multi-host lab in ${dir}`, {
      hint: 'pass the directory the lab was built in',
    });
  }
  const state = await readNetnsLabState(dir);
  const stopped = new Set<number>();
  for (const pid of await stopVerifiedProcesses(state)) stopped.add(pid);
  const { deleted, killed, problems } = await deleteNamespaces(state);
  for (const pid of killed) stopped.add(pid);
  if (problems.length > 0) {
    throw new SkypgError(
      'LAB_FAILED',
      `tearing down the lab in ${dir} left ${problems.join('; ')}`,
      {
        hint: 'the directory was kept; run the teardown again',
      },
    );
  }
  // The OS user's ~/.pgpass of a pair built by hand is outside the directory, and the lab's.
  if (state.shape === 'by-hand') await rm(state.passfile, { force: true });
  await rm(dir, { recursive: true, force: true });
  return { removed: true, namespaces: deleted, stoppedPids: [...stopped] };
}

/** ipmi_sim and the postmasters, by PIDs verified to be theirs; returns those it stopped. */
async function stopVerifiedProcesses(state: NetnsLabState): Promise<number[]> {
  const stopped: number[] = [];
  // A frozen machine would sit out a graceful stop: let everything run again first.
  for (const name of state.namespaces) signalAll(await namespacePids(name), 'SIGCONT');
  for (const host of state.hosts) {
    const pid = host.bmc.pid;
    if (pid !== undefined && (await stopIpmiSim(pid, host.bmc.configFile))) stopped.push(pid);
  }
  for (const host of state.hosts) {
    const pid = await labSupport.stopPostmaster(host.dataDir, 2000, serverDir(host));
    if (pid !== undefined) stopped.push(pid);
  }
  return stopped;
}

/** Kills what is left in each namespace, then deletes it (lan last); says what went wrong. */
async function deleteNamespaces(
  state: NetnsLabState,
): Promise<{ deleted: string[]; killed: number[]; problems: string[] }> {
  const deleted: string[] = [];
  const killedPids: number[] = [];
  const problems: string[] = [];
  const lanLast = [
    ...state.namespaces.filter((name) => name !== state.netns.lan),
    ...state.namespaces.filter((name) => name === state.netns.lan),
  ];
  for (const name of lanLast) {
    if (!(await namespaceExists(name))) continue;
    const killed = await killNamespace(name);
    killedPids.push(...killed.pids);
    if (!killed.empty) {
      problems.push(`processes survive in namespace ${name}`);
      continue;
    }
    const result = await runProgram('ip', ['netns', 'del', name], { allowFailure: true });
    if (result.exitCode === 0) deleted.push(name);
    else problems.push(`ip netns del ${name}: ${result.stderr.trim()}`);
  }
  return { deleted, killed: killedPids, problems };
}

/** Tears down whichever kind of lab `dir` holds (multi-host or loopback). */
export async function anyLabDown(
  dir: string,
): Promise<{ removed: boolean; stoppedPids: number[] }> {
  const isNetns = await stat(join(resolve(dir), netnsLabStateFile)).then(
    () => true,
    () => false,
  );
  return isNetns ? netnsLabDown(dir) : labDown(dir);
}
