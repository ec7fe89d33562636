// Doctor checks of the machine doctor runs on (scope "local"): files, programs, processes,
// the init system and the disk. They can only be made on the node itself.
import { access, lstat, readdir, readFile, readlink, stat, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { messageOf } from '../common/errors.js';
import { effectivePassfile, passfileOf, withConnection } from '../pg/connect.js';
import { findPassword } from '../pg/passfile.js';
import {
  judgeSpace,
  readDataDirSpace,
  unwritableDataDirs,
  walSegmentBytes,
  writableFix,
} from '../pg/data-dir.js';
import { effectiveOsUser, isRoot, runProgram } from '../process/run-program.js';
import { stateDirProblem, stateFilePath } from '../supervisor/state-file.js';
import { worse, type CheckResult, type CheckStatus } from './checklist.js';
import { nodeWithRole, readTarget, type DoctorContext } from './context.js';
import { loginTests } from './pg-checks.js';

const local = (id: string, node: NodeConfig) => ({ id, node: node.name, scope: 'local' as const });

export async function checkPassfile(
  context: DoctorContext,
  node: NodeConfig,
): Promise<CheckResult> {
  const file = passfileOf(effectivePassfile(node));
  const base = local('passfile', node);
  const info = await stat(file).catch(() => undefined);
  if (info === undefined) {
    return {
      ...base,
      status: 'fail',
      found: `${file} does not exist`,
      fix: `create ${file} (mode 0600) with host:port:database:user:password lines for the roles skypg uses`,
    };
  }
  const problems: string[] = [];
  const fixes: string[] = [];
  if ((info.mode & 0o077) !== 0) {
    // libpq ignores such a file (the walreceiver, pg_basebackup and pg_rewind would get no password).
    problems.push(
      `${file} is mode 0${(info.mode & 0o777).toString(8)}: libpq ignores a password file readable by group or others`,
    );
    fixes.push(`chmod 600 ${file}`);
  }
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    problems.push(`cannot read ${file}: ${messageOf(error)}`);
    return '';
  });
  const missing = loginTests(context)
    .map((test) => test.target)
    .filter((target) => findPassword(text, target) === undefined)
    .map(
      (target) =>
        `${target.host.startsWith('/') ? 'localhost' : target.host}:${target.port}:${target.database}:${target.user}:PASSWORD`,
    );
  const unique = [...new Set(missing)];
  if (unique.length > 0) {
    problems.push(`no entry for ${unique.length} connection(s) skypg makes`);
    fixes.push(`add to ${file}:`, ...unique);
  }
  return problems.length === 0
    ? {
        ...base,
        status: 'ok',
        found: `${file}: mode 0${(info.mode & 0o777).toString(8)}, an entry for every connection skypg makes`,
      }
    : { ...base, status: 'fail', found: problems.join('; '), fix: fixes.join('\n') };
}

/** Fence password files this host reads (every node's: either may have to fence the other). */
export async function checkFencePasswordFiles(
  config: ClusterConfig,
  node: NodeConfig,
): Promise<CheckResult> {
  const base = local('fence-password-files', node);
  const files = config.nodes.flatMap((candidate) =>
    candidate.fence.flatMap((fence) =>
      fence.password_file === undefined ? [] : [fence.password_file],
    ),
  );
  if (files.length === 0)
    return { ...base, status: 'skip', found: 'no fence password files configured' };
  const problems: string[] = [];
  const fixes: string[] = [];
  for (const file of files) {
    const info = await stat(file).catch(() => undefined);
    if (info === undefined) {
      problems.push(`${file} does not exist`);
      fixes.push(`echo 'DEVICE-PASSWORD' > ${file} && chmod 600 ${file}`);
    } else if ((info.mode & 0o077) !== 0) {
      problems.push(
        `${file} is mode 0${(info.mode & 0o777).toString(8)} (skypg refuses to fence with it)`,
      );
      fixes.push(`chmod 600 ${file}`);
    }
  }
  return problems.length === 0
    ? { ...base, status: 'ok', found: `${files.join(', ')}: present, mode 0600 or stricter` }
    : { ...base, status: 'fail', found: problems.join('; '), fix: fixes.join('\n') };
}

