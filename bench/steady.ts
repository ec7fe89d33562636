// npm run bench:steady [-- --duration SECONDS] [--wal-window SECONDS] [--clients N]
// [--json FILE] [--dir DIR] [--update-docs]: a healthy pair under pgbench load with both
// supervisors at default settings: their CPU and peak memory, the WAL the heartbeat adds, and
// how many failovers happened (must be none).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { labPsql, readSupervisorLog, startSupervisors } from '../src/lib/lab/lab-cluster.js';
import { execIn, type LabHostName, type NetnsLabState } from '../src/lib/lab/netns-lab.js';
import { badFlag, parseBenchArgs, replaceDocsBlock } from './measure.js';
import {
  buildLab,
  describeMachine,
  labParent,
  machineLine,
  primaryVip,
  removeLabParent,
  supervisorPids,
  tearDown,
  waitHealthy,
  type Machine,
} from './lib/lab-run.js';
import { clockTicksPerSecond, cpuTicks, peakRss, type CpuTicks } from './lib/proc-usage.js';

const { values } = parseBenchArgs({
  duration: { type: 'string', default: '300' },
  'wal-window': { type: 'string', default: '60' },
  clients: { type: 'string', default: '8' },
  json: { type: 'string' },
  dir: { type: 'string' },
  'update-docs': { type: 'boolean' },
});
const positive = (name: string, text: string | undefined): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) badFlag(`--${name} takes a positive integer`);
  return value;
};
const durationS = positive('duration', values.duration);
const walWindowS = positive('wal-window', values['wal-window']);
const clients = positive('clients', values.clients);

interface NodeUsage {
  host: LabHostName;
  role: 'primary' | 'standby';
  pid: number;
  cpuPercent: number;
  cpuPercentWithChildren: number;
  peakRssBytes: number;
}

interface SteadyReport {
  machine: Machine;
  durationS: number;
  clients: number;
  pgbenchTps: number | undefined;
  nodes: NodeUsage[];
  wal: { windowS: number; withoutSupervisorsBytes: number; withSupervisorsBytes: number };
  heartbeatWalBytesPerMinute: number;
  failovers: number;
  /** Decisions other than the steady primary-healthy / standby-following, during the load. */
  otherDecisions: string[];
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

async function measure(state: NetnsLabState, machine: Machine): Promise<SteadyReport> {
  // WAL with only PostgreSQL running, then with both supervisors (the primary's beat): the
  // difference is what the heartbeat writes. A fresh lab's first autovacuum rounds (catalogs,
  // with wal_log_hints) write far more WAL than the beat and would land in either window:
  // vacuum everything and checkpoint first, so both windows start from the same quiet state.
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
  const standby: LabHostName = primary === 'host1' ? 'host2' : 'host1';
  console.log(`WAL over ${walWindowS}s with both supervisors ...`);
  const withSupervisors = await walBytesOver(state, primary, walWindowS);

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
  console.log(`pgbench -c ${clients} -T ${durationS} through the primary VIP ...`);
  const run = await execIn(
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
    { env: { PGPASSFILE: state.passfile }, timeoutMs: (durationS + 120) * 1000 },
  );
  const wallS = (Date.now() - started) / 1000;
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

  const during = (await Promise.all(hosts.map(([host]) => readSupervisorLog(state, host))))
    .flat()
    .filter((line) => Date.parse(line.time) >= started);
  const failovers = during.filter(
    (line) => line.event === 'action' && line.action === 'promote',
  ).length;
  const otherDecisions = during
    .filter(
      (line) =>
        line.event === 'decision' &&
        line.rule !== 'primary-healthy' &&
        line.rule !== 'standby-following',
    )
    .map((line) => `${line.time} ${line.node}: ${line.rule ?? ''}: ${line.reason ?? ''}`);
  const tps = /tps = ([\d.]+)/.exec(run.stdout)?.[1];
  return {
    machine,
    durationS,
    clients,
    pgbenchTps: tps === undefined ? undefined : Number(tps),
    nodes,
    wal: {
      windowS: walWindowS,
      withoutSupervisorsBytes: withoutSupervisors,
      withSupervisorsBytes: withSupervisors,
    },
    heartbeatWalBytesPerMinute:
      Math.max(0, withSupervisors - withoutSupervisors) * (60 / walWindowS),
    failovers,
    otherDecisions,
  };
}

function render(report: SteadyReport): string {
  const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
  const lines = [
    `steady state: ${report.durationS}s of pgbench -c ${report.clients} through the primary VIP (${report.pgbenchTps?.toFixed(0) ?? '?'} tps), supervisors at default settings (1s interval); ${machineLine(report.machine)}`,
    'node   role     supervisor CPU %  with children %  peak RSS MiB',
    ...report.nodes.map(
      (node) =>
        `${node.host.padEnd(5)}  ${node.role.padEnd(7)}  ${node.cpuPercent.toFixed(2).padStart(16)}  ${node.cpuPercentWithChildren.toFixed(2).padStart(15)}  ${mib(node.peakRssBytes).padStart(12)}`,
    ),
    `WAL added by the heartbeat: ${(report.heartbeatWalBytesPerMinute / 1024).toFixed(1)} KiB per minute (${report.wal.withSupervisorsBytes} bytes in ${report.wal.windowS}s with the supervisors, ${report.wal.withoutSupervisorsBytes} without)`,
    `failovers: ${report.failovers}; decisions other than the steady ones: ${report.otherDecisions.length}`,
    ...report.otherDecisions.map((line) => `  ${line}`),
  ];
  return lines.join('\n');
}

const dirs = await labParent(values.dir);
let report: SteadyReport;
try {
  const state = await buildLab(dirs.parent, 'async');
  try {
    report = await measure(state, await describeMachine(state.binDir));
  } finally {
    await tearDown(state);
  }
} finally {
  await removeLabParent(dirs);
}
const text = render(report);
console.log(`\n${text}`);
if (values.json !== undefined) {
  await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${values.json}`);
}
if (values['update-docs'] === true) await replaceDocsBlock('steady', text);
if (report.failovers > 0) {
  console.error(`${report.failovers} failovers under steady load (must be 0)`);
  process.exitCode = 1;
}
