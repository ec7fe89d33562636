// npm run bench:steady [-- --chaos] [--duration SECONDS] [--wal-window SECONDS] [--clients N (0: idle)]
// [--heartbeat-timeout DUR] [--confirm-timeout DUR] [--json FILE] [--dir DIR] [--update-docs]:
// a healthy pair under pgbench load with both supervisors at default settings (or those two
// changed): their CPU and peak memory, the WAL the heartbeat adds, and
// how many failovers happened (must be none). --chaos (30 min, 16 clients unless told) adds busy
// CPUs, lossy links and paused supervisors, skips the WAL windows, and counts false alarms.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { labPsql, readSupervisorLog, startSupervisors } from '../src/lib/lab/lab-cluster.js';
import { execIn, type LabHostName, type NetnsLabState } from '../src/lib/lab/netns-lab.js';
import { badFlag, hasDocsBlock, parseBenchArgs, replaceDocsBlock } from './measure.js';
import {
  countAlarms,
  defaultChaos,
  startChaos,
  type Alarms,
  type ChaosFigures,
  type ChaosRun,
} from './lib/chaos.js';
import {
  buildLab,
  describeMachine,
  labParent,
  machineLine,
  primaryVip,
  removeLabParent,
  supervisorPids,
  isPoweredOff,
  tearDown,
  tuningFlags,
  tuningLine,
  tuningOf,
  isTuned,
  TuningRefused,
  waitHealthy,
  type Machine,
} from './lib/lab-run.js';
import { clockTicksPerSecond, cpuTicks, peakRss, type CpuTicks } from './lib/proc-usage.js';

const { values } = parseBenchArgs({
  chaos: { type: 'boolean' },
  duration: { type: 'string' },
  'wal-window': { type: 'string', default: '60' },
  clients: { type: 'string' },
  json: { type: 'string' },
  dir: { type: 'string' },
  'update-docs': { type: 'boolean' },
  ...tuningFlags,
});
const positive = (name: string, text: string | undefined): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) badFlag(`--${name} takes a positive integer`);
  return value;
};
const chaos = values.chaos === true;
const durationS = positive('duration', values.duration ?? (chaos ? '1800' : '300'));
const walWindowS = positive('wal-window', values['wal-window']);
/** --clients 0: an idle pair (no pgbench), for the supervisors' own CPU and memory. */
const clients =
  values.clients === '0' ? 0 : positive('clients', values.clients ?? (chaos ? '16' : '8'));
const tuning = tuningOf(values);
// A tuned run has its own block: the records above it are of the defaults.
const docsBlock = `${chaos ? 'steady-chaos' : 'steady'}${isTuned(tuning) ? '-tuned' : ''}`;
if (values['update-docs'] === true && !(await hasDocsBlock(docsBlock))) {
  badFlag(
    `docs/benchmarks.md has no bench:${docsBlock} block for --update-docs; add its markers first`,
  );
}

interface NodeUsage {
  host: LabHostName;
  role: 'primary' | 'standby';
  pid: number;
  cpuPercent: number;
  cpuPercentWithChildren: number;
  peakRssBytes: number;
}

interface WalFigures {
  windowS: number;
  withoutSupervisorsBytes: number;
  withSupervisorsBytes: number;
}

interface SteadyReport extends Alarms {
  machine: Machine;
  /** "default settings", or which of them the run changed (--heartbeat-timeout, ...). */
  settings: string;
  durationS: number;
  clients: number;
  pgbenchTps: number | undefined;
  /** Non-zero when pgbench aborted a client (a lost connection) or failed. */
  pgbenchExitCode: number;
  pgbenchClientsAborted: number;
  nodes: NodeUsage[];
  /** The heartbeat's WAL; not measured under --chaos (it is the quiet run's figure). */
  wal?: WalFigures;
  heartbeatWalBytesPerMinute?: number;
  /** Under --chaos: what was done to the pair. */
  chaos?: ChaosFigures;
  /** Hosts found powered off at the end (a fence carried out). */
  poweredOff: LabHostName[];
}

/** The idle run's stand-in for pgbench: nothing runs for the duration. */
async function idleFor(seconds: number): Promise<Awaited<ReturnType<typeof execIn>>> {
  await sleep(seconds * 1000);
  return { exitCode: 0, stdout: '', stderr: '', timedOut: false };
}