/** `ip` and iputils `arping` present, and permitted: root, capabilities, or vip.command_prefix. */
export async function checkNetTools(config: ClusterConfig, node: NodeConfig): Promise<CheckResult> {
  const base = local('net-tools', node);
  if (config.vip.primary === undefined && config.vip.standby === undefined) {
    return { ...base, status: 'skip', found: 'no VIP configured' };
  }
  const prefix = config.vip.command_prefix ?? [];
  const run = (program: string, args: string[]) => {
    const [file = program, ...rest] = [...prefix, program, ...args];
    return runProgram(file, rest, { allowFailure: true, timeoutMs: 5000 }).catch(
      (error: unknown) => ({
        exitCode: -1,
        stdout: '',
        stderr: messageOf(error),
        timedOut: false,
      }),
    );
  };
  const [ip, arping] = await Promise.all([run('ip', ['-V']), run('arping', ['-V'])]);
  const problems: string[] = [];
  const fixes: string[] = [];
  if (ip.exitCode !== 0) {
    problems.push(`ip does not run: ${(ip.stderr || ip.stdout).trim().split('\n').at(-1) ?? ''}`);
    fixes.push('apt-get install iproute2');
  }
  if (!/iputils/i.test(`${arping.stdout} ${arping.stderr}`)) {
    problems.push(
      arping.exitCode === -1 ? 'arping is not installed' : 'arping is not the iputils one',
    );
    fixes.push('apt-get install iputils-arping');
  }
  let how = 'as root';
  if (prefix.length > 0) how = `through vip.command_prefix (${prefix.join(' ')})`;
  else if (!isRoot()) {
    const caps = await effectiveCapabilities();
    const needed = [
      [12n, 'CAP_NET_ADMIN'],
      [13n, 'CAP_NET_RAW'],
    ] as const;
    const lacking = needed.filter(([bit]) => (caps & (1n << bit)) === 0n).map(([, name]) => name);
    if (lacking.length > 0) {
      problems.push(`not root and without ${lacking.join(', ')}: VIP changes would be refused`);
      fixes.push(
        'run skypg as root, give the service AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW, or set vip.command_prefix (docs/operations.md)',
      );
    }
    how = 'with CAP_NET_ADMIN and CAP_NET_RAW';
  }
  return problems.length === 0
    ? { ...base, status: 'ok', found: `ip and iputils arping present, usable ${how}` }
    : { ...base, status: 'fail', found: problems.join('; '), fix: fixes.join('\n') };
}

async function effectiveCapabilities(): Promise<bigint> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const hex = /^CapEff:\s*([0-9a-f]+)/m.exec(status)?.[1];
  return hex === undefined ? 0n : BigInt(`0x${hex}`);
}

export async function checkGateway(config: ClusterConfig, node: NodeConfig): Promise<CheckResult> {
  const base = local('gateway', node);
  if (config.gateway.length === 0) {
    return {
      ...base,
      status: 'warn',
      found: 'no gateway configured: automatic failover is off',
      fix: 'gateway: [ADDRESS]   # the default gateway, in the configuration',
    };
  }
  const seconds = String(Math.max(1, Math.ceil(config.heartbeat.timeout / 1000)));
  const answers = await Promise.all(
    config.gateway.map((address) =>
      // As the supervisor asks (probe-helper.ts): a request every 200 ms until one is answered.
      runProgram('ping', ['-n', '-q', '-c', '1', '-i', '0.2', '-w', seconds, address], {
        allowFailure: true,
        timeoutMs: 5000,
      }).then(
        (result) => result.exitCode === 0,
        () => false,
      ),
    ),
  );
  const silent = config.gateway.filter((_, index) => answers[index] !== true);
  if (silent.length === 0)
    return { ...base, status: 'ok', found: `${config.gateway.join(', ')} answer ping` };
  return {
    ...base,
    status: silent.length === config.gateway.length ? 'fail' : 'warn',
    found: `${silent.join(', ')} do not answer ping from ${node.name}`,
    fix: 'check the route and that the gateway answers ICMP echo (the supervisor uses it as the tie-breaker)',
  };
}

async function processRuns(name: string): Promise<boolean> {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((entry) =>
    /^\d+$/.test(entry),
  );
  for (const pid of pids) {
    const comm = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
    if (comm.trim() === name) return true;
  }
  return false;
}

