// A real primary and streaming hot standby on loopback ports, in one directory: what
// `skypg lab up` builds and what the integration tests run against.
import { randomBytes } from 'node:crypto';
import { appendFile, chown, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfigFile } from '../config/load.js';
import { SkypgError, messageOf } from '../errors.js';
import { initHeartbeat } from '../heartbeat.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { effectiveOsUser, isRoot } from '../process/run-program.js';
import { withConnection, type ConnectTarget } from '../pg/connect.js';
import {
  findPgBinDir,
  isPostmasterOf,
  readPostmasterPid,
  runPgProgram,
  type PgProgramContext,
} from '../pg/programs.js';
import { nonEmpty } from '../env.js';

export const labStateFile = 'lab.json';
export const labConfigFile = 'skypg.yaml';

export function defaultLabDir(): string {
  return nonEmpty(process.env['SKYPG_LAB_DIR']) ?? join(tmpdir(), 'skypg-lab');
}

export interface LabNode {
  name: string;
  port: number;
  dataDir: string;
  socketDir: string;
  logFile: string;
}

export interface LabState {
  kind: 'loopback';
  dir: string;
  configPath: string;
  passfile: string;
  binDir: string;
  osUser: string;
  createdAt: string;
  nodes: [LabNode, LabNode];
}

export interface LabUpOptions {
  dir: string;
  binDir?: string;
  /** Progress, one short sentence per step. */
  onStep?: (step: string) => void;
}

const replicationUser = 'replica';
const heartbeatUser = 'sky_pg_cluster';

