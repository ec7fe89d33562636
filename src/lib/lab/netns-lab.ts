// The multi-host lab: every "machine" is a network namespace on one Linux box (root only).
// A `lan` namespace holds the switch (bridge br0); host1 runs the primary, host2 a streaming
// standby, gw and client are third parties, and bmc1/bmc2 run ipmi_sim as each host's BMC, so
// fencing goes through the real ipmitool, then optionally a simulated PDU (lab-pdu.ts); recipes
// and traps: the team's lab-on-one-machine notes. Everything lives in one directory whose state file is written
// before anything is made, so netnsLabDown can always undo a lab.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync } from 'node:fs';
import {
  access,
  appendFile,
  chmod,
  chown,
  mkdir,
  readdir,
  readFile,
  rm,
  stat,
} from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SkypgError, messageOf } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import type { ConnectTarget } from '../pg/connect.js';
import {
  findPgBinDir,
  isPostmasterOf,
  readPostmasterPid,
  type PgProgramContext,
} from '../pg/programs.js';
import { isRoot, runProgram, type ProgramResult, type RunOptions } from '../process/run-program.js';
import * as labSupport from './lab-support.js';
import { installPduScript, pduFenceCommand } from './lab-pdu.js';
import {
  byHandArchiveSettings,
  byHandServerSettings,
  copyDebianConfig,
  exampleWithPaths,
  moveToDebianLayout,
  type ExampleHostPaths,
  type LabShape,
} from './lab-shapes.js';
import { osAccount } from '../process/os-user.js';
import { labDown } from './loopback-pair.js';

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

const prefixLength = 24;
const pgPort = 5432;
const ipmiPort = 623;
const fenceUser = 'fence';
const osUser = 'postgres';
const wording: labSupport.LabWording = { title: 'skypg netns lab', member: 'host' };
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