/** acpid (or logind handling the power key) turns a power-off into a slow shutdown. */
export async function checkAcpi(node: NodeConfig): Promise<CheckResult> {
  const base = local('acpi', node);
  const problems: string[] = [];
  const fixes: string[] = [];
  if (await processRuns('acpid')) {
    problems.push('acpid runs: a fence "power off" may become a slow orderly shutdown');
    fixes.push('systemctl disable --now acpid   # (the manual procedure: chkconfig acpid off)');
  }
  if (await processRuns('systemd-logind')) {
    const texts = await Promise.all(
      [
        '/etc/systemd/logind.conf',
        ...(await readdir('/etc/systemd/logind.conf.d').catch(() => [] as string[])).map((f) =>
          join('/etc/systemd/logind.conf.d', f),
        ),
      ].map((file) => readFile(file, 'utf8').catch(() => '')),
    );
    const values = texts.flatMap((text) =>
      [...text.matchAll(/^\s*HandlePowerKey\s*=\s*(\S+)/gm)].map((match) => match[1]),
    );
    if (values.at(-1) !== 'ignore') {
      problems.push(
        `systemd-logind handles the power key (HandlePowerKey=${values.at(-1) ?? 'poweroff'})`,
      );
      fixes.push(
        "printf '[Login]\\nHandlePowerKey=ignore\\n' > /etc/systemd/logind.conf.d/skypg.conf && systemctl restart systemd-logind",
      );
    }
  }
  return problems.length === 0
    ? { ...base, status: 'ok', found: 'neither acpid nor logind would delay a power-off' }
    : { ...base, status: 'warn', found: problems.join('; '), fix: fixes.join('\n') };
}

export async function checkSystemd(node: NodeConfig): Promise<CheckResult> {
  const base = local('systemd', node);
  const booted = await access('/run/systemd/system').then(
    () => true,
    () => false,
  );
  if (!booted)
    return {
      ...base,
      status: 'skip',
      found: 'systemd is not the init system here: start the supervisor at boot another way',
    };
  const result = await runProgram('systemctl', ['is-enabled', 'skypg.service'], {
    allowFailure: true,
    timeoutMs: 5000,
  });
  const state = result.stdout.trim() || result.stderr.trim();
  if (state === 'enabled')
    return { ...base, status: 'ok', found: 'skypg.service is installed and enabled' };
  const missing = /not.found|No such file/i.test(state);
  return {
    ...base,
    status: 'fail',
    found: missing ? 'skypg.service is not installed' : `skypg.service is ${state}`,
    fix: missing
      ? 'install /etc/systemd/system/skypg.service (docs/failover.md), then systemctl enable --now skypg'
      : 'systemctl enable --now skypg',
  };
}

/**
 * Room under pg_wal and the data directory (judgeSpace: FAIL below two WAL segments, WARN when
 * low), and beside the data directory for a rebuild, which copies the primary there before
 * swapping: room for both.
 */
export async function checkFreeSpace(
  context: DoctorContext,
  node: NodeConfig,
): Promise<CheckResult> {
  const base = local('disk', node);
  const segment = await walSegmentBytes(node);
  const parts: { status: CheckStatus; found: string; fix?: string }[] = (
    await readDataDirSpace(node.data_dir)
  ).map((reading) => {
    const verdict = judgeSpace(reading, segment);
    return {
      status: verdict.status,
      found: verdict.detail,
      ...(verdict.status === 'ok'
        ? {}
        : { fix: `free space under ${reading.path} (or grow its filesystem)` }),
    };
  });
  parts.push(await rebuildRoom(context, node));
  const status = parts.reduce<CheckStatus>((worst, part) => worse(worst, part.status), 'ok');
  const fixes = parts.flatMap((part) => (part.fix === undefined ? [] : [part.fix]));
  return {
    ...base,
    status,
    found: parts.map((part) => part.found).join('; '),
    ...(fixes.length === 0 ? {} : { fix: fixes.join('\n') }),
  };
}

