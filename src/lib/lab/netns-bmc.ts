// The multi-host lab's BMCs: an ipmi_sim per host in its own namespace, whose chassis hook
// (sh/chassis-control.sh) is the host's power switch, the PDU that feeds the hosts too, and
// switching the power the way a surviving node would (the real ipmitool) or a blackout.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { runProgram } from '../process/run-program.js';
import * as labSupport from './lab-support.js';
import { installPduScript } from './lab-pdu.js';
import { labScriptLauncher } from './lab-scripts.js';
import { execIn, linkDown, linkUp } from './netns-network.js';
import {
  fenceUser,
  ipmiPort,
  labHost,
  peerOf,
  prefixLength,
  writeNetnsLabState,
  type LabHostName,
  type LabMember,
  type NetnsLabBmc,
  type NetnsLabHost,
  type NetnsLabState,
} from './netns-plan.js';
import { isRunning, lastLine, namespacePids, waitFor } from './netns-process.js';
import { readCmdline } from '../process/proc.js';

/** Starts the host's BMC: its files, then ipmi_sim in the BMC's namespace, until it listens. */
export async function startBmc(state: NetnsLabState, host: NetnsLabHost): Promise<void> {
  const bmc = host.bmc;
  const emuFile = await writeBmcFiles(state, host);
  const pid = spawnIpmiSim(bmc, emuFile);
  if (pid === undefined) throw new Error(`ipmi_sim for ${host.name} did not start`);
  bmc.pid = pid;
  await writeNetnsLabState(state);
  await waitForIpmiSim(state, host, pid);
}

/** Until ipmi_sim listens (or has exited: its last log line says why); records its real PID. */
async function waitForIpmiSim(
  state: NetnsLabState,
  host: NetnsLabHost,
  pid: number,
): Promise<void> {
  const bmc = host.bmc;
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

/** lan.conf (with the fence password), the emu file, the power state and the chassis hook. */
async function writeBmcFiles(state: NetnsLabState, host: NetnsLabHost): Promise<string> {
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
  return emuFile;
}

/** ipmi_sim in the BMC's namespace, detached, logging to ipmi_sim.log; returns its PID. */
function spawnIpmiSim(bmc: NetnsLabBmc, emuFile: string): number | undefined {
  const log = openSync(join(bmc.dir, 'ipmi_sim.log'), 'a', 0o600);
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
    return child.pid;
  } finally {
    closeSync(log);
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
 * The BMC's power switch (sh/chassis-control.sh, which says what power off and on do): a
 * launcher with this host's values, since ipmi_sim runs `chassis_control` without arguments of
 * ours; the PDU and blackout() run the same file.
 */
function chassisHook(state: NetnsLabState, host: NetnsLabHost): string {
  return labScriptLauncher(
    `skypg netns lab: chassis_control hook of ${host.name}'s BMC (ipmi_sim, the PDU and a blackout run it).`,
    'chassis-control.sh',
    {
      env: {
        CHASSIS_NETNS: host.netns,
        CHASSIS_LAN_NETNS: state.netns.lan,
        CHASSIS_PORT: `v-${host.name}`,
        CHASSIS_ADDRESS: `${host.address}/${prefixLength}`,
        CHASSIS_DIR: host.bmc.dir,
        CHASSIS_BOOT_HOOK: host.bootHook,
      },
      passArguments: true,
    },
  );
}

/** The PDU's outlets feed the hosts: cutting one runs the host's chassis power-off. */
export async function installPdu(state: NetnsLabState): Promise<void> {
  if (state.pduDir === undefined) return;
  await installPduScript(
    state.pduDir,
    state.hosts.map((host) => ({ outlet: host.name, chassisHook: host.bmc.hookFile })),
  );
}

async function isIpmiSimOf(pid: number, configFile: string): Promise<boolean> {
  const cmdline = await readCmdline(pid);
  return (
    (await isRunning(pid)) &&
    /(^|\/)ipmi_sim$/.test(cmdline[0] ?? '') &&
    cmdline.includes(configFile)
  );
}

/** SIGTERM, then SIGKILL; true when it was this BMC's simulator (now stopped). */
export async function stopIpmiSim(pid: number, configFile: string): Promise<boolean> {
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
