// The multi-host lab's plan: its machines, their names and addresses, the state file that
// records them (written before anything is made, so teardown can always undo a lab), and the
// checks made before building one.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, readdir } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { SkypgError } from '../common/errors.js';
import { isRoot } from '../process/run-program.js';
import { osAccount } from '../process/os-user.js';
import * as labSupport from './lab-support.js';
import type { LabShape } from './lab-shapes.js';

export const netnsLabStateFile = 'netns-lab.json';
export const netnsLabConfigFile = 'skypg.yaml';

export type LabHostName = 'host1' | 'host2';
/** Every machine on the lab's LAN; each is a namespace with `eth0` on the switch. */
export type LabMember = LabHostName | 'gw' | 'client' | 'bmc1' | 'bmc2';
export type LabNamespaceKey = LabMember | 'lan';

export const labMembers: readonly LabMember[] = ['host1', 'host2', 'gw', 'client', 'bmc1', 'bmc2'];

export const labAddresses: Readonly<Record<LabMember, string>> = {
  host1: '10.231.0.11',
  host2: '10.231.0.12',
  gw: '10.231.0.1',
  client: '10.231.0.200',
  bmc1: '10.231.0.101',
  bmc2: '10.231.0.102',
};
export const labSubnet = '10.231.0.0/24';
export const labVips = { primary: '10.231.0.130/24', standby: '10.231.0.131/24' } as const;

export const prefixLength = 24;
export const pgPort = 5432;
export const ipmiPort = 623;
export const fenceUser = 'fence';
export const osUser = 'postgres';
export const wording: labSupport.LabWording = { title: 'skypg netns lab', member: 'host' };
/** Our nft table in the switch namespace: heal() deletes it and nothing else. */
export const faultTable = 'skypg_fault';
/** The primary VIP without its prefix length, as clients dial it. */
export const primaryVipAddress = labVips.primary.split('/')[0] ?? labVips.primary;

export interface NetnsLabBmc {
  member: 'bmc1' | 'bmc2';
  netns: string;
  address: string;
  port: number;
  /** lan.conf, the emu file, ipmi_sim's state and logs, the chassis_control hook. */
  dir: string;
  configFile: string;
  hookFile: string;
  /** Password of IPMI user `fence` (first line, mode 0600). */
  passwordFile: string;
  /** ipmi_sim's PID, recorded as soon as it is started. */
  pid?: number;
}

export interface NetnsLabHost extends labSupport.LabServer {
  name: LabHostName;
  netns: string;
  address: string;
  /** Run (detached, inside the host's namespace) when its BMC powers it on, if present. */
  bootHook: string;
  bmc: NetnsLabBmc;
}

export interface NetnsLabState extends labSupport.LabStateBase {
  kind: 'netns';
  id: string;
  /** The namespace of each lab machine (names are unique per lab: `<id>-<member>`). */
  netns: Record<LabNamespaceKey, string>;
  /** The namespaces teardown deletes (a name another lab already held is left out). */
  namespaces: string[];
  hosts: [NetnsLabHost, NetnsLabHost];
  /** 1: each host is fenced through its BMC only; 2: then through its PDU outlet. */
  fenceLevels?: 1 | 2;
  /** The simulated switched PDU: its fence script and outlet states (lab-pdu.ts). */
  pduDir?: string;
  /** How the pair is built and configured (lab-shapes.ts); 'lab' when absent. */
  shape?: LabShape;
}

export type NetnsLabUpOptions = labSupport.LabBuildOptions & {
  fenceLevels?: 1 | 2;
  shape?: LabShape;
};

/** Refuses before anything is made: not root, a path the hooks cannot hold, missing programs. */
export async function assertCanBuild(dir: string): Promise<void> {
  if (!isRoot()) {
    throw new SkypgError('LAB_FAILED', 'the multi-host lab needs root (network namespaces)', {
      hint: "run it as root, or use the loopback lab ('skypg lab up')",
    });
  }
  // Paths end up in a shell hook, lan.conf and YAML: keep them to characters none of those quote.
  if (!/^[\w./-]+$/.test(dir)) {
    throw new SkypgError('LAB_FAILED', `the lab directory ${dir} has unusual characters`, {
      hint: 'pick a directory whose path has only letters, digits and . _ / -',
    });
  }
  const missing = [];
  for (const program of ['ip', 'ipmi_sim', 'setsid']) {
    if (!(await onPath(program))) missing.push(program);
  }
  if (missing.length > 0) {
    throw new SkypgError('LAB_FAILED', `the multi-host lab needs ${missing.join(', ')}`, {
      hint: 'install them with scripts/install-prerequisites.sh',
    });
  }
}