/** Builds the pair; on any failure removes whatever it made and throws LAB_FAILED. */
export async function labUp(options: LabUpOptions): Promise<LabState> {
  const dir = resolve(options.dir);
  const step = options.onStep ?? (() => undefined);
  await claimDirectory(dir);
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

async function claimDirectory(dir: string): Promise<void> {
  const entries = await readdir(dir).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  });
  if (entries?.includes(labStateFile)) {
    throw new SkypgError('LAB_EXISTS', `a lab already exists in ${dir}`, {
      hint: `run 'skypg lab down --dir ${dir}' first, or pick another --dir`,
    });
  }
  if (entries !== undefined && entries.length > 0) {
    throw new SkypgError('LAB_EXISTS', `${dir} is not empty`, {
      hint: 'choose a new or empty directory with --dir',
    });
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

async function buildPair(
  dir: string,
  configuredBinDir: string | undefined,
  step: (s: string) => void,
): Promise<LabState> {
  const binDir = await findPgBinDir(configuredBinDir);
  const osUser = effectiveOsUser('postgres');
  const owner = await ownerIds(osUser);
  await assertReachable(dir, osUser, owner.uid);
  await chown(dir, owner.uid, owner.gid);
  const [port1, port2] = await freePorts(2);
  const nodes: [LabNode, LabNode] = [labNode(dir, 'host1', port1), labNode(dir, 'host2', port2)];
  for (const node of nodes) await makeOwnedDir(node.socketDir, owner);
  const passfile = join(dir, 'pgpass');
  const passwords = { postgres: secret(), [replicationUser]: secret(), [heartbeatUser]: secret() };
  await writeFileAtomic(
    passfile,
    Object.entries(passwords)
      .map(([user, password]) => `127.0.0.1:*:*:${user}:${password}\n`)
      .join(''),
    0o600,
  );
  await chown(passfile, owner.uid, owner.gid);
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
  await runPgProgram(context, 'initdb', [
    '-D',
    primary.dataDir,
    '-U',
    'postgres',
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
    '--no-sync',
    '--no-instructions',
  ]);
  await appendFile(join(primary.dataDir, 'postgresql.conf'), serverSettings());
  for (const node of nodes) {
    const file = nodeSettingsFile(node);
    await writeFileAtomic(file, nodeSettings(node));
    await chown(file, owner.uid, owner.gid);
  }
  step(`start host1 as primary on 127.0.0.1:${primary.port}`);
  await startServer(context, primary);
  // The secrets are base64url, so quoting them into SQL is safe (ALTER ROLE takes no parameters).
  await withConnection(socketTarget(primary, passfile), async (session) => {
    await session.query(`alter role postgres password '${passwords.postgres}'`);
    await session.query(
      `create role ${replicationUser} replication login password '${passwords[replicationUser]}'`,
    );
  });

  // The configuration first: the heartbeat is set up through the same code operators use.
  await writeFileAtomic(state.configPath, labConfig(state));
  const { config } = await loadConfigFile(state.configPath);
  step('heartbeat init on host1');
  await initHeartbeat(config, config.nodes[0]);
  await withConnection(socketTarget(primary, passfile), (session) =>
    session.query(`alter role ${heartbeatUser} password '${passwords[heartbeatUser]}'`),
  );

  step(`pg_basebackup host2 from host1`);
  const conninfo = `host=127.0.0.1 port=${primary.port} user=${replicationUser} application_name=${standby.name}`;
  await runPgProgram(context, 'pg_basebackup', [
    '-d',
    conninfo,
    '-D',
    standby.dataDir,
    '-R',
    '-X',
    'stream',
    '-c',
    'fast',
    '--no-sync',
  ]);
  step(`start host2 as standby on 127.0.0.1:${standby.port}`);
  await startServer(context, standby);
  step('wait until host2 streams from host1');
  await waitForStreaming(socketTarget(primary, passfile), standby.name, 30_000);
  return state;
}

function labNode(dir: string, name: string, port: number): LabNode {
  const home = join(dir, name);
  return {
    name,
    port,
    dataDir: join(home, 'data'),
    socketDir: join(home, 'socket'),
    logFile: join(home, 'postgres.log'),
  };
}

/**
 * Per-node settings live next to the data directory, not in it: pg_basebackup and pg_rewind
 * copy the data directory's configuration from the other node, and the two servers share this
 * host's filesystem, so the port and socket directory must not travel with it.
 */
export function nodeSettingsFile(node: LabNode): string {
  return join(dirname(node.dataDir), 'node.conf');
}

function nodeSettings(node: LabNode): string {
  return `# skypg lab: settings of ${node.name} only
port = ${node.port}
unix_socket_directories = '${node.socketDir}'
`;
}

function serverSettings(): string {
  return `
# skypg lab: replication settings
listen_addresses = '127.0.0.1'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
hot_standby_feedback = on
wal_keep_size = '256MB'
wal_log_hints = on                 # pg_rewind needs it (or data checksums)
wal_sender_timeout = '5s'          # the defaults (60s) hide short outages
wal_receiver_timeout = '5s'
wal_retrieve_retry_interval = '1s'
wal_receiver_status_interval = '1s' # the primary learns the replay position within a second
shared_buffers = '32MB'
max_connections = 40
include_if_exists = '../node.conf'  # relative to the data directory: each node's own file
`;
}

async function startServer(context: PgProgramContext, node: LabNode): Promise<void> {
  await runPgProgram(context, 'pg_ctl', [
    '-D',
    node.dataDir,
    '-l',
    node.logFile,
    '-w',
    '-t',
    '60',
    'start',
  ]);
}

export function socketTarget(node: LabNode, passfile: string): ConnectTarget {
  return {
    host: node.socketDir,
    port: node.port,
    user: 'postgres',
    database: 'postgres',
    passfile,
    connectTimeoutMs: 3000,
    statementTimeoutMs: 5000,
  };
}

async function waitForStreaming(
  primary: ConnectTarget,
  standbyName: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no WAL sender for it yet';
  while (Date.now() < deadline) {
    const rows = await withConnection(primary, (session) =>
      session.query<{ state: string }>(
        'select state from pg_stat_replication where application_name = $1',
        [standbyName],
      ),
    );
    if (rows[0]?.state === 'streaming') return;
    if (rows[0]) last = `replication state is ${rows[0].state}`;
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
${node(host1)}${node(host2)}heartbeat: { user: ${heartbeatUser} }
replication: { user: ${replicationUser}, mode: async }
failover: { fencing: none }
supervisor:
  state_file: ${state.dir}/{node}/supervisor-state.json
`;
}

export async function writeLabState(state: LabState): Promise<void> {
  await writeFileAtomic(join(state.dir, labStateFile), `${JSON.stringify(state, null, 2)}\n`);
}

export async function readLabState(dir: string): Promise<LabState> {
  const file = join(resolve(dir), labStateFile);
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LabState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SkypgError('LAB_NOT_FOUND', `no lab in ${resolve(dir)}`, {
        hint: "start one with 'skypg lab up' (or pass the --dir it was built in)",
      });
    }
    throw new SkypgError('LAB_NOT_FOUND', `${file} is unreadable: ${messageOf(error)}`, {
      hint: 'remove the directory by hand after stopping its postgres processes',
    });
  }
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
    const pid = await stopPostmaster(dataDir);
    if (pid !== undefined) stoppedPids.push(pid);
  }
  await rm(dir, { recursive: true, force: true });
  return { dir, stoppedPids, removed: true };
}

async function findDataDirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  return entries.map((entry) => join(dir, entry, 'data'));
}

/** Fast shutdown, then immediate, then kill: only the postmaster serving this data dir. */
export async function stopPostmaster(
  dataDir: string,
  graceMs = 10_000,
): Promise<number | undefined> {
  const pid = await readPostmasterPid(dataDir);
  if (pid === undefined || !(await isPostmasterOf(pid, dataDir))) return undefined;
  for (const [signal, waitMs] of [
    ['SIGINT', graceMs],
    ['SIGQUIT', 5000],
    ['SIGKILL', 5000],
  ] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return pid; // already gone
    }
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      if (!(await isPostmasterOf(pid, dataDir))) return pid;
      await sleep(50);
    }
  }
  return pid;
}

/** PostgreSQL runs as osUser, which must be able to enter every directory above the lab. */
async function assertReachable(dir: string, osUser: string, uid: number): Promise<void> {
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    const info = await stat(parent);
    if (info.uid !== uid && (info.mode & 0o001) === 0) {
      throw new SkypgError(
        'LAB_FAILED',
        `OS user ${osUser} cannot enter ${parent}, above the lab directory`,
        {
          hint: `pick a --dir under /tmp or /var/tmp, or run 'chmod o+x ${parent}'`,
        },
      );
    }
    if (parent === dirname(parent)) return;
  }
}

function secret(): string {
  return randomBytes(18).toString('base64url');
}

async function ownerIds(osUser: string): Promise<{ uid: number; gid: number }> {
  if (!isRoot()) {
    const me = userInfo();
    return { uid: me.uid, gid: me.gid };
  }
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((entry) => entry.startsWith(`${osUser}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new SkypgError('LAB_FAILED', `OS user ${osUser} does not exist`, {
      hint: 'PostgreSQL refuses to run as root; install postgresql (it creates the postgres user)',
    });
  }
  return { uid: Number(uid), gid: Number(gid) };
}

async function makeOwnedDir(path: string, owner: { uid: number; gid: number }): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await chown(path, owner.uid, owner.gid);
  await chown(join(path, '..'), owner.uid, owner.gid);
}

/** Ports the kernel hands out as free right now (distinct per call, so parallel labs differ). */
async function freePorts(count: number): Promise<[number, number]> {
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
  const [first, second] = ports;
  if (first === undefined || second === undefined) throw new Error('could not find free ports');
  return [first, second];
}