async function walPosition(state: NetnsLabState, host: LabHostName): Promise<string> {
  return labPsql(state, host, 'select pg_current_wal_lsn()');
}

/**
 * WAL written in `seconds`, as the quietest of three equal slices scaled to the whole window:
 * the beat is steady, while PostgreSQL's own background work (autovacuum, a checkpoint's
 * first full-page images) comes in bursts that would otherwise be charged to the heartbeat.
 */
async function walBytesOver(
  state: NetnsLabState,
  host: LabHostName,
  seconds: number,
): Promise<number> {
  const slices: number[] = [];
  for (let slice = 0; slice < 3; slice += 1) {
    const start = await walPosition(state, host);
    await sleep((seconds * 1000) / 3);
    const end = await walPosition(state, host);
    slices.push(Number(await labPsql(state, host, `select pg_wal_lsn_diff('${end}', '${start}')`)));
  }
  return Math.min(...slices) * 3;
}

/**
 * WAL with only PostgreSQL running, then with both supervisors (the primary's beat): the
 * difference is what the heartbeat writes. Starts the supervisors; returns the primary.
 */
async function measureWal(
  state: NetnsLabState,
): Promise<{ primary: LabHostName; wal: WalFigures; heartbeatWalBytesPerMinute: number }> {
  // A fresh lab's first autovacuum rounds (catalogs, with wal_log_hints) write far more WAL
  // than the beat and would land in either window: vacuum everything and checkpoint first, so
  // both windows start from the same quiet state.
  const host1 = state.hosts[0];
  await execIn(
    state,
    'host1',
    join(state.binDir, 'vacuumdb'),
    ['--all', '--analyze', '--quiet', '-h', host1.socketDir, '-U', 'postgres'],
    { asUser: state.osUser, timeoutMs: 120_000 },
  );
  await labPsql(state, 'host1', 'checkpoint');
  console.log(`WAL over ${walWindowS}s without supervisors ...`);
  const withoutSupervisors = await walBytesOver(state, 'host1', walWindowS);
  await startSupervisors(state);
  const primary = await waitHealthy(state, 'async', 60_000);
  console.log(`WAL over ${walWindowS}s with both supervisors ...`);
  const withSupervisors = await walBytesOver(state, primary, walWindowS);
  return {
    primary,
    wal: {
      windowS: walWindowS,
      withoutSupervisorsBytes: withoutSupervisors,
      withSupervisorsBytes: withSupervisors,
    },
    heartbeatWalBytesPerMinute:
      Math.max(0, withSupervisors - withoutSupervisors) * (60 / walWindowS),
  };
}

/** Set while the chaos runs, so that a signal can still resume the supervisors. */
let chaosRun: ChaosRun | undefined;

