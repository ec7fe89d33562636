// What `skypg lab up|status|fault|heal|logs` do with either kind of lab: the multi-host lab
// (root: namespaces, VIPs, BMCs, a supervisor per host) or the loopback pair (anyone). The
// lab modules build and break things; this file picks the kind and tells the story.
import type { LabShape } from './lab-shapes.js';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ClusterStatus } from '../status/cluster-status.js';
import { SkypgError, messageOf } from '../common/errors.js';
import { isRoot, runProgram } from '../process/run-program.js';
import {
  labPsql,
  readSupervisorLog,
  startSupervisors,
  supervisorState,
  type LogLine,
} from './lab-cluster.js';
import { labStateFile, labUp, readLabState, type LabState } from './loopback-pair.js';
import { outletOn, switchOutletOn } from './lab-pdu.js';
import {
  blackout,
  bmcCutOff,
  execIn,
  faultTable,
  freeze,
  frozenPids,
  heal,
  holdsAddress,
  ipmiPower,
  killPostgres,
  namespacePids,
  netnsLabDown,
  netnsLabStateFile,
  netnsLabUp,
  partition,
  powerOff,
  powerOn,
  readNetnsLabState,
  reconnectBmc,
  thaw,
  type LabHostName,
  type NetnsLabState,
} from './netns-lab.js';

export type AnyLab =
  { kind: 'netns'; state: NetnsLabState } | { kind: 'loopback'; state: LabState };

export const labFaults = ['kill', 'poweroff', 'blackout', 'partition', 'freeze'] as const;
export type LabFault = (typeof labFaults)[number];
export const labHostNames: readonly LabHostName[] = ['host1', 'host2'];

/** What the loopback pair lacks and why (said by `lab up` when not root). */
export const rootOnlyFeatures =
  'without VIPs, fencing, network faults or supervisors: those live in network namespaces, ' +
  'which only root can create';

/** The lab in `dir`, whichever kind it is; LAB_NOT_FOUND when there is none. */
export async function readAnyLab(dirInput: string): Promise<AnyLab> {
  const dir = resolve(dirInput);
  const isNetns = await stat(join(dir, netnsLabStateFile)).then(
    () => true,
    () => false,
  );
  if (isNetns) return { kind: 'netns', state: await readNetnsLabState(dir) };
  const isLoopback = await stat(join(dir, labStateFile)).then(
    () => true,
    () => false,
  );
  if (isLoopback) return { kind: 'loopback', state: await readLabState(dir) };
  throw new SkypgError('LAB_NOT_FOUND', `no lab in ${dir}`, {
    hint: "build one with 'skypg lab up', or pass the lab's directory with --dir",
  });
}

/** The multi-host lab, or why it is refused: every fault and `heal` need real machines. */
export async function readNetnsLab(dir: string, command: string): Promise<NetnsLabState> {
  const lab = await readAnyLab(dir);
  if (lab.kind === 'netns') return lab.state;
  throw new SkypgError(
    'REFUSED',
    `${command} needs the multi-host lab, and ${lab.state.dir} holds the loopback pair`,
    { hint: "as root: 'skypg lab down', then 'skypg lab up' builds the multi-host lab" },
  );
}

export interface SandboxUpOptions {
  dir: string;
  /** The loopback pair even as root. */
  loopback: boolean;
  /** Multi-host lab: fence each host through its BMC only (1), or then its PDU outlet (2). */
  fenceLevels?: 1 | 2;
  /** Multi-host lab: how the pair is built and configured (lab-shapes.ts). */
  shape?: LabShape;
  onStep?: (step: string) => void;
}