async function rebuildRoom(
  context: DoctorContext,
  node: NodeConfig,
): Promise<{ status: CheckStatus; found: string; fix?: string }> {
  const primary = nodeWithRole(context, 'primary');
  if (primary === undefined)
    return { status: 'ok', found: 'no primary answered, so the size of a rebuild is unknown' };
  const [row] = await withConnection(readTarget(context, primary), (session) =>
    session.query<{ bytes: string }>(
      `select ((select sum(pg_database_size(oid)) from pg_database)
             + (select coalesce(sum(size), 0) from pg_ls_waldir()))::text as bytes`,
    ),
  );
  const needed = Number(row?.bytes ?? 0);
  const dir = dirname(node.data_dir);
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  const gib = (bytes: number): string => `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
  const found = `${gib(free)} free in ${dir}; a rebuild copies ${gib(needed)} from ${primary.name}`;
  if (free >= needed * 1.2) return { status: 'ok', found };
  return {
    status: free < needed ? 'fail' : 'warn',
    found: `${found}${free < needed ? ': not enough for a rebuild' : ': under 20% to spare'}`,
    fix: `free space or grow the filesystem of ${dir}`,
  };
}

/** The OS user PostgreSQL runs as can write the data directory and pg_wal (promote, rebuild). */
export async function checkDataDir(node: NodeConfig): Promise<CheckResult> {
  const base = local('data-dir', node);
  const exists = await stat(node.data_dir).then(
    () => true,
    () => false,
  );
  if (!exists) {
    return {
      ...base,
      status: 'fail',
      found: `${node.data_dir} does not exist`,
      fix: `fix data_dir of ${node.name}, or make it a standby: skypg rebuild-standby --node ${node.name}`,
    };
  }
  const stray = await straySignalFiles(node.data_dir);
  if (stray.length > 0) {
    return {
      ...base,
      status: 'fail',
      found: stray.map((problem) => problem.found).join('; '),
      fix: stray.map((problem) => problem.fix).join('; '),
    };
  }
  const unwritable = await unwritableDataDirs(node);
  const osUser = effectiveOsUser(node.postgres.os_user);
  return unwritable.length === 0
    ? { ...base, status: 'ok', found: `${node.data_dir} and its pg_wal are writable by ${osUser}` }
    : {
        ...base,
        status: 'fail',
        found: `${unwritable.join('; ')}: promote and rebuild-standby would refuse`,
        fix: writableFix(node, unwritable),
      };
}

/**
 * Files in the data directory that act without skypg: `promote` (pg_ctl promote's signal
 * file) promotes a standby at the postmaster's next signal, with no fencing and no VIP move;
 * `recovery.conf` makes PostgreSQL 12+ refuse to start.
 */
async function straySignalFiles(dataDir: string): Promise<{ found: string; fix: string }[]> {
  const present = async (name: string): Promise<boolean> =>
    lstat(join(dataDir, name)).then(
      () => true,
      () => false,
    );
  const problems: { found: string; fix: string }[] = [];
  if ((await present('promote')) && (await present('standby.signal'))) {
    problems.push({
      found: `${join(dataDir, 'promote')} is there: PostgreSQL would promote this standby at its next signal, without fencing the primary`,
      fix: `rm ${join(dataDir, 'promote')}   # promote with 'skypg promote', which fences first`,
    });
  }
  if (await present('recovery.conf')) {
    problems.push({
      found: `${join(dataDir, 'recovery.conf')} is there: PostgreSQL 12+ refuses to start with it`,
      fix: `rm ${join(dataDir, 'recovery.conf')}   # skypg writes standby.signal and primary_conninfo`,
    });
  }
  return problems;
}

/** The supervisor's state file directory: nobody but its owner may write there (links, forgery). */
export async function checkStateDir(config: ClusterConfig, node: NodeConfig): Promise<CheckResult> {
  const dir = dirname(stateFilePath(config, node.name));
  const problem = await stateDirProblem(dir);
  return problem === undefined
    ? { ...local('state-dir', node), status: 'ok', found: `${dir} is writable only by its owner` }
    : {
        ...local('state-dir', node),
        status: 'fail',
        found: problem,
        fix: `chmod 0755 ${dir}   # or set supervisor.state_file in such a directory`,
      };
}

/** Where a data directory's pg_wal points (null: a plain directory). */
export function walLink(dataDir: string): Promise<string | null> {
  return readlink(join(dataDir, 'pg_wal')).catch(() => null);
}
