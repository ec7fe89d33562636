// A real primary and streaming hot standby on loopback ports, in one directory: what
// `skypg lab up` builds and what the integration tests run against.
import { chown, readdir, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { nonEmpty } from '../common/env.js';
import { SkypgError, messageOf } from '../common/errors.js';
import type { ConnectTarget } from '../pg/connect.js';
import { findPgBinDir, type PgProgramContext } from '../pg/programs.js';
import { effectiveOsUser } from '../process/run-program.js';
import * as labSupport from './lab-support.js';

export const labStateFile = 'lab.json';
export const labConfigFile = 'skypg.yaml';

export function defaultLabDir(): string {
  return nonEmpty(process.env['SKYPG_LAB_DIR']) ?? join(tmpdir(), 'skypg-lab');
}

/** A server of the pair, and the port its supervisor's health API listens on (both nodes share
 * 127.0.0.1, so each needs its own; absent in a lab made before skypg had the API). */
export type LabNode = labSupport.LabServer & { apiPort?: number; beaconPort?: number };

export interface LabState extends labSupport.LabStateBase {
  kind: 'loopback';
  nodes: [LabNode, LabNode];
}

export type LabUpOptions = labSupport.LabBuildOptions;

const wording: labSupport.LabWording = { title: 'skypg lab', member: 'node' };

/** Builds the pair; on any failure removes whatever it made and throws LAB_FAILED. */
export async function labUp(options: LabUpOptions): Promise<LabState> {
  const dir = resolve(options.dir);
  const step = options.onStep ?? (() => undefined);
  await labSupport.claimDirectory(dir, {
    stateFile: labStateFile,
    mode: 0o700,
    labExistsHint: `run 'skypg lab down --dir ${dir}' first, or pick another --dir`,
    notEmptyHint: 'choose a new or empty directory with --dir',
  });
  try {
    return await buildPair(dir, options.binDir, step);
  } catch (error) {
    await labDown(dir).catch(() => undefined);
    const reason = messageOf(error);
    throw new SkypgError('LAB_FAILED', `building the lab in ${dir} failed: ${reason}`, {
      hint: 'the partial lab was removed; fix the cause and run lab up again',
      details: error instanceof SkypgError ? error.details : [],
      cause: error,
    });
  }
}

async function buildPair(
  dir: string,
  configuredBinDir: string | undefined,
  step: (s: string) => void,
): Promise<LabState> {
  const binDir = await findPgBinDir(configuredBinDir);
  const osUser = effectiveOsUser('postgres');
  const owner = labSupport.ownerIds(osUser);
  await labSupport.assertReachable(dir, osUser, owner.uid, 'a --dir');
  await chown(dir, owner.uid, owner.gid);
  // The beacon is UDP: a port free for TCP is all but always free for UDP as well.
  const [port1 = 0, port2 = 0, apiPort1 = 0, apiPort2 = 0, beaconPort1 = 0, beaconPort2 = 0] =
    await freePorts(6);
  const nodes: [LabNode, LabNode] = [
    labNode(dir, 'host1', port1, apiPort1, beaconPort1),
    labNode(dir, 'host2', port2, apiPort2, beaconPort2),
  ];
  for (const node of nodes) await labSupport.makeSocketDir(node, owner);
  const passfile = join(dir, 'pgpass');
  const passwords = await labSupport.writePassfile(passfile, '127.0.0.1:*', owner);
  const context: PgProgramContext = { binDir, osUser, cwd: dir, env: { PGPASSFILE: passfile } };
  const state: LabState = {
    kind: 'loopback',
    dir,
    configPath: join(dir, labConfigFile),
    passfile,
    binDir,
    osUser,
    createdAt: new Date().toISOString(),
    nodes,
  };
  // Written first so that `lab down` finds everything even if a later step fails.
  await writeLabState(state);

  const [primary, standby] = nodes;
  step(`initdb host1 (${binDir})`);
  await labSupport.initPrimary(context, primary, wording, { addresses: '127.0.0.1' });
  for (const node of nodes) await labSupport.writeNodeSettings(wording, node, owner);
  step(`start host1 as primary on 127.0.0.1:${primary.port}`);
  await labSupport.startServer(context, primary);
  await labSupport.setUpPrimaryRoles(
    labSupport.socketTarget(primary, passfile),
    passwords,
    { path: state.configPath, text: labConfig(state) },
    step,
  );

  step(`pg_basebackup host2 from host1`);
  const conninfo = `host=127.0.0.1 port=${primary.port} user=${labSupport.replicationUser} application_name=${standby.name}`;
  await labSupport.cloneStandby(context, conninfo, standby);
  step(`start host2 as standby on 127.0.0.1:${standby.port}`);
  await labSupport.startServer(context, standby);
  step('wait until host2 streams from host1');
  await waitForStreaming(labSupport.socketTarget(primary, passfile), standby.name, 30_000);
  return state;
}

function labNode(
  dir: string,
  name: string,
  port: number,
  apiPort: number,
  beaconPort: number,
): LabNode {
  return { name, port, apiPort, beaconPort, ...labSupport.serverPaths(dir, name) };
}

async function waitForStreaming(
  primary: ConnectTarget,
  standbyName: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no WAL sender for it yet';
  while (Date.now() < deadline) {
    const state = await labSupport.replicationState(primary, standbyName);
    if (state === 'streaming') return;
    if (state !== undefined) last = `replication state is ${state}`;
    await sleep(100);
  }
  throw new Error(`${standbyName} did not start streaming within ${timeoutMs}ms (${last})`);
}

function labConfig(state: LabState): string {
  const [host1, host2] = state.nodes;
  const node = (n: LabNode): string => `  - name: ${n.name}
    address: 127.0.0.1
    data_dir: ${n.dataDir}
    postgres: { port: ${n.port}, socket_dir: ${n.socketDir}, log_file: ${n.logFile} }
    api: ${n.apiPort === undefined ? 'false' : `{ listen: "127.0.0.1:${n.apiPort}" }`}
    beacon: ${n.beaconPort === undefined ? 'false' : `{ listen: "127.0.0.1:${n.beaconPort}" }`}
`;
  return `# skypg lab on loopback, made by 'skypg lab up' at ${state.createdAt}.
# No VIPs, gateway or fencing here: those need network namespaces (root).
cluster: lab
postgres:
  bin_dir: ${state.binDir}
  os_user: ${state.osUser}
  superuser: postgres
  passfile: ${state.passfile}
nodes:
${node(host1)}${node(host2)}${labSupport.clusterSettingsYaml(state.dir, 'none')}`;
}

export async function writeLabState(state: LabState): Promise<void> {
  await labSupport.writeStateFile(state, labStateFile);
}

export async function readLabState(dir: string): Promise<LabState> {
  return (await labSupport.readStateFile(dir, labStateFile, {
    lab: 'lab',
    missingHint: "start one with 'skypg lab up' (or pass the --dir it was built in)",
    unreadableHint: 'remove the directory by hand after stopping its postgres processes',
  })) as LabState;
}

export interface LabDownResult {
  dir: string;
  stoppedPids: number[];
  removed: boolean;
}

/**
 * Stops the lab's postmasters (by the PIDs in their own postmaster.pid, checked to still be
 * that server) and removes the directory. Safe to run twice or after a crashed `lab up`.
 */
export async function labDown(dirInput: string): Promise<LabDownResult> {
  const dir = resolve(dirInput);
  const exists = await stat(dir).then(
    () => true,
    () => false,
  );
  if (!exists) return { dir, stoppedPids: [], removed: false };
  const state = await readLabState(dir).catch(() => undefined);
  const dataDirs = state?.nodes.map((node) => node.dataDir) ?? (await findDataDirs(dir));
  const stoppedPids: number[] = [];
  for (const dataDir of dataDirs) {
    const pid = await labSupport.stopPostmaster(dataDir);
    if (pid !== undefined) stoppedPids.push(pid);
  }
  await rm(dir, { recursive: true, force: true });
  return { dir, stoppedPids, removed: true };
}

async function findDataDirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  return entries.map((entry) => join(dir, entry, 'data'));
}

/** Ports the kernel hands out as free right now (distinct per call, so parallel labs differ). */
async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  const servers = [];
  for (let index = 0; index < count; index += 1) {
    const server = createServer();
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const address = server.address();
    if (address !== null && typeof address === 'object') ports.push(address.port);
    servers.push(server);
  }
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  if (ports.length < count) throw new Error('could not find free ports');
  return ports;
}