async function measure(state: NetnsLabState, machine: Machine): Promise<SteadyReport> {
  let primary: LabHostName;
  let walFigures: Omit<Awaited<ReturnType<typeof measureWal>>, 'primary'> | undefined;
  if (chaos) {
    await startSupervisors(state);
    primary = await waitHealthy(state, 'async', 60_000);
  } else {
    const measured = await measureWal(state);
    primary = measured.primary;
    walFigures = measured;
  }
  const standby: LabHostName = primary === 'host1' ? 'host2' : 'host1';

  const pgbench = join(state.binDir, 'pgbench');
  await labPsql(state, primary, 'create database bench');
  const socketDir = state.hosts[primary === 'host1' ? 0 : 1].socketDir;
  await execIn(
    state,
    primary,
    pgbench,
    ['-i', '-q', '-s', '1', '-h', socketDir, '-U', 'postgres', 'bench'],
    { asUser: state.osUser, timeoutMs: 120_000 },
  );

  const hosts: [LabHostName, 'primary' | 'standby'][] = [
    [primary, 'primary'],
    [standby, 'standby'],
  ];
  const pids = new Map<LabHostName, number>();
  for (const [host] of hosts) {
    const [pid] = await supervisorPids(state, host);
    if (pid === undefined) throw new Error(`no supervisor runs on ${host}`);
    pids.set(host, pid);
  }
  const before = new Map<LabHostName, CpuTicks>();
  for (const [host, pid] of pids) before.set(host, await cpuTicks(pid));
  const started = Date.now();
  let chaosFigures: ChaosFigures | undefined;
  if (chaos) {
    const { hogsPerHost, lossPercent, pauseMs, meanPauseGapMs } = defaultChaos;
    console.log(
      `chaos: ${hogsPerHost} CPU hogs per host, ${lossPercent} % loss per host link, supervisors paused ${pauseMs} ms every ${meanPauseGapMs / 1000}s on average`,
    );
    chaosRun = await startChaos(state, pids, defaultChaos);
  }
  console.log(
    clients === 0
      ? `an idle pair for ${durationS}s (no pgbench) ...`
      : `pgbench -c ${clients} -T ${durationS} through the primary VIP ...`,
  );
  let run: Awaited<ReturnType<typeof execIn>>;
  let wallS: number;
  try {
    run =
      clients === 0
        ? await idleFor(durationS)
        : await execIn(
            state,
            'client',
            pgbench,
            [
              '-h',
              primaryVip,
              '-U',
              'postgres',
              '-c',
              String(clients),
              '-j',
              '2',
              '-T',
              String(durationS),
              'bench',
            ],
            {
              env: { PGPASSFILE: state.passfile },
              timeoutMs: (durationS + 120) * 1000,
              // Under chaos a client may lose its connection (pgbench then exits 2): a figure.
              allowFailure: chaos,
            },
          );
    wallS = (Date.now() - started) / 1000;
  } finally {
    if (chaosRun !== undefined) {
      const ending = chaosRun;
      chaosRun = undefined;
      chaosFigures = await ending.stop();
    }
  }
  const tick = await clockTicksPerSecond();
  const nodes: NodeUsage[] = [];
  for (const [host, role] of hosts) {
    const pid = pids.get(host) ?? 0;
    const after = await cpuTicks(pid);
    const start = before.get(host) ?? after;
    const percent = (ticks: number): number => (100 * ticks) / tick / wallS;
    nodes.push({
      host,
      role,
      pid,
      cpuPercent: percent(after.own - start.own),
      cpuPercentWithChildren: percent(after.withChildren - start.withChildren),
      peakRssBytes: await peakRss(pid),
    });
  }

  const logs = await Promise.all(hosts.map(([host]) => readSupervisorLog(state, host)));
  const poweredOff: LabHostName[] = [];
  for (const [host] of hosts) if (await isPoweredOff(state, host)) poweredOff.push(host);
  const tps = /tps = ([\d.]+)/.exec(run.stdout)?.[1];
  return {
    machine,
    settings: tuningLine(tuning),
    durationS,
    clients,
    pgbenchTps: tps === undefined ? undefined : Number(tps),
    pgbenchExitCode: run.exitCode,
    pgbenchClientsAborted: (run.stderr.match(/^client \d+ aborted/gm) ?? []).length,
    nodes,
    ...(walFigures === undefined
      ? {}
      : { wal: walFigures.wal, heartbeatWalBytesPerMinute: walFigures.heartbeatWalBytesPerMinute }),
    ...(chaosFigures === undefined ? {} : { chaos: chaosFigures }),
    ...countAlarms(logs.flat(), started),
    poweredOff,
  };
}

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

function render(report: SteadyReport): string {
  if (report.chaos !== undefined) return renderChaos(report, report.chaos);
  const wal = report.wal;
  const walPerMinute = report.heartbeatWalBytesPerMinute ?? 0;
  const lines = [
    `steady state: ${report.durationS}s ${report.clients === 0 ? 'of an idle pair (no pgbench)' : `of pgbench -c ${report.clients} through the primary VIP (${report.pgbenchTps?.toFixed(0) ?? '?'} tps)`}, supervisors at ${report.settings} (1s interval); ${machineLine(report.machine)}`,
    'node   role     supervisor CPU %  with children %  peak RSS MiB',
    ...report.nodes.map(
      (node) =>
        `${node.host.padEnd(5)}  ${node.role.padEnd(7)}  ${node.cpuPercent.toFixed(2).padStart(16)}  ${node.cpuPercentWithChildren.toFixed(2).padStart(15)}  ${mib(node.peakRssBytes).padStart(12)}`,
    ),
    ...(wal === undefined
      ? []
      : [
          `WAL added by the heartbeat: ${(walPerMinute / 1024).toFixed(1)} KiB per minute (${wal.withSupervisorsBytes} bytes in ${wal.windowS}s with the supervisors, ${wal.withoutSupervisorsBytes} without)`,
        ]),
    `failovers: ${report.failovers}; decisions other than the steady ones: ${report.otherDecisions.length}`,
    ...report.otherDecisions.map((line) => `  ${line}`),
  ];
  return lines.join('\n');
}

