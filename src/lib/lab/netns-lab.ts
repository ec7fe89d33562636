// The multi-host lab: every "machine" is a network namespace on one Linux box (root only).
// A `lan` namespace holds the switch (bridge br0); host1 runs the primary, host2 a streaming
// standby, gw and client are third parties, and bmc1/bmc2 run ipmi_sim as each host's BMC, so
// fencing goes through the real ipmitool, then optionally a simulated PDU (lab-pdu.ts); recipes
// and traps: the team's lab-on-one-machine notes. Everything lives in one directory whose state
// file is written before anything is made, so netnsLabDown can always undo a lab.
//
// This module builds a lab and is the one its users import; the parts are, by responsibility:
// netns-plan.ts (names, addresses, the state file), netns-network.ts (namespaces, switch,
// network faults), netns-bmc.ts (BMCs, PDU, power), netns-postgres.ts (the pair and its boot
// hook), netns-config.ts (its skypg.yaml), netns-faults.ts (killed and hung machines),
// netns-chaos.ts (busy CPUs, lossy links and brief pauses, for bench:steady --chaos),
// netns-teardown.ts, netns-process.ts (/proc helpers) and the shell scripts in sh/.
import { chmod } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SkypgError, messageOf } from '../common/errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { findPgBinDir } from '../pg/programs.js';
import * as labSupport from './lab-support.js';
import { installPdu, startBmc } from './netns-bmc.js';
import { labConfig } from './netns-config.js';
import { buildNetwork } from './netns-network.js';
import {
  assertCanBuild,
  labMembers,
  labSubnet,
  netnsLabStateFile,
  osUser,
  planLab,
  writeNetnsLabState,
  type NetnsLabState,
  type NetnsLabUpOptions,
} from './netns-plan.js';
import { buildPostgres } from './netns-postgres.js';
import { netnsLabDown } from './netns-teardown.js';

export {
  faultTable,
  labAddresses,
  labMembers,
  labSubnet,
  labVips,
  netnsLabConfigFile,
  netnsLabStateFile,
  primaryVipAddress,
  readNetnsLabState,
  writeNetnsLabState,
  type LabHostName,
  type LabMember,
  type LabNamespaceKey,
  type NetnsLabBmc,
  type NetnsLabHost,
  type NetnsLabState,
  type NetnsLabUpOptions,
} from './netns-plan.js';
export { execIn, heal, holdsAddress, linkDown, linkUp, partition } from './netns-network.js';
export { blackout, bmcCutOff, ipmiPower, powerOff, powerOn, reconnectBmc } from './netns-bmc.js';
export {
  labSocketTarget,
  postgresBootScript,
  setBootHook,
  startPostgres,
} from './netns-postgres.js';
export { freeze, freezePostgres, frozenPids, killPostgres, thaw } from './netns-faults.js';
export { namespacePids } from './netns-process.js';
export { anyLabDown, netnsLabDown, type NetnsLabDownResult } from './netns-teardown.js';

/** Builds the lab; on failure removes whatever it made and throws LAB_FAILED. */
export async function netnsLabUp(options: NetnsLabUpOptions): Promise<NetnsLabState> {
  const dir = resolve(options.dir);
  const step = options.onStep ?? (() => undefined);
  await assertCanBuild(dir);
  const binDir = await findPgBinDir(options.binDir);
  const owner = labSupport.ownerIds(osUser);
  await labSupport.assertReachable(dir, osUser, owner.uid, 'a directory');
  await labSupport.claimDirectory(dir, {
    stateFile: netnsLabStateFile,
    mode: 0o711,
    labExistsHint: 'take it down first, or pick another directory',
    notEmptyHint: 'choose a new or empty directory',
  });
  // Root keeps the directory (the BMC files are root's); postgres only needs to pass through.
  await chmod(dir, 0o711);
  try {
    const state = await planLab(dir, binDir, options.fenceLevels ?? 1, options.shape ?? 'lab');
    // Written first so that netnsLabDown finds everything even if a later step fails.
    await writeNetnsLabState(state);
    step(`create namespaces ${state.id}-{lan,${labMembers.join(',')}} on ${labSubnet}`);
    await buildNetwork(state);
    step('start the BMCs (ipmi_sim) of host1 and host2');
    for (const host of state.hosts) await startBmc(state, host);
    step('install the switched PDU (a second fence level, independent of the BMCs)');
    await installPdu(state);
    await buildPostgres(state, owner, step);
    await writeFileAtomic(state.configPath, labConfig(state));
    return state;
  } catch (error) {
    await netnsLabDown(dir).catch(() => undefined);
    throw new SkypgError('LAB_FAILED', `building the lab in ${dir} failed: ${messageOf(error)}`, {
      hint: 'the partial lab was removed; fix the cause and run it again',
      cause: error,
    });
  }
}