/** As root, the multi-host lab with both supervisors running and the pair healthy; else loopback. */
export async function sandboxUp(options: SandboxUpOptions): Promise<AnyLab> {
  const step = options.onStep ?? (() => undefined);
  if (options.loopback || !isRoot()) {
    return { kind: 'loopback', state: await labUp({ dir: options.dir, onStep: step }) };
  }
  const state = await netnsLabUp({
    dir: options.dir,
    onStep: step,
    ...(options.fenceLevels === undefined ? {} : { fenceLevels: options.fenceLevels }),
    ...(options.shape === undefined ? {} : { shape: options.shape }),
  });
  try {
    step('start a supervisor on each host (as systemd would at boot)');
    await startSupervisors(state);
    step('wait until host1 is the primary with the VIP and host2 its standby');
    await waitForHealthyPair(state, 'host1', 45_000);
    return { kind: 'netns', state };
  } catch (error) {
    // The supervisors or PostgreSQL misbehaved: take everything down, not half a lab.
    await netnsLabDown(state.dir).catch(() => undefined);
    throw new SkypgError(
      'LAB_FAILED',
      `the lab in ${state.dir} did not become healthy: ${messageOf(error)}`,
      { hint: 'the lab was removed; run lab up again, or lab demo --keep to inspect one' },
    );
  }
}

/** Until both supervisors report the roles, the primary holds the VIP and the standby streams. */
export async function waitForHealthyPair(
  state: NetnsLabState,
  primary: LabHostName,
  timeoutMs: number,
): Promise<void> {
  const standby = peerOf(primary);
  const deadline = Date.now() + timeoutMs;
  let missing = 'supervisor states';
  while (Date.now() < deadline) {
    const [primaryState, standbyState] = await Promise.all([
      supervisorState(state, primary),
      supervisorState(state, standby),
    ]);
    if (primaryState?.state !== 'primary' || standbyState?.state !== 'standby') {
      missing = `${primary} primary and ${standby} standby (supervisors say ${primaryState?.state ?? 'nothing'} and ${standbyState?.state ?? 'nothing'})`;
    } else if (!(await holdsAddress(state, primary))) {
      missing = `${primary} to hold the primary VIP`;
    } else if (
      (await labPsql(state, standby, 'select status from pg_stat_wal_receiver')) !== 'streaming'
    ) {
      missing = `${standby} to stream from ${primary}`;
    } else {
      return;
    }
    await sleep(200);
  }
  throw new SkypgError('LAB_FAILED', `timed out after ${timeoutMs}ms waiting for ${missing}`);
}

function peerOf(host: LabHostName): LabHostName {
  return host === 'host1' ? 'host2' : 'host1';
}

// ---------------------------------------------------------------- faults

export interface FaultResult {
  fault: LabFault;
  node: LabHostName;
  /** When the fault took effect (ISO time), to read the logs from. */
  at: string;
  /** What was done, in one sentence. */
  did: string;
}

/** The host whose PostgreSQL answers as a writable primary, if exactly one does. */
export async function currentPrimary(state: NetnsLabState): Promise<LabHostName | undefined> {
  const answers = await Promise.all(
    labHostNames.map(async (host) => {
      // A frozen or powered-off host does not answer: give it a short time, not forever.
      const answer = await Promise.race([
        labPsql(state, host, 'select pg_is_in_recovery()'),
        sleep(1500).then(() => ''),
      ]);
      return answer === 'f' ? host : undefined;
    }),
  );
  const primaries = answers.filter((host) => host !== undefined);
  return primaries.length === 1 ? primaries[0] : undefined;
}