async function assertCanBuild(dir: string): Promise<void> {
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

async function planLab(
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

async function buildNetwork(state: NetnsLabState): Promise<void> {
  for (const [index, name] of state.namespaces.entries()) {
    const made = await runProgram('ip', ['netns', 'add', name], { allowFailure: true });
    if (made.exitCode !== 0) {
      // Not ours (another lab took the name after we looked): never let teardown touch it.
      state.namespaces = state.namespaces.slice(0, index);
      await writeNetnsLabState(state);
      throw new Error(`ip netns add ${name} failed: ${made.stderr.trim() || 'no output'}`);
    }
  }
  // Each veth is made inside lan with its peer created directly in the member's namespace,
  // so no end ever appears in the root namespace. STP is off: ports forward at once.
  const lanCommands = ['link set lo up', 'link add br0 type bridge stp_state 0', 'link set br0 up'];
  for (const member of labMembers) {
    lanCommands.push(
      `link add v-${member} type veth peer name eth0 netns ${state.netns[member]}`,
      `link set v-${member} master br0`,
      `link set v-${member} up`,
    );
  }
  await ipBatch(state.netns.lan, lanCommands);
  await Promise.all(
    labMembers.map((member) =>
      ipBatch(state.netns[member], [
        'link set lo up',
        `addr add ${labAddresses[member]}/${prefixLength} dev eth0`,
        'link set eth0 up',
      ]),
    ),
  );
}

async function ipBatch(netns: string, commands: string[]): Promise<void> {
  await runProgram('ip', ['-n', netns, '-batch', '-'], {
    input: `${commands.join('\n')}\n`,
    timeoutMs: 10_000,
  });
}

async function startBmc(state: NetnsLabState, host: NetnsLabHost): Promise<void> {
  const bmc = host.bmc;
  await mkdir(join(bmc.dir, 'state'), { recursive: true, mode: 0o700 });
  const password = randomBytes(12).toString('base64url'); // 16 characters: IPMI allows up to 20
  await writeFileAtomic(bmc.passwordFile, `${password}\n`, 0o600);
  await writeFileAtomic(join(bmc.dir, 'power'), '1\n');
  await writeFileAtomic(bmc.hookFile, chassisHook(state, host), 0o700);
  await writeFileAtomic(bmc.configFile, lanConf(bmc, password), 0o600);
  const emuFile = join(bmc.dir, 'bmc.emu');
  // A minimal BMC (upstream ipmisim1.emu): one management controller with a SEL.
  await writeFileAtomic(
    emuFile,
    [
      'mc_setbmc 0x20',
      'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr',
      'sel_enable 0x20 1000 0x0a',
      'mc_enable 0x20',
      '',
    ].join('\n'),
  );
  const log = openSync(join(bmc.dir, 'ipmi_sim.log'), 'a', 0o600);
  let pid: number | undefined;
  try {
    // detached = setsid: the simulator outlives us and gets no terminal signals. `ip netns exec`
    // execs the program, so the child's PID is ipmi_sim's. -n: no console on stdin.
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        bmc.netns,
        'ipmi_sim',
        '-c',
        bmc.configFile,
        '-f',
        emuFile,
        '-s',
        join(bmc.dir, 'state'),
        '-n',
      ],
      { detached: true, stdio: ['ignore', log, log], cwd: bmc.dir },
    );
    child.on('error', () => undefined);
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(log);
  }
  if (pid === undefined) throw new Error(`ipmi_sim for ${host.name} did not start`);
  bmc.pid = pid;
  await writeNetnsLabState(state);
  const outcome = { exited: false };
  await waitFor(
    `ipmi_sim for ${host.name} to listen on ${bmc.address}:${ipmiPort}`,
    10_000,
    async () => {
      // Not `ip netns pids`: until `ip netns exec` has switched, the PID is not listed there.
      if (!(await isRunning(pid))) {
        outcome.exited = true;
        return true;
      }
      const listening = await runProgram('ss', ['-Hlun', `sport = :${ipmiPort}`], {
        netns: bmc.netns,
        allowFailure: true,
      });
      return listening.stdout.trim() !== '';
    },
  );
  if (outcome.exited) {
    const log = await readFile(join(bmc.dir, 'ipmi_sim.log'), 'utf8').catch(() => '');
    throw new Error(`ipmi_sim for ${host.name} exited: ${lastLine(log) ?? 'no output'}`);
  }
  if (!(await isIpmiSimOf(pid, bmc.configFile))) {
    // Should `ip netns exec` ever fork instead of exec, record the simulator itself.
    for (const candidate of await namespacePids(bmc.netns)) {
      if (await isIpmiSimOf(candidate, bmc.configFile)) bmc.pid = candidate;
    }
    await writeNetnsLabState(state);
  }
}

function lanConf(bmc: NetnsLabBmc, password: string): string {
  const guid = randomBytes(16).toString('hex');
  return `# skypg netns lab: simulated BMC (ipmi_sim) of one host. Mode 0600: it holds the password.
name "${bmc.member}"
set_working_mc 0x20
  startlan 1
    addr 0.0.0.0 ${ipmiPort}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid ${guid}
  endlan
  chassis_control "${bmc.hookFile}"
  user 1 true  ""        "unused"      user  10 none md2 md5 straight
  user 2 true  "${fenceUser}"   "${password}" admin 10 none md2 md5 straight
`;
}

/**
 * The BMC's power switch. ipmi_sim popen()s it synchronously and reads stdout to EOF, so it
 * returns fast and detaches whatever it starts. Power off = freeze and kill everything in the
 * host's namespace and pull its switch port (a killed host's kernel stack would still answer);
 * power on = fresh static address (a reboot loses a VIP), port up, then the boot hook if any.
 */