/** Decision lines listed in the text (all of them are in --json). */
const listedDecisions = 10;

function renderChaos(report: SteadyReport, figures: ChaosFigures): string {
  const { settings } = figures;
  const byHost = new Map(figures.hosts.map((host) => [host.host, host]));
  const rules = Object.entries(report.otherRules)
    .map(([rule, count]) => `${rule}: ${count}`)
    .join(', ');
  const pgbenchLine =
    report.pgbenchExitCode === 0
      ? 'pgbench exit 0'
      : `pgbench exit ${report.pgbenchExitCode}, ${report.pgbenchClientsAborted} clients aborted`;
  const lines = [
    `steady state under chaos: ${report.durationS}s of pgbench -c ${report.clients} through the primary VIP (${report.pgbenchTps?.toFixed(0) ?? '?'} tps, ${pgbenchLine}), supervisors at ${report.settings} (1s interval); ${machineLine(report.machine)}`,
    `chaos: ${settings.hogsPerHost} CPU hogs in each host, ${settings.lossPercent} % of frames dropped at random on each host's link (each way), each supervisor paused ${settings.pauseMs} ms at random moments (mean gap ${settings.meanPauseGapMs / 1000}s)`,
    'node   role     supervisor CPU %  with children %  peak RSS MiB  pauses  longest ms  frames dropped / seen',
    ...report.nodes.map((node) => {
      const chaosOf = byHost.get(node.host);
      const pauses = chaosOf?.pausesMs ?? [];
      const longest = pauses.length === 0 ? '-' : Math.max(...pauses).toFixed(0);
      const link =
        chaosOf?.link === undefined ? '?' : `${chaosOf.link.dropped} / ${chaosOf.link.seen}`;
      const problem =
        chaosOf?.pauseError === undefined ? '' : `  (pauses ended: ${chaosOf.pauseError})`;
      return `${node.host.padEnd(5)}  ${node.role.padEnd(7)}  ${node.cpuPercent.toFixed(2).padStart(16)}  ${node.cpuPercentWithChildren.toFixed(2).padStart(15)}  ${mib(node.peakRssBytes).padStart(12)}  ${String(pauses.length).padStart(6)}  ${longest.padStart(10)}  ${link.padStart(21)}${problem}`;
    }),
    `failovers: ${report.failovers}; self-demotions: ${report.selfDemotions}; fences: ${report.fences} (powered off: ${report.poweredOff.length === 0 ? 'none' : report.poweredOff.join(', ')}); goal 0 / 0 / 0`,
    `pauses: ${figures.pauses}; dropped frames: ${figures.droppedFrames}`,
    `decisions other than the steady ones: ${report.otherDecisions.length}${rules === '' ? '' : ` (${rules})`}`,
    ...report.otherDecisions.slice(0, listedDecisions).map((line) => `  ${line}`),
    ...(report.otherDecisions.length > listedDecisions
      ? [`  ... ${report.otherDecisions.length - listedDecisions} more in --json`]
      : []),
  ];
  return lines.join('\n');
}

// A signal would end the bench without its finally blocks: at least resume the supervisors and
// stop the hogs (the lab's teardown would also kill them, but a stopped supervisor must not
// wait for it). Then the signal's default action runs.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    chaosRun?.stopNow();
    process.kill(process.pid, signal);
  });
}

const dirs = await labParent(values.dir);
let report: SteadyReport | undefined;
let refused: string | undefined;
try {
  const state = await buildLab(dirs.parent, 'async', tuning);
  try {
    report = await measure(state, await describeMachine(state.binDir));
  } finally {
    await tearDown(state);
  }
} catch (error) {
  if (!(error instanceof TuningRefused)) throw error;
  refused = error.message;
} finally {
  await removeLabParent(dirs);
}
if (report === undefined) badFlag(refused ?? 'no lab was built');
const text = render(report);
console.log(`\n${text}`);
if (values.json !== undefined) {
  await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${values.json}`);
}
if (values['update-docs'] === true) await replaceDocsBlock(docsBlock, text);
// Under chaos the figures are the result (the goal is 0 / 0 / 0): reported, not asserted.
if (!chaos && report.failovers > 0) {
  console.error(`${report.failovers} failovers under steady load (must be 0)`);
  process.exitCode = 1;
}