/** Injects a real fault into one host of the multi-host lab (default: the current primary). */
export async function injectFault(
  state: NetnsLabState,
  fault: LabFault,
  nodeOption: LabHostName | undefined,
): Promise<FaultResult> {
  const node = nodeOption ?? (await currentPrimary(state));
  if (node === undefined) {
    throw new SkypgError('USAGE', 'no single host answers as the primary, so --node is needed', {
      hint: 'name the host to break with --node host1 or --node host2',
    });
  }
  if ((await namespacePids(state.netns[node])).length === 0 && fault !== 'partition') {
    throw new SkypgError('REFUSED', `${node} is powered off: there is nothing to ${fault}`, {
      hint: "power it on with 'skypg lab heal' first",
    });
  }
  const at = new Date().toISOString();
  let did: string;
  switch (fault) {
    case 'kill': {
      const pid = await killPostgres(state, node);
      did = `killed the postmaster of ${node} (PID ${pid}) with SIGKILL; its supervisor still runs`;
      break;
    }
    case 'poweroff':
      // From the gateway, as an operator's machine would: the host's peer may be the one broken.
      await powerOff(state, node, { from: 'gw' });
      did = `powered ${node} off through its BMC: every process on it is gone`;
      break;
    case 'blackout':
      await blackout(state, node);
      did =
        state.fenceLevels === 2
          ? `blacked ${node} out: it and its BMC lost power together (its PDU outlet still answers)`
          : `blacked ${node} out: it and its BMC lost power together, and it has no other fence level`;
      break;
    case 'partition':
      for (const other of [peerOf(node), 'gw', 'client'] as const) {
        await partition(state, node, other);
      }
      did = `cut ${node} off the LAN (from ${peerOf(node)}, gw and client); its BMC still answers`;
      break;
    case 'freeze': {
      const pids = await freeze(state, node);
      did = `froze every process on ${node} (${pids.length} processes, SIGSTOP): a hung machine`;
      break;
    }
  }
  return { fault, node, at, did };
}

export interface HealResult {
  /** What was undone, one sentence each; empty when nothing needed it. */
  did: string[];
}

/** Undoes every fault: reconnects, thaws and powers on (boot then starts the supervisor). */
export async function healLab(state: NetnsLabState): Promise<HealResult> {
  const did: string[] = [];
  const cut = await runProgram('nft', ['list', 'tables'], {
    netns: state.netns.lan,
    allowFailure: true,
  });
  if (cut.stdout.includes(faultTable)) {
    await heal(state);
    did.push('reconnected every host to the LAN');
  }
  for (const host of labHostNames) {
    if (await bmcCutOff(state, host)) {
      await reconnectBmc(state, host);
      did.push(`reconnected the BMC of ${host}`);
    }
    if (state.pduDir !== undefined && (await outletOn(state.pduDir, host)) === false) {
      await switchOutletOn(state.pduDir, host);
      did.push(`switched the PDU outlet of ${host} on: it boots its supervisor, which rejoins`);
    }
  }
  for (const host of labHostNames) {
    const frozen = await frozenPids(state, host);
    if (frozen.length > 0) {
      await thaw(state, host);
      did.push(`thawed ${host} (${frozen.length} processes)`);
    }
    const power = await ipmiPower(state, host, 'status', { from: 'gw' });
    if (/off/i.test(power)) {
      await powerOn(state, host, { from: 'gw' });
      did.push(`powered ${host} on: it boots its supervisor, which rejoins it as a standby`);
    }
  }
  return { did };
}

// ---------------------------------------------------------------- status

export interface LabHostCondition {
  name: LabHostName;
  address: string;
  power: 'on' | 'off';
  frozen: boolean;
  /** The machines whose frames from this host the switch drops (lab fault partition). */
  cutOffFrom: string[];
  /** What the host's supervisor last said, if it said it in the last 5 s. */
  supervisor: string | undefined;
}

export interface NetnsLabOverview {
  kind: 'netns';
  dir: string;
  configPath: string;
  hosts: LabHostCondition[];
  /** `skypg status` as the client machine sees the pair (undefined if it could not run). */
  status: ClusterStatus | undefined;
}