function chassisHook(state: NetnsLabState, host: NetnsLabHost): string {
  return `#!/bin/bash
# skypg netns lab: chassis_control hook of ${host.name}'s BMC. Called by ipmi_sim as
#   HOOK get power | set power "0|1" | set reset "1" | set boot X | check
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
ns=${host.netns}
lan=${state.netns.lan}
port=v-${host.name}
address=${host.address}/${prefixLength}
power_file=${join(host.bmc.dir, 'power')}
boot=${host.bootHook}
log=${join(host.bmc.dir, 'chassis.log')}
echo "$(date +%T.%N) $*" >>"$log"

power_off() {
  local round pids
  # Frozen first, so nothing can react or shut down cleanly; then the NIC goes silent.
  pids=$(ip netns pids "$ns")
  [ -n "$pids" ] && kill -STOP $pids 2>/dev/null
  ip -n "$lan" link set "$port" down
  for round in $(seq 1 100); do
    pids=$(ip netns pids "$ns")
    [ -z "$pids" ] && break
    kill -STOP $pids 2>/dev/null
    kill -KILL $pids 2>/dev/null
    sleep 0.05
  done
  echo 0 >"$power_file"
  [ -z "$(ip netns pids "$ns")" ] || { echo "processes survive in $ns" >>"$log"; exit 1; }
}

power_on() {
  [ "$(cat "$power_file" 2>/dev/null)" = 1 ] && return 0
  ip -n "$ns" addr flush dev eth0 scope global
  ip -n "$ns" addr add "$address" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$lan" link set "$port" up
  echo 1 >"$power_file"
  if [ -f "$boot" ]; then   # never PostgreSQL blindly: only what the scenario put there
    setsid ip netns exec "$ns" /bin/bash "$boot" </dev/null >>"$log" 2>&1 &
  fi
  return 0
}

op=\${1:-}
shift || true
case $op in
  get)
    for p in "$@"; do
      case $p in
        power) echo "power:$(cat "$power_file" 2>/dev/null || echo 1)" ;;
        boot) echo "boot:default" ;;
        *) echo "Invalid parameter: $p"; exit 1 ;;
      esac
    done
    ;;
  set)
    while [ $# -ge 2 ]; do
      p=$1 v=\${2//\\"/}
      shift 2
      case $p in
        power) if [ "$v" = 0 ]; then power_off; else power_on; fi ;;
        reset) power_off; power_on ;;
        boot | identify) : ;;
        *) echo "Invalid parameter: $p"; exit 1 ;;
      esac
    done
    ;;
  check) exit 0 ;;
  *) echo "Unknown operation $op"; exit 1 ;;
esac
exit 0
`;
}

/** The PDU's outlets feed the hosts: cutting one runs the host's chassis power-off. */
async function installPdu(state: NetnsLabState): Promise<void> {
  if (state.pduDir === undefined) return;
  await installPduScript(
    state.pduDir,
    state.hosts.map((host) => ({ outlet: host.name, chassisHook: host.bmc.hookFile })),
  );
}

