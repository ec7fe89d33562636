// PostgreSQL in the multi-host lab: host1's primary and host2's standby cloned from it over
// the LAN, starting a server inside its host's namespace, and the boot hook that starts it
// again at power-on.
import { access, appendFile, chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SkypgError } from '../common/errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import type { ConnectTarget } from '../pg/connect.js';
import { readPostmasterPid, type PgProgramContext } from '../pg/programs.js';
import * as labSupport from './lab-support.js';
import { labScriptLauncher } from './lab-scripts.js';
import {
  byHandArchiveSettings,
  byHandServerSettings,
  copyDebianConfig,
  moveToDebianLayout,
} from './lab-shapes.js';
import { labConfig } from './netns-config.js';
import {
  labHost,
  labSubnet,
  peerOf,
  pgPort,
  serverDir,
  wording,
  type LabHostName,
  type NetnsLabHost,
  type NetnsLabState,
} from './netns-plan.js';
import { procStat, waitFor } from './netns-process.js';

/** Both servers: settings, initdb and start of host1, then host2 cloned from it, streaming. */
export async function buildPostgres(
  state: NetnsLabState,
  owner: labSupport.OwnerIds,
  step: (s: string) => void,
): Promise<void> {
  await writeHostSettings(state, owner);
  const passwords = await labSupport.writePassfile(state.passfile, `*:${pgPort}`, owner);
  await startPrimary(state, owner, passwords, step);
  await startStandby(state, owner, step);
}

/** Each host's settings (and, built by hand, its WAL archive); refuses a ~/.pgpass in the way. */
async function writeHostSettings(state: NetnsLabState, owner: labSupport.OwnerIds): Promise<void> {
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
}

async function startPrimary(
  state: NetnsLabState,
  owner: labSupport.OwnerIds,
  passwords: labSupport.LabPasswords,
  step: (s: string) => void,
): Promise<void> {
  const [primary] = state.hosts;
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
  if (state.shape === 'by-hand') {
    await appendFile(join(primary.dataDir, 'postgresql.conf'), byHandServerSettings);
  }
  if (primary.configDir !== undefined) {
    step(`move host1's configuration to ${primary.configDir} (Debian's layout)`);
    await moveToDebianLayout({ ...primary, configDir: primary.configDir }, owner);
  }
  step(`start host1 as primary on ${primary.address}:${pgPort}`);
  await startPostgresServer(state, primary);
  await labSupport.setUpPrimaryRoles(
    labSocketTarget(state, 'host1'),
    passwords,
    { path: state.configPath, text: labConfig(state) },
    step,
  );
}

async function startStandby(
  state: NetnsLabState,
  owner: labSupport.OwnerIds,
  step: (s: string) => void,
): Promise<void> {
  const [primary, standby] = state.hosts;
  step('pg_basebackup host2 from host1 over the LAN');
  // Run from host2's namespace; -R writes primary_conninfo with passfile=, never a password.
  // connect_timeout lands in primary_conninfo too: without it, a reconnect to a powered-off
  // primary hangs in TCP SYN retries for minutes instead of retrying every second.
  const conninfo = `host=${primary.address} port=${pgPort} user=${labSupport.replicationUser} application_name=${standby.name} connect_timeout=2`;
  await labSupport.cloneStandby(
    pgContext(state, standby),
    conninfo,
    standby,
    state.shape === 'by-hand' ? standby.name : undefined,
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
  const primaryTarget = labSocketTarget(state, 'host1');
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

export async function startPostgresServer(state: NetnsLabState, host: NetnsLabHost): Promise<void> {
  await labSupport.startServer(pgContext(state, host), host);
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

/** A boot hook that starts the host's PostgreSQL as it was (sh/postgres-boot.sh). */
export function postgresBootScript(state: NetnsLabState, name: LabHostName): string {
  const host = labHost(state, name);
  return labScriptLauncher(
    `Boot hook of ${name}: start its PostgreSQL as it was.`,
    'postgres-boot.sh',
    {
      args: [
        host.dataDir,
        state.osUser,
        join(state.binDir, 'pg_ctl'),
        serverDir(host),
        host.logFile,
      ],
    },
  );
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
