// What the loopback pair and the multi-host lab build the same way: the directory they claim,
// the OS user PostgreSQL runs as, the primary's settings, roles and heartbeat, the standby's
// base backup, and stopping their processes by verified PID. Addresses, ports, namespaces and
// the configuration each lab writes stay with the lab.
import { randomBytes } from 'node:crypto';
import { appendFile, chmod, chown, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfigFile } from '../config/load.js';
import { SkypgError, messageOf } from '../common/errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { initHeartbeat } from '../heartbeat/init.js';
import { withConnection, type ConnectTarget } from '../pg/connect.js';
import {
  isPostmasterOf,
  readPostmasterPid,
  runPgProgram,
  type PgProgramContext,
} from '../pg/programs.js';
import { osAccount } from '../process/os-user.js';
import { isRoot } from '../process/run-program.js';

export const replicationUser = 'replica';
const heartbeatUser = 'sky_pg_cluster';

/** What every lab's state file records, whatever kind of lab it is. */
export interface LabStateBase {
  dir: string;
  configPath: string;
  passfile: string;
  binDir: string;
  osUser: string;
  createdAt: string;
}

/** One PostgreSQL server of a lab: all its files live in the lab directory. */
export interface LabServer {
  name: string;
  port: number;
  dataDir: string;
  socketDir: string;
  logFile: string;
  /** Where postgresql.conf lives when not in the data directory (Debian's /etc/postgresql). */
  configDir?: string;
}

export interface LabBuildOptions {
  dir: string;
  binDir?: string;
  /** Progress, one short sentence per step. The library never prints. */
  onStep?: (step: string) => void;
}

/** How a lab names itself in the files it writes, e.g. 'skypg lab' and its 'node's. */
export interface LabWording {
  title: string;
  member: 'node' | 'host';
}

export interface OwnerIds {
  uid: number;
  gid: number;
}

export interface LabPasswords {
  superuser: string;
  replication: string;
  heartbeat: string;
}

/** The server's directories under the lab directory, in a home named after it. */
export function serverPaths(dir: string, name: string): Omit<LabServer, 'name' | 'port'> {
  const home = join(dir, name);
  return {
    dataDir: join(home, 'data'),
    socketDir: join(home, 'socket'),
    logFile: join(home, 'postgres.log'),
  };
}

/**
 * Creates the lab directory, refusing one that holds a lab (its state file) or anything else:
 * teardown removes the whole directory, so it must not hold anybody else's files.
 */
export async function claimDirectory(
  dir: string,
  options: { stateFile: string; mode: number; labExistsHint: string; notEmptyHint: string },
): Promise<void> {
  const cannot = (error: unknown): SkypgError =>
    new SkypgError('LAB_FAILED', `cannot use ${dir} for the lab: ${messageOf(error)}`, {
      hint: 'pick a --dir that you may create and write, e.g. under /tmp',
    });
  const entries = await readdir(dir).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw cannot(error);
  });
  if (entries?.includes(options.stateFile)) {
    throw new SkypgError('LAB_EXISTS', `a lab already exists in ${dir}`, {
      hint: options.labExistsHint,
    });
  }
  if (entries !== undefined && entries.length > 0) {
    throw new SkypgError('LAB_EXISTS', `${dir} is not empty`, { hint: options.notEmptyHint });
  }
  await mkdir(dir, { recursive: true, mode: options.mode }).catch((error: unknown) => {
    throw cannot(error);
  });
}

/**
 * PostgreSQL runs as osUser, which must be able to enter every directory above the lab.
 * `anotherDir` names how to pick another one, e.g. 'a --dir'.
 */
export async function assertReachable(
  dir: string,
  osUser: string,
  uid: number,
  anotherDir: string,
): Promise<void> {
  for (let parent = dirname(dir); ; parent = dirname(parent)) {
    const info = await stat(parent).catch(() => undefined);
    if (info !== undefined && info.uid !== uid && (info.mode & 0o001) === 0) {
      throw new SkypgError(
        'LAB_FAILED',
        `OS user ${osUser} cannot enter ${parent}, above the lab directory`,
        {
          hint: `pick ${anotherDir} under /tmp or /var/tmp, or run 'chmod o+x ${parent}'`,
        },
      );
    }
    if (parent === dirname(parent)) return;
  }
}