async function buildPostgres(
  state: NetnsLabState,
  owner: labSupport.OwnerIds,
  step: (s: string) => void,
): Promise<void> {
  const [primary, standby] = state.hosts;
  const byHand = state.shape === 'by-hand';
  for (const host of state.hosts) {
    await labSupport.makeSocketDir(host, owner);
    const archive = (name: string): string => join(state.dir, name, 'archive');
    const extra = byHand
      ? byHandArchiveSettings(archive(host.name), archive(peerOf(host.name)))
      : '';
    if (byHand) {
      await mkdir(archive(host.name), { mode: 0o700 });
      await chown(archive(host.name), owner.uid, owner.gid);
    }
    await labSupport.writeNodeSettings(wording, host, owner, extra);
  }
  if (
    byHand &&
    (await access(state.passfile).then(
      () => true,
      () => false,
    ))
  ) {
    throw new SkypgError(
      'LAB_FAILED',
      `${state.passfile} exists: a pair built by hand keeps its passwords there`,
      {
        hint: "another lab of this shape runs, or the file is the machine's own: move it away first",
      },
    );
  }
  const passwords = await labSupport.writePassfile(state.passfile, `*:${pgPort}`, owner);

  step(`initdb host1 (${state.binDir})`);
  await labSupport.initPrimary(pgContext(state, primary), primary, wording, {
    addresses: '*',
    why: 'a VIP added later is served without a restart',
  });
  await appendFile(
    join(primary.dataDir, 'pg_hba.conf'),
    `
# skypg netns lab: the LAN (the base backup copies this to the standby)
host  replication  ${labSupport.replicationUser}  ${labSubnet}  scram-sha-256
host  all          all      ${labSubnet}  scram-sha-256
`,
  );
  if (byHand) await appendFile(join(primary.dataDir, 'postgresql.conf'), byHandServerSettings);
  if (primary.configDir !== undefined) {
    step(`move host1's configuration to ${primary.configDir} (Debian's layout)`);
    await moveToDebianLayout({ ...primary, configDir: primary.configDir }, owner);
  }
  step(`start host1 as primary on ${primary.address}:${pgPort}`);
  await startPostgresServer(state, primary);
  const primaryTarget = labSocketTarget(state, 'host1');
  await labSupport.setUpPrimaryRoles(
    primaryTarget,
    passwords,
    { path: state.configPath, text: labConfig(state) },
    step,
  );

  step('pg_basebackup host2 from host1 over the LAN');
  // Run from host2's namespace; -R writes primary_conninfo with passfile=, never a password.
  // connect_timeout lands in primary_conninfo too: without it, a reconnect to a powered-off
  // primary hangs in TCP SYN retries for minutes instead of retrying every second.
  const conninfo = `host=${primary.address} port=${pgPort} user=${labSupport.replicationUser} application_name=${standby.name} connect_timeout=2`;
  await labSupport.cloneStandby(
    pgContext(state, standby),
    conninfo,
    standby,
    byHand ? standby.name : undefined,
  );
  if (primary.configDir !== undefined && standby.configDir !== undefined) {
    await copyDebianConfig(
      primary as { configDir: string },
      { ...standby, configDir: standby.configDir },
      owner,
    );
  }
  step(`start host2 as standby on ${standby.address}:${pgPort}`);
  await startPostgresServer(state, standby);
  step('wait until host2 streams from host1');
  await waitFor('host2 to stream from host1', 30_000, async () => {
    const replication = await labSupport.replicationState(primaryTarget, standby.name);
    return replication === 'streaming';
  });
}

function pgContext(state: NetnsLabState, host: NetnsLabHost): PgProgramContext {
  return {
    binDir: state.binDir,
    osUser: state.osUser,
    cwd: state.dir,
    env: { PGPASSFILE: state.passfile },
    netns: host.netns,
  };
}

async function startPostgresServer(state: NetnsLabState, host: NetnsLabHost): Promise<void> {
  await labSupport.startServer(pgContext(state, host), host);
}

function labConfig(state: NetnsLabState): string {
  if (state.shape === 'example') {
    const [host1, host2] = state.hosts;
    const paths = (host: NetnsLabHost): ExampleHostPaths => ({
      dataDir: host.dataDir,
      socketDir: host.socketDir,
      fencePasswordFile: host.bmc.passwordFile,
    });
    return exampleWithPaths({
      binDir: state.binDir,
      stateDir: state.dir,
      hosts: [paths(host1), paths(host2)],
    });
  }
  return ownLabConfig(state);
}