async function onPath(program: string): Promise<boolean> {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    try {
      await access(join(dir, program), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

/** A short id no live lab uses, so namespace names never collide across concurrent labs. */
async function pickLabId(): Promise<string> {
  const taken = await readdir('/run/netns').catch(() => [] as string[]);
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const id = `sk${randomBytes(2).toString('hex')}`;
    if (!taken.some((name) => name.startsWith(`${id}-`))) return id;
  }
  throw new Error('no free lab id (too many namespaces in /run/netns)');
}

/** Names and addresses every part of a new lab (nothing is made yet). */
export async function planLab(
  dir: string,
  binDir: string,
  fenceLevels: 1 | 2,
  shape: LabShape,
): Promise<NetnsLabState> {
  const id = await pickLabId();
  const netns: Record<LabNamespaceKey, string> = {
    lan: `${id}-lan`,
    host1: `${id}-host1`,
    host2: `${id}-host2`,
    gw: `${id}-gw`,
    client: `${id}-client`,
    bmc1: `${id}-bmc1`,
    bmc2: `${id}-bmc2`,
  };
  const host = (name: LabHostName, bmcMember: 'bmc1' | 'bmc2'): NetnsLabHost => {
    const bmcDir = join(dir, `bmc-${name}`);
    return {
      name,
      netns: netns[name],
      address: labAddresses[name],
      port: pgPort,
      ...labSupport.serverPaths(dir, name),
      ...(shape === 'debian' ? { configDir: join(dir, name, 'etc') } : {}),
      bootHook: join(dir, `boot-${name}.sh`),
      bmc: {
        member: bmcMember,
        netns: netns[bmcMember],
        address: labAddresses[bmcMember],
        port: ipmiPort,
        dir: bmcDir,
        configFile: join(bmcDir, 'lan.conf'),
        hookFile: join(bmcDir, 'chassis-control.sh'),
        passwordFile: join(dir, `bmc-${name}.password`),
      },
    };
  };
  return {
    kind: 'netns',
    id,
    dir,
    configPath: join(dir, netnsLabConfigFile),
    // Built by hand: the passwords live in the OS user's ~/.pgpass, and nothing names the file.
    passfile:
      shape === 'by-hand' ? join(osAccount(osUser)?.home ?? dir, '.pgpass') : join(dir, 'pgpass'),
    binDir,
    osUser,
    createdAt: new Date().toISOString(),
    netns,
    // lan first: once it is ours, the id is ours (`ip netns add` refuses an existing name).
    namespaces: [netns.lan, ...labMembers.map((member) => netns[member])],
    hosts: [host('host1', 'bmc1'), host('host2', 'bmc2')],
    fenceLevels,
    pduDir: join(dir, 'pdu'),
    shape,
  };
}

export async function writeNetnsLabState(state: NetnsLabState): Promise<void> {
  await labSupport.writeStateFile(state, netnsLabStateFile);
}

export async function readNetnsLabState(dirInput: string): Promise<NetnsLabState> {
  const parsed = await labSupport.readStateFile(dirInput, netnsLabStateFile, {
    lab: 'multi-host lab',
    missingHint: 'pass the directory the lab was built in',
    unreadableHint: "delete its namespaces by hand ('ip netns list'), then the directory",
  });
  if ((parsed as { kind?: unknown } | null)?.kind !== 'netns') {
    const file = join(resolve(dirInput), netnsLabStateFile);
    throw new SkypgError('LAB_NOT_FOUND', `${file} does not describe a multi-host lab`, {
      hint: 'pass the directory the lab was built in',
    });
  }
  return parsed as NetnsLabState;
}

/** The directory pg_ctl -D names: the configuration directory in Debian's layout. */
export function serverDir(host: NetnsLabHost): string {
  return host.configDir ?? host.dataDir;
}

export function labHost(state: NetnsLabState, name: LabHostName): NetnsLabHost {
  const host = state.hosts.find((candidate) => candidate.name === name);
  if (host === undefined) throw new SkypgError('LAB_NOT_FOUND', `the lab has no host ${name}`);
  return host;
}

export function peerOf(name: LabHostName): LabHostName {
  return name === 'host1' ? 'host2' : 'host1';
}