/** The machines' conditions (power, frozen, cut off) and `skypg status` from the client. */
export async function netnsLabOverview(state: NetnsLabState): Promise<NetnsLabOverview> {
  const cut = await runProgram('nft', ['list', 'table', 'bridge', faultTable], {
    netns: state.netns.lan,
    allowFailure: true,
  });
  const hosts = await Promise.all(
    state.hosts.map(async (host): Promise<LabHostCondition> => {
      const running = (await namespacePids(host.netns)).length > 0;
      const frozen = (await frozenPids(state, host.name)).length > 0;
      const supervisor = frozen ? undefined : await supervisorState(state, host.name);
      return {
        name: host.name,
        address: host.address,
        power: running ? 'on' : 'off',
        frozen,
        cutOffFrom: cut.exitCode === 0 ? droppedFrom(cut.stdout, host.name) : [],
        supervisor: supervisor === undefined ? undefined : supervisor.state,
      };
    }),
  );
  const json = await skypgInClient(state, ['status', '--json', '--timeout', '1500ms']);
  let status: ClusterStatus | undefined;
  try {
    status = JSON.parse(json) as ClusterStatus;
  } catch {
    status = undefined;
  }
  return { kind: 'netns', dir: state.dir, configPath: state.configPath, hosts, status };
}

/** Members that the nft rules keep `host`'s frames from (`iifname "v-host" oifname "v-X" drop`). */
export function droppedFrom(rules: string, host: string): string[] {
  const pattern = new RegExp(`iifname "v-${host}" oifname "v-([\\w-]+)" drop`, 'g');
  return [...rules.matchAll(pattern)].map((match) => match[1] ?? '');
}

export function renderHostConditions(hosts: LabHostCondition[]): string[] {
  return hosts.map((host) => {
    const faults = [
      host.power === 'off' ? 'POWERED OFF' : undefined,
      host.frozen ? 'FROZEN' : undefined,
      host.cutOffFrom.length > 0 ? `CUT OFF from ${host.cutOffFrom.join(', ')}` : undefined,
    ].filter((fault) => fault !== undefined);
    const supervisor =
      host.supervisor === undefined ? 'supervisor silent' : `supervisor: ${host.supervisor}`;
    return `  ${host.name} (${host.address}): ${faults.length === 0 ? 'healthy machine' : faults.join(', ')}; ${supervisor}`;
  });
}

const skypgEntry = fileURLToPath(new URL('../../../bin/run.js', import.meta.url));

/** Runs skypg in the client machine's namespace with the lab's configuration; its stdout. */
async function skypgInClient(state: NetnsLabState, args: string[]): Promise<string> {
  const result = await execIn(state, 'client', process.execPath, [skypgEntry, ...args], {
    env: { SKYPG_CONFIG: state.configPath, PGPASSFILE: state.passfile },
    allowFailure: true,
    timeoutMs: 15_000,
  });
  return result.stdout;
}

// ---------------------------------------------------------------- logs

export interface MergedLogLine extends LogLine {
  host: LabHostName;
}

/** Both supervisors' JSON logs as one list ordered by time (stable for equal times). */
export async function mergedSupervisorLogs(state: NetnsLabState): Promise<MergedLogLine[]> {
  const perHost = await Promise.all(
    labHostNames.map(async (host) =>
      (await readSupervisorLog(state, host)).map((line) => ({ ...line, host })),
    ),
  );
  return mergeByTime(perHost);
}

/** Merges lists that are each already in time order. */
export function mergeByTime<T extends { time: string }>(lists: T[][]): T[] {
  return lists
    .flat()
    .map((line, index) => ({ line, index, at: Date.parse(line.time) }))
    .sort((a, b) => a.at - b.at || a.index - b.index)
    .map(({ line }) => line);
}

/** One log line for people: time, host, then what happened. */
export function renderLogLine(line: MergedLogLine): string {
  const time = line.time.slice(11, 23);
  let what: string;
  if (line.event === 'decision') {
    what = `${line.state ?? '?'} ${line.rule ?? '?'}: ${line.reason ?? ''}`;
  } else if (line.event === 'action') {
    const took = line.durationMs === undefined ? '' : ` in ${line.durationMs}ms`;
    what = `${line.action ?? '?'} ${line.result ?? '?'}${took}: ${line.detail ?? ''}`;
  } else {
    what = `${line.event}${line.detail === undefined ? '' : `: ${line.detail}`}`;
  }
  return `${time} ${line.host} ${what}`.trimEnd();
}