function ownLabConfig(state: NetnsLabState): string {
  // ipmitool reads the password file itself: the password is on no command line.
  const pduLevel = (host: NetnsLabHost): string =>
    state.fenceLevels === 2 && state.pduDir !== undefined
      ? `      - name: pdu
        agent: command
        command: ${pduFenceCommand(state.pduDir)}
        options: { outlet: ${host.name} }
`
      : '';
  const node = (host: NetnsLabHost): string => `  - name: ${host.name}
    address: ${host.address}
    data_dir: ${host.dataDir}
    postgres: { ${nodePostgresKeys(state, host)} }
    fence:
      - name: ipmi
        agent: ipmitool
        ip: ${host.bmc.address}
        username: ${fenceUser}
        password_file: ${host.bmc.passwordFile}
        options: { lanplus: 1, cipher: 3 }
${pduLevel(host)}`;
  const [host1, host2] = state.hosts;
  return `# skypg netns lab ${state.id}, made at ${state.createdAt}.
# Each host is a network namespace (${host1.netns}, ${host2.netns}); BMCs are ipmi_sim.
cluster: lab-${state.id}
postgres:
  bin_dir: ${state.binDir}
  os_user: ${state.osUser}
  port: ${pgPort}
  superuser: postgres
${state.shape === 'by-hand' ? '' : `  passfile: ${state.passfile}\n`}nodes:
${node(host1)}${node(host2)}vip:
  primary: { address: ${labVips.primary}, interface: eth0 }
  standby: { address: ${labVips.standby}, interface: eth0 }
gateway: [${labAddresses.gw}]
${labSupport.clusterSettingsYaml(state.dir, 'required', state.shape === 'by-hand' ? '{node}' : undefined)}`;
}

/** A node's own postgres keys: its socket, and what its shape adds or leaves out. */
function nodePostgresKeys(state: NetnsLabState, host: NetnsLabHost): string {
  const keys = [`socket_dir: ${host.socketDir}`];
  // By hand, the server logs through logging_collector; pg_ctl's own lines go to the default.
  if (state.shape !== 'by-hand') keys.push(`log_file: ${host.logFile}`);
  if (host.configDir !== undefined) keys.push(`config_dir: ${host.configDir}`);
  return keys.join(', ');
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
  const problems: string[] = [];

  // A frozen machine would sit out a graceful stop: let everything run again first.
  for (const name of state.namespaces) signalAll(await namespacePids(name), 'SIGCONT');
  for (const host of state.hosts) {
    const pid = host.bmc.pid;
    if (pid !== undefined && (await stopIpmiSim(pid, host.bmc.configFile))) stopped.add(pid);
  }
  for (const host of state.hosts) {
    const pid = await labSupport.stopPostmaster(host.dataDir, 2000, serverDir(host));
    if (pid !== undefined) stopped.add(pid);
  }

  const deleted: string[] = [];
  const lanLast = [
    ...state.namespaces.filter((name) => name !== state.netns.lan),
    ...state.namespaces.filter((name) => name === state.netns.lan),
  ];
  for (const name of lanLast) {
    if (!(await namespaceExists(name))) continue;
    const killed = await killNamespace(name);
    for (const pid of killed.pids) stopped.add(pid);
    if (!killed.empty) {
      problems.push(`processes survive in namespace ${name}`);
      continue;
    }
    const result = await runProgram('ip', ['netns', 'del', name], { allowFailure: true });
    if (result.exitCode === 0) deleted.push(name);
    else problems.push(`ip netns del ${name}: ${result.stderr.trim()}`);
  }
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

async function namespaceExists(name: string): Promise<boolean> {
  return stat(join('/run/netns', name)).then(
    () => true,
    () => false,
  );
}

/** SIGKILL everything in the namespace until `ip netns pids` lists nothing (zombies are not listed). */
async function killNamespace(name: string): Promise<{ pids: number[]; empty: boolean }> {
  const seen: number[] = [];
  for (let round = 0; round < 100; round += 1) {
    const pids = await namespacePids(name);
    if (pids.length === 0) return { pids: seen, empty: true };
    seen.push(...pids.filter((pid) => !seen.includes(pid)));
    signalAll(pids, 'SIGKILL');
    await sleep(50);
  }
  return { pids: seen, empty: (await namespacePids(name)).length === 0 };
}

/** PIDs of every process whose network namespace is `name` (empty if it does not exist). */
export async function namespacePids(name: string): Promise<number[]> {
  const result = await runProgram('ip', ['netns', 'pids', name], { allowFailure: true });
  if (result.exitCode !== 0) return [];
  return result.stdout
    .split(/\s+/)
    .filter((word) => /^\d+$/.test(word))
    .map(Number);
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone already
    }
  }
}