/** Who owns the servers' files: osUser as root (PostgreSQL refuses root), else ourselves. */
export function ownerIds(osUser: string): OwnerIds {
  if (!isRoot()) {
    const me = userInfo();
    return { uid: me.uid, gid: me.gid };
  }
  const account = osAccount(osUser);
  if (account === undefined) {
    throw new SkypgError('LAB_FAILED', `OS user ${osUser} does not exist`, {
      hint: 'PostgreSQL refuses to run as root; install postgresql (it creates the postgres user)',
    });
  }
  return { uid: account.uid, gid: account.gid };
}

/** The server's socket directory and its home, made and owned by the server's OS user. */
export async function makeSocketDir(server: LabServer, owner: OwnerIds): Promise<void> {
  const home = dirname(server.socketDir);
  await mkdir(server.socketDir, { recursive: true, mode: 0o700 });
  await chown(server.socketDir, owner.uid, owner.gid);
  await chmod(home, 0o700);
  await chown(home, owner.uid, owner.gid);
}

/**
 * Fresh passwords for the lab's roles, written to a passfile the servers' OS user owns.
 * `hostAndPort` is the passfile's first two fields (any database matches), e.g. '127.0.0.1:*'.
 */
export async function writePassfile(
  path: string,
  hostAndPort: string,
  owner: OwnerIds,
): Promise<LabPasswords> {
  const passwords: LabPasswords = {
    superuser: secret(),
    replication: secret(),
    heartbeat: secret(),
  };
  const roles: [string, string][] = [
    ['postgres', passwords.superuser],
    [replicationUser, passwords.replication],
    [heartbeatUser, passwords.heartbeat],
  ];
  await writeFileAtomic(
    path,
    roles.map(([user, password]) => `${hostAndPort}:*:${user}:${password}\n`).join(''),
    0o600,
  );
  await chown(path, owner.uid, owner.gid);
  return passwords;
}

