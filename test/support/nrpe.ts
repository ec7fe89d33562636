// The real NRPE daemon (Debian nagios-nrpe-server) and its client check_nrpe
// (nagios-nrpe-plugin), run by the tests on a configuration they write: the daemon as the
// postgres OS user, detached (-d: it forks and writes its pid file), on one address and port,
// answering one client address; stopped by the PID in its pid file.
import assert from 'node:assert/strict';
import { chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { runProgram, type ProgramResult } from '../../src/lib/process/run-program.js';
import { waitUntil } from './wait.js';

export const nrpeDaemon = '/usr/sbin/nrpe';
export const checkNrpe = '/usr/lib/nagios/plugins/check_nrpe';
export const shippedNrpeFile = 'packaging/nrpe/skypg.cfg';

/** Why NRPE cannot be tested here, or undefined when both programs are installed. */
export async function nrpeSkipReason(): Promise<string | undefined> {
  for (const [program, debianPackage] of [
    [nrpeDaemon, 'nagios-nrpe-server'],
    [checkNrpe, 'nagios-nrpe-plugin'],
  ] as const) {
    const found = await runProgram('test', ['-x', program], { allowFailure: true });
    if (found.exitCode !== 0) {
      return `${program} is missing: run scripts/install-prerequisites.sh (${debianPackage})`;
    }
  }
  return undefined;
}

export interface NrpeOptions {
  /** A directory of its own: the configuration, the command file, pid file and log go here. */
  dir: string;
  /** The one address the daemon listens on. */
  address: string;
  port: number;
  /** The one client address it answers (allowed_hosts). */
  client: string;
  /** The text of the command definitions, included as the shipped file is in nrpe.d. */
  commands: string;
  /** Run the daemon inside this network namespace. */
  netns?: string;
}

export interface RunningNrpe {
  pid: number;
  logFile: string;
}

/**
 * Writes nrpe.cfg (the settings Debian's own file sets, with the addresses, pid file and log
 * made the test's) and the included command file, both readable by postgres.
 */
async function writeNrpeConfig(options: NrpeOptions): Promise<string> {
  await mkdir(options.dir, { recursive: true, mode: 0o755 });
  const { uid, gid } = await postgresIds();
  // nrpe runs as postgres and writes its pid file and log here.
  await chown(options.dir, uid, gid);
  // A daemon started again in the same directory (its host powered off and on) must not be
  // taken for running by an old pid file, nor its start read from an old log.
  await rm(join(options.dir, 'nrpe.pid'), { force: true });
  await rm(join(options.dir, 'nrpe.log'), { force: true });
  const commandFile = join(options.dir, 'skypg.cfg');
  await writeFile(commandFile, options.commands, { mode: 0o644 });
  const configFile = join(options.dir, 'nrpe.cfg');
  const settings = [
    `pid_file=${join(options.dir, 'nrpe.pid')}`,
    `server_address=${options.address}`,
    `server_port=${options.port}`,
    `allowed_hosts=${options.client}`,
    'dont_blame_nrpe=0',
    'allow_bash_command_substitution=0',
    'command_timeout=60',
    'connection_timeout=60',
    'disable_syslog=1',
    `log_file=${join(options.dir, 'nrpe.log')}`,
    // debug=1 logs each command as it is loaded and run: the tests read that log.
    'debug=1',
    `include=${commandFile}`,
    '',
  ];
  await writeFile(configFile, settings.join('\n'), { mode: 0o644 });
  return configFile;
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all(
    ['-u', '-g'].map(async (flag) => Number((await runProgram('id', [flag, 'postgres'])).stdout)),
  );
  assert.ok(uid !== undefined && gid !== undefined && uid > 0, 'the OS user postgres exists');
  return { uid, gid };
}

/** A loopback port nobody listens on right now. */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  await new Promise<void>((done) =>
    server.close(() => {
      done();
    }),
  );
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

/** Starts nrpe as postgres; resolves once it has written its pid file and listens. */
export async function startNrpe(options: NrpeOptions): Promise<RunningNrpe> {
  const configFile = await writeNrpeConfig(options);
  const command = ['runuser', '-u', 'postgres', '--', nrpeDaemon, '-c', configFile, '-d'];
  const [file, ...args] =
    options.netns === undefined ? command : ['ip', 'netns', 'exec', options.netns, ...command];
  await runProgram(file ?? 'runuser', args, { timeoutMs: 15_000 });
  const pidFile = join(options.dir, 'nrpe.pid');
  const logFile = join(options.dir, 'nrpe.log');
  const pid = await waitUntil(
    `nrpe wrote ${pidFile} and listens on ${options.address}:${options.port}`,
    async () => {
      const pidText = await readFile(pidFile, 'utf8').catch(() => '');
      const log = await readFile(logFile, 'utf8').catch(() => '');
      const found = Number(pidText.trim());
      return Number.isInteger(found) && found > 0 && log.includes('Listening for connections')
        ? found
        : undefined;
    },
    10_000,
    100,
  );
  return { pid, logFile };
}

/** Stops a daemon by its PID (gone already, e.g. its host was powered off: nothing to do). */
export function stopNrpe(running: RunningNrpe | undefined): void {
  if (running === undefined) return;
  try {
    process.kill(running.pid, 'SIGTERM');
  } catch {
    // gone already
  }
}

/** check_nrpe against one daemon; `args` after -H and -p, e.g. ['-c', 'check_skypg_lag']. */
export function askNrpe(
  host: string,
  port: number,
  args: string[],
  netns?: string,
): Promise<ProgramResult> {
  // -t 5: a powered-off host times out in 5 s, CRITICAL as check_nrpe reports it by default.
  const command = [checkNrpe, '-H', host, '-p', String(port), '-t', '5', ...args];
  const [file, ...rest] =
    netns === undefined ? command : ['ip', 'netns', 'exec', netns, ...command];
  return runProgram(file ?? checkNrpe, rest, { allowFailure: true, timeoutMs: 30_000 });
}

/**
 * The shipped command definitions as they run where NRPE itself is postgres (the file's own
 * comment): the sudo prefix dropped, and skypg and its configuration at the given paths. Each
 * replaced text must be there, so a change to the shipped file cannot slip past the tests.
 */
export function adaptCommands(shipped: string, skypg: string, configPath: string): string {
  const replacements: [string, string][] = [
    ['/usr/bin/sudo -n -u postgres ', ''],
    ['/usr/bin/skypg ', `${skypg} `],
    ['/etc/skypg/skypg.yaml', configPath],
  ];
  let adapted = shipped;
  for (const [from, to] of replacements) {
    assert.equal(adapted.split(from).length, 3, `${shippedNrpeFile} names ${from} twice`);
    adapted = adapted.replaceAll(from, to);
  }
  return adapted;
}

/** Runs `use` against a daemon started on `options`, stopping it by PID however `use` ends. */
export async function withNrpe<T>(
  options: NrpeOptions,
  use: (running: RunningNrpe) => Promise<T>,
): Promise<T> {
  let running: RunningNrpe | undefined;
  try {
    running = await startNrpe(options);
    return await use(running);
  } finally {
    stopNrpe(running);
  }
}