async function isIpmiSimOf(pid: number, configFile: string): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').then(
    (text) => text.split('\0'),
    () => [] as string[],
  );
  return (
    (await isRunning(pid)) &&
    /(^|\/)ipmi_sim$/.test(cmdline[0] ?? '') &&
    cmdline.includes(configFile)
  );
}

/** SIGTERM, then SIGKILL; true when it was this BMC's simulator (now stopped). */
async function stopIpmiSim(pid: number, configFile: string): Promise<boolean> {
  if (!(await isIpmiSimOf(pid, configFile))) return false;
  await labSupport.signalUntilGone(
    pid,
    () => isIpmiSimOf(pid, configFile),
    [
      ['SIGTERM', 2000],
      ['SIGKILL', 3000],
    ],
    25,
  );
  return true;
}

// ---------------------------------------------------------------- faults and helpers

/** The directory pg_ctl -D names: the configuration directory in Debian's layout. */
function serverDir(host: NetnsLabHost): string {
  return host.configDir ?? host.dataDir;
}

function labHost(state: NetnsLabState, name: LabHostName): NetnsLabHost {
  const host = state.hosts.find((candidate) => candidate.name === name);
  if (host === undefined) throw new SkypgError('LAB_NOT_FOUND', `the lab has no host ${name}`);
  return host;
}

function peerOf(name: LabHostName): LabHostName {
  return name === 'host1' ? 'host2' : 'host1';
}

/** Runs a program inside a lab machine's namespace (as root unless `asUser` says otherwise). */
export function execIn(
  state: NetnsLabState,
  member: LabNamespaceKey,
  file: string,
  args: string[],
  options: Omit<RunOptions, 'netns'> = {},
): Promise<ProgramResult> {
  return runProgram(file, args, { timeoutMs: 30_000, ...options, netns: state.netns[member] });
}

/** Pulls the member's cable at the switch: it sees NO-CARRIER, nobody reaches it. */
export async function linkDown(state: NetnsLabState, member: LabMember): Promise<void> {
  await ipBatch(state.netns.lan, [`link set v-${member} down`]);
}

export async function linkUp(state: NetnsLabState, member: LabMember): Promise<void> {
  await ipBatch(state.netns.lan, [`link set v-${member} up`]);
}

/**
 * Drops frames between two members at the switch (a bridge-family nft table in lan, ARP
 * included). `oneWay`: only frames from `a` to `b`. Calls add up; heal() removes them all.
 */
export async function partition(
  state: NetnsLabState,
  a: LabMember,
  b: LabMember,
  options: { oneWay?: boolean } = {},
): Promise<void> {
  const rule = (from: LabMember, to: LabMember): string =>
    `add rule bridge ${faultTable} cut iifname "v-${from}" oifname "v-${to}" drop`;
  const script = [
    `table bridge ${faultTable} {`,
    '  chain cut { type filter hook forward priority -10; policy accept; }',
    '}',
    rule(a, b),
    ...(options.oneWay === true ? [] : [rule(b, a)]),
    '',
  ].join('\n');
  await runProgram('nft', ['-f', '-'], {
    netns: state.netns.lan,
    input: script,
    timeoutMs: 10_000,
  });
}

/** Removes every partition (only our table: declaring it first makes the delete idempotent). */
export async function heal(state: NetnsLabState): Promise<void> {
  await runProgram('nft', ['-f', '-'], {
    netns: state.netns.lan,
    input: `table bridge ${faultTable}\ndelete table bridge ${faultTable}\n`,
    timeoutMs: 10_000,
  });
}

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