function secret(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * Per-server settings live next to the data directory, not in it: pg_basebackup and pg_rewind
 * copy the configuration from the other server, and a lab's servers share this machine's
 * filesystem, so the port and socket directory must not travel with it.
 */
export function nodeSettingsFile(server: Pick<LabServer, 'dataDir'>): string {
  return join(dirname(server.dataDir), 'node.conf');
}

export async function writeNodeSettings(
  wording: LabWording,
  server: LabServer,
  owner: OwnerIds,
  extra = '',
): Promise<void> {
  const file = nodeSettingsFile(server);
  await writeFileAtomic(
    file,
    `# ${wording.title}: settings of ${server.name} only
port = ${server.port}
unix_socket_directories = '${server.socketDir}'
${extra}`,
  );
  await chown(file, owner.uid, owner.gid);
}

/**
 * initdb of the primary, with the lab's replication settings appended to its postgresql.conf
 * (the standby's base backup copies them). `listen` is the listen_addresses value and why.
 */
export async function initPrimary(
  context: PgProgramContext,
  primary: LabServer,
  wording: LabWording,
  listen: { addresses: string; why?: string },
): Promise<void> {
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
  const listenLine = `listen_addresses = '${listen.addresses}'`;
  await appendFile(
    join(primary.dataDir, 'postgresql.conf'),
    `
# ${wording.title}: replication settings
${listen.why === undefined ? listenLine : `${listenLine.padEnd(35)}# ${listen.why}`}
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
include_if_exists = '../node.conf'  # relative to the data directory: each ${wording.member}'s own file
`,
  );
}

export async function startServer(context: PgProgramContext, server: LabServer): Promise<void> {
  await runPgProgram(context, 'pg_ctl', [
    '-D',
    server.configDir ?? server.dataDir,
    '-l',
    server.logFile,
    '-w',
    '-t',
    '60',
    'start',
  ]);
}

/** The server through its Unix socket, as the superuser. */
export function socketTarget(server: LabServer, passfile: string): ConnectTarget {
  return {
    host: server.socketDir,
    port: server.port,
    user: 'postgres',
    database: 'postgres',
    passfile,
    connectTimeoutMs: 3000,
    statementTimeoutMs: 5000,
  };
}

/**
 * Gives the new primary its passwords and roles, the heartbeat included. The heartbeat is set
 * up through the same code operators use, so the lab's configuration is written first.
 */
export async function setUpPrimaryRoles(
  primary: ConnectTarget,
  passwords: LabPasswords,
  config: { path: string; text: string },
  step: (step: string) => void,
): Promise<void> {
  // The secrets are base64url, so quoting them into SQL is safe (ALTER ROLE takes no parameters).
  await withConnection(primary, async (session) => {
    await session.query(`alter role postgres password '${passwords.superuser}'`);
    await session.query(
      `create role ${replicationUser} replication login password '${passwords.replication}'`,
    );
  });
  await writeFileAtomic(config.path, config.text);
  const { config: cluster } = await loadConfigFile(config.path);
  const [first] = cluster.nodes;
  step(`heartbeat init on ${first.name}`);
  await initHeartbeat(cluster, first);
  await withConnection(primary, (session) =>
    session.query(`alter role ${heartbeatUser} password '${passwords.heartbeat}'`),
  );
}

/** The end of a lab's configuration file: its roles, fencing, and where supervisors write. */
export function clusterSettingsYaml(
  dir: string,
  fencing: 'none' | 'required',
  slot?: string,
): string {
  const slotKey = slot === undefined ? '' : `, slot: "${slot}"`;
  return `heartbeat: { user: ${heartbeatUser} }
replication: { user: ${replicationUser}, mode: async${slotKey} }
failover: { fencing: ${fencing} }
supervisor:
  state_file: ${dir}/{node}/supervisor-state.json
`;
}

/** pg_basebackup of the standby; -R writes its standby.signal and primary_conninfo. */
export async function cloneStandby(
  context: PgProgramContext,
  conninfo: string,
  standby: LabServer,
  slot?: string,
): Promise<void> {
  await runPgProgram(context, 'pg_basebackup', [
    '-d',
    conninfo,
    '-D',
    standby.dataDir,
    // -C -S: the primary makes the slot, and -R names it in primary_slot_name.
    ...(slot === undefined ? [] : ['-C', '-S', slot]),
    '-R',
    '-X',
    'stream',
    '-c',
    'fast',
    '--no-sync',
  ]);
}

/** The standby's replication state as the primary sees it; undefined without a WAL sender. */
export async function replicationState(
  primary: ConnectTarget,
  standbyName: string,
): Promise<string | undefined> {
  const rows = await withConnection(primary, (session) =>
    session.query<{ state: string }>(
      'select state from pg_stat_replication where application_name = $1',
      [standbyName],
    ),
  );
  return rows[0]?.state;
}

export async function writeStateFile(state: LabStateBase, fileName: string): Promise<void> {
  await writeFileAtomic(join(state.dir, fileName), `${JSON.stringify(state, null, 2)}\n`);
}

/** The parsed state file; LAB_NOT_FOUND (with the lab's own hints) when missing or unreadable. */
export async function readStateFile(
  dirInput: string,
  fileName: string,
  options: { lab: string; missingHint: string; unreadableHint: string },
): Promise<unknown> {
  const file = join(resolve(dirInput), fileName);
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SkypgError('LAB_NOT_FOUND', `no ${options.lab} in ${resolve(dirInput)}`, {
        hint: options.missingHint,
      });
    }
    throw new SkypgError('LAB_NOT_FOUND', `${file} is unreadable: ${messageOf(error)}`, {
      hint: options.unreadableHint,
    });
  }
}

/** Fast shutdown, then immediate, then kill: only the postmaster serving this data dir. */
export async function stopPostmaster(
  dataDir: string,
  graceMs = 10_000,
  startedWith = dataDir,
): Promise<number | undefined> {
  const pid = await readPostmasterPid(dataDir);
  if (pid === undefined || !(await isPostmasterOf(pid, startedWith))) return undefined;
  await signalUntilGone(
    pid,
    () => isPostmasterOf(pid, startedWith),
    [
      ['SIGINT', graceMs],
      ['SIGQUIT', 5000],
      ['SIGKILL', 5000],
    ],
    50,
  );
  return pid;
}

/**
 * Sends each signal in turn and waits up to its time for the process to be gone. `isStillIt`
 * re-checks the PID's identity, so a PID reused by another process ends the escalation.
 */
export async function signalUntilGone(
  pid: number,
  isStillIt: () => Promise<boolean>,
  escalation: readonly (readonly [NodeJS.Signals, number])[],
  pollMs: number,
): Promise<void> {
  for (const [signal, waitMs] of escalation) {
    try {
      process.kill(pid, signal);
    } catch {
      return; // already gone
    }
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline) {
      if (!(await isStillIt())) return;
      await sleep(pollMs);
    }
  }
}