async function childrenOf(parent: number): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry)).map(Number);
  const parents = await Promise.all(pids.map(async (pid) => (await procStat(pid))?.ppid));
  return pids.filter((_pid, index) => parents[index] === parent);
}

/** State letter and parent from /proc/PID/stat (fields after the parenthesised name). */
async function procStat(pid: number): Promise<{ state: string; ppid: number } | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: state ?? '', ppid: Number(ppid) };
}

async function isRunning(pid: number): Promise<boolean> {
  const stat = await procStat(pid);
  return stat !== undefined && stat.state !== 'Z';
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

/** 'stopped' (T), 'gone', or 'running' (anything else), from /proc/PID/stat. */
async function processState(pid: number): Promise<'stopped' | 'gone' | 'running'> {
  const state = (await procStat(pid))?.state;
  return state === undefined || state === 'Z' || state === 'X'
    ? 'gone'
    : state === 'T' || state === 't'
      ? 'stopped'
      : 'running';
}

/** The processes of a member that are stopped (a frozen machine); empty when none are. */
export async function frozenPids(state: NetnsLabState, member: LabMember): Promise<number[]> {
  const pids = await namespacePids(state.netns[member]);
  const states = await Promise.all(pids.map(processState));
  return pids.filter((_pid, index) => states[index] === 'stopped');
}

/** Whether the host has `address` (default: the primary VIP) on its LAN interface. */
export async function holdsAddress(
  state: NetnsLabState,
  host: LabHostName,
  address = primaryVipAddress,
): Promise<boolean> {
  const shown = await execIn(state, host, 'ip', ['-o', 'addr', 'show', 'dev', 'eth0'], {
    allowFailure: true,
  });
  return shown.stdout.includes(` ${address}/`);
}

export async function thaw(state: NetnsLabState, member: LabMember): Promise<number[]> {
  const pids = await namespacePids(state.netns[member]);
  signalAll(pids, 'SIGCONT');
  return pids;
}

/**
 * Switches the host's power through its BMC with the real ipmitool, from the peer's
 * namespace by default (as the surviving node would). Password via -f, never on the command
 * line; -C 3 because ipmi_sim cannot list cipher suites (each call would wait 10 s).
 */
export async function ipmiPower(
  state: NetnsLabState,
  name: LabHostName,
  action: 'on' | 'off' | 'cycle' | 'reset' | 'status',
  options: { from?: LabMember } = {},
): Promise<string> {
  const bmc = labHost(state, name).bmc;
  const from = options.from ?? peerOf(name);
  const result = await execIn(
    state,
    from,
    'ipmitool',
    [
      '-I',
      'lanplus',
      '-C',
      '3',
      '-H',
      bmc.address,
      '-p',
      String(bmc.port),
      '-U',
      fenceUser,
      '-f',
      bmc.passwordFile,
      'chassis',
      'power',
      action,
    ],
    { timeoutMs: 20_000 },
  );
  return result.stdout.trim();
}

/** Powers the host off via IPMI and waits until nothing runs in its namespace. */
export async function powerOff(
  state: NetnsLabState,
  name: LabHostName,
  options: { from?: LabMember } = {},
): Promise<void> {
  await ipmiPower(state, name, 'off', options);
  const netns = labHost(state, name).netns;
  await waitFor(`${name} to have no processes`, 5000, async () => {
    return (await namespacePids(netns)).length === 0;
  });
}

/**
 * A blackout: the host's chassis loses power and its BMC with it. The BMC's switch port goes
 * first (nothing answers IPMI from then on), then the host is powered off by its chassis
 * switch, the way the BMC itself would (every process killed, its port pulled).
 */
export async function blackout(state: NetnsLabState, name: LabHostName): Promise<void> {
  const host = labHost(state, name);
  await linkDown(state, host.bmc.member);
  await runProgram(host.bmc.hookFile, ['set', 'power', '0'], { timeoutMs: 20_000 });
  await waitFor(`${name} to have no processes`, 5000, async () => {
    return (await namespacePids(host.netns)).length === 0;
  });
}

/** Whether the host's BMC is cut off the LAN (its switch port is down: a blackout). */
export async function bmcCutOff(state: NetnsLabState, name: LabHostName): Promise<boolean> {
  const port = `v-${labHost(state, name).bmc.member}`;
  const shown = await runProgram('ip', ['-n', state.netns.lan, '-o', 'link', 'show', port], {
    allowFailure: true,
  });
  return shown.exitCode === 0 && !/[<,]UP[,>]/.test(shown.stdout);
}

export async function reconnectBmc(state: NetnsLabState, name: LabHostName): Promise<void> {
  await linkUp(state, labHost(state, name).bmc.member);
}

/** Powers the host on via IPMI: network back, then only its boot hook (none by default). */
export async function powerOn(
  state: NetnsLabState,
  name: LabHostName,
  options: { from?: LabMember } = {},
): Promise<void> {
  await ipmiPower(state, name, 'on', options);
}

/** What the host runs when powered on (inside its namespace, as root); undefined = nothing. */
export async function setBootHook(
  state: NetnsLabState,
  name: LabHostName,
  script: string | undefined,
): Promise<void> {
  const host = labHost(state, name);
  if (script === undefined) await rm(host.bootHook, { force: true });
  else await writeFileAtomic(host.bootHook, script, 0o700);
}

/** A boot hook that starts the host's PostgreSQL as it was (e.g. an old primary coming back). */
export function postgresBootScript(state: NetnsLabState, name: LabHostName): string {
  const host = labHost(state, name);
  return `#!/bin/bash
# Boot hook of ${name}: start its PostgreSQL as it was (the powered-off postmaster may still be
# an unreaped zombie, which PostgreSQL would take for a running server: wait for it first).
pid=$(head -n 1 ${join(host.dataDir, 'postmaster.pid')} 2>/dev/null)
for round in $(seq 1 150); do
  [ -n "$pid" ] && [ "$(sed 's/.*) //' /proc/$pid/stat 2>/dev/null | cut -d ' ' -f 1)" = Z ] || break
  sleep 0.1
done
exec runuser -u ${state.osUser} -- ${join(state.binDir, 'pg_ctl')} -D ${serverDir(host)} -l ${host.logFile} -w -t 60 start
`;
}

/** pg_ctl start inside the host's namespace, as the postgres OS user. */
export async function startPostgres(state: NetnsLabState, name: LabHostName): Promise<void> {
  const host = labHost(state, name);
  // A killed postmaster stays a zombie until PID 1 reaps it (seconds, under some inits), and
  // PostgreSQL takes a lock file whose PID still exists for a running server.
  const stale = await readPostmasterPid(host.dataDir);
  if (stale !== undefined && (await procStat(stale))?.state === 'Z') {
    await waitFor(`the dead postmaster ${stale} of ${name} to be reaped`, 15_000, async () => {
      return (await procStat(stale))?.state !== 'Z';
    });
  }
  await startPostgresServer(state, host);
}

/** The host's server through its Unix socket (reachable from any namespace: it is a file). */
export function labSocketTarget(state: NetnsLabState, name: LabHostName): ConnectTarget {
  return labSupport.socketTarget(labHost(state, name), state.passfile);
}

// ---------------------------------------------------------------- small utilities

async function waitFor(
  what: string,
  timeoutMs: number,
  ready: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await ready()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    await sleep(50);
  }
  const why = lastError === undefined ? '' : ` (${messageOf(lastError)})`;
  throw new SkypgError('LAB_FAILED', `timed out after ${timeoutMs}ms waiting for ${what}${why}`);
}

function lastLine(text: string): string | undefined {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .at(-1);
}
