// rebuild-standby: make this node a streaming standby of the current primary, by the cheapest
// safe way: follow (nothing diverged), pg_rewind (diverged), or a fresh pg_basebackup. Every
// step is timed; a failure says exactly what state the node was left in.
import { rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { peerOf } from '../config/local-node.js';
import { SkypgError, messageOf } from '../common/errors.js';
import { releaseSlotsAsStandby, standbySlot } from '../pg/slots.js';
import { effectivePassfile, localTarget, remoteTarget, withConnection } from '../pg/connect.js';
import { unwritableDataDirs, writableFix } from '../pg/data-dir.js';
import { isCleanShutdown, readControlData, type ControlData } from '../pg/controldata.js';
import { runPgProgram } from '../pg/programs.js';
import { readWalReceiver, readServerStatus } from '../pg/server-status.js';
import {
  programContext,
  runningPostmaster,
  serverLogFile,
  startServer,
  stopServer,
} from '../pg/server-control.js';
import { formatConninfo, writeStandbyConfig } from '../pg/standby-config.js';
import { classifyDivergence, parseHistory, type Verdict } from '../pg/timeline.js';
import { recordSteps, type StepRecord, type TimedStep } from './steps.js';

export type RebuildMethod = 'auto' | 'rewind' | 'basebackup';

export interface RebuildOptions {
  method: RebuildMethod;
  source?: NodeConfig;
  force: boolean;
  keepOld: boolean;
  /** How long to wait for streaming after the start. */
  timeoutMs: number;
  onStep?: (step: string) => void;
}

export interface RebuildResult {
  node: string;
  source: string;
  /** How the node was made a standby in the end. */
  method: 'follow' | 'rewind' | 'basebackup';
  why: string;
  timeline: number;
  steps: StepRecord[];
  totalMs: number;
  /** Where the old data directory was kept (basebackup with --keep-old). */
  oldDataDir?: string;
}

interface SourceState {
  timeline: number;
  lsn: string;
  historyText: string;
}

export async function rebuildStandby(
  config: ClusterConfig,
  node: NodeConfig,
  options: RebuildOptions,
): Promise<RebuildResult> {
  const source = options.source ?? peerOf(config, node.name);
  if (source.name === node.name) {
    throw new SkypgError('USAGE', `--source ${source.name} is this node`, {
      hint: 'name the current primary',
    });
  }
  const { steps, timed } = recordSteps(options.onStep);
  const started = performance.now();

  const sourceState = await timed(`check that ${source.name} is the primary`, () =>
    readSource(source),
  );
  await timed(`check ${node.name}'s own server`, () => refuseRunningPrimary(node, options.force));
  // Before anything is stopped: the standby files are written as the OS user.
  await timed(`check that ${node.name}'s data directory is writable`, async () => {
    const unwritable = await unwritableDataDirs(node);
    if (unwritable.length > 0) {
      throw new SkypgError('REFUSED', `not rebuilding ${node.name}: ${unwritable.join('; ')}`, {
        hint: `nothing was changed; ${writableFix(node, unwritable)}`,
      });
    }
  });
  if ((await runningPostmaster(node)) !== undefined) {
    await timed(`stop PostgreSQL on ${node.name} (fast)`, () => stopServer(node, 'fast'));
  }
  const context = await programContext(node);
  const control = await readControlData(context, node.data_dir).catch(() => undefined);
  const decision = decide(options.method, control, sourceState);
  steps.push({ step: 'decide', ms: 0, detail: `${decision.verdict}: ${decision.why}` });
  if (decision.verdict === 'refuse') {
    throw new SkypgError('REFUSED', `not rebuilding ${node.name}: ${decision.why}`, {
      hint: `check which node is the primary (skypg status); --source names it, --method basebackup overrides`,
    });
  }
  const conninfo = standbyConninfo(config, node, source);
  const finish = async (
    method: RebuildResult['method'],
    oldDataDir?: string,
  ): Promise<RebuildResult> => {
    await timed(`start PostgreSQL on ${node.name} as a standby`, async () => {
      await startServer(node);
      return releaseSlotsAsStandby(config, node);
    });
    await timed(
      `wait until ${node.name} streams from ${source.name} on timeline ${sourceState.timeline}`,
      () => waitForStreaming(node, sourceState.timeline, options.timeoutMs),
    );
    return {
      node: node.name,
      source: source.name,
      method,
      why: decision.why,
      timeline: sourceState.timeline,
      steps,
      totalMs: Math.round(performance.now() - started),
      ...(oldDataDir === undefined ? {} : { oldDataDir }),
    };
  };

  if (decision.verdict === 'follow') {
    await timed('write standby.signal and primary_conninfo', () =>
      writeStandbyConfig(node.data_dir, conninfo, node.postgres.os_user),
    );
    return finish('follow');
  }
  if (decision.verdict === 'rewind') {
    try {
      await timed(`CHECKPOINT on ${source.name}`, () => checkpoint(source));
      await timed(`pg_rewind from ${source.name}`, () => rewind(node, source));
      await timed('write standby.signal and primary_conninfo', () =>
        writeStandbyConfig(node.data_dir, conninfo, node.postgres.os_user),
      );
      return await finish('rewind');
    } catch (error) {
      if (options.method === 'rewind') {
        throw new SkypgError(
          'PARTIAL',
          `pg_rewind of ${node.name} failed: ${messageOf(error)}; PostgreSQL on ${node.name} is stopped and its data directory may be half rewound`,
          {
            hint: `run 'skypg rebuild-standby --method basebackup' to copy a fresh one`,
            cause: error,
          },
        );
      }
      steps.push({
        step: 'rewind failed, falling back to pg_basebackup',
        ms: 0,
        detail: messageOf(error),
      });
      if ((await runningPostmaster(node)) !== undefined) await stopServer(node, 'immediate');
    }
  }
  const oldDataDir = await basebackup(node, source, conninfo, timed);
  let result: RebuildResult;
  try {
    result = await finish('basebackup', oldDataDir);
  } catch (error) {
    throw new SkypgError(
      'PARTIAL',
      `the new copy of ${node.name} did not start streaming: ${messageOf(error)}; the previous data directory is kept at ${oldDataDir}`,
      {
        hint: `read ${serverLogFile(node)}; the old data can be moved back while PostgreSQL is stopped`,
        cause: error,
      },
    );
  }
  if (!options.keepOld) {
    await timed('remove the previous data directory', () =>
      rm(oldDataDir, { recursive: true, force: true }),
    );
    delete result.oldDataDir;
    result.steps = steps;
  }
  return result;
}

function decide(
  method: RebuildMethod,
  control: ControlData | undefined,
  source: SourceState,
): { verdict: Verdict; why: string } {
  if (method === 'basebackup')
    return { verdict: 'basebackup', why: 'asked for (--method basebackup)' };
  if (control === undefined)
    return { verdict: 'basebackup', why: 'no readable data directory here' };
  if (!control.walLogHints && !control.dataChecksums) {
    if (method === 'rewind') {
      throw new SkypgError(
        'REFUSED',
        'pg_rewind needs wal_log_hints = on or data checksums, and this data directory has neither',
        {
          hint: 'set wal_log_hints = on (restart) on both nodes, or use --method basebackup',
        },
      );
    }
    return {
      verdict: 'basebackup',
      why: 'pg_rewind is impossible here (neither wal_log_hints nor data checksums)',
    };
  }
  const classified = classifyDivergence({
    localTimeline: control.checkpointTimeline,
    localCheckpointLsn: control.checkpointLsn,
    localMinRecovery: { timeline: control.minRecoveryEndTimeline, lsn: control.minRecoveryEndLsn },
    cleanShutdown: isCleanShutdown(control),
    sourceTimeline: source.timeline,
    sourceLsn: source.lsn,
    sourceHistory: parseHistory(source.historyText),
  });
  if (method === 'rewind' && classified.verdict !== 'refuse')
    return { verdict: 'rewind', why: `asked for (--method rewind); ${classified.why}` };
  return classified;
}

async function readSource(source: NodeConfig): Promise<SourceState> {
  return withConnection(remoteTarget(source), async (session) => {
    const status = await readServerStatus(session);
    if (status.role !== 'primary') {
      throw new SkypgError('REFUSED', `${source.name} is not a primary (it is in recovery)`, {
        hint: 'promote it first, or name the primary with --source',
      });
    }
    let historyText = '';
    if (status.timeline > 1) {
      const file = `pg_wal/${status.timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
      const [row] = await session.query<{ text: string }>('select pg_read_file($1) as text', [
        file,
      ]);
      historyText = row?.text ?? '';
    }
    return { timeline: status.timeline, lsn: status.currentLsn ?? '0/0', historyText };
  }).catch((error: unknown) => {
    // A connection failure names the address; say which node that is.
    if (!(error instanceof SkypgError) || !error.code.startsWith('PG_')) throw error;
    throw new SkypgError(
      error.code,
      `cannot reach ${source.name}, the primary to rebuild from: ${error.message}`,
      {
        ...(error.hint === undefined ? {} : { hint: error.hint }),
        cause: error,
      },
    );
  });
}

async function refuseRunningPrimary(node: NodeConfig, force: boolean): Promise<void> {
  if ((await runningPostmaster(node)) === undefined) return;
  const status = await withConnection(localTarget(node), readServerStatus).catch(() => undefined);
  if (status?.role === 'primary' && !force) {
    throw new SkypgError(
      'REFUSED',
      `${node.name} is a running primary: rebuilding it would throw away a server clients may be writing to`,
      {
        hint: 'make sure the other node is the primary clients use (skypg status), then add --force',
      },
    );
  }
}

async function checkpoint(source: NodeConfig): Promise<void> {
  // pg_rewind reads the source's control file: after a promotion it must show the new timeline.
  await withConnection(remoteTarget(source), (session) => session.query('checkpoint'));
}

async function rewind(node: NodeConfig, source: NodeConfig): Promise<void> {
  const context = await programContext(node);
  const target = remoteTarget(source);
  const sourceServer = formatConninfo({
    host: target.host,
    port: target.port,
    user: target.user,
    applicationName: 'skypg-rewind',
    passfile: effectivePassfile(node),
  }).concat(' dbname=postgres');
  await runPgProgram(
    context,
    'pg_rewind',
    [
      '--target-pgdata',
      node.data_dir,
      '--source-server',
      sourceServer,
      '--progress',
      // A crashed target is recovered in single-user mode first, which needs the server's
      // configuration (PostgreSQL 15+; older pg_rewind refuses it and auto falls back).
      ...(node.postgres.config_dir === undefined
        ? []
        : [`--config-file=${join(node.postgres.config_dir, 'postgresql.conf')}`]),
    ],
    30 * 60_000,
  );
}

/** Copies a fresh data directory beside the old one, then swaps them; returns where the old one went. */
async function basebackup(
  node: NodeConfig,
  source: NodeConfig,
  conninfo: Parameters<typeof formatConninfo>[0],
  timed: TimedStep,
): Promise<string> {
  const context = await programContext(node);
  const fresh = `${node.data_dir}.skypg-new`;
  const old = `${node.data_dir}.skypg-old`;
  await rm(fresh, { recursive: true, force: true });
  await timed(
    `pg_basebackup from ${source.name}`,
    async () => {
      const result = await runPgProgram(
        context,
        'pg_basebackup',
        [
          '-d',
          formatConninfo({ ...conninfo, host: source.address, port: source.postgres.port }),
          '-D',
          fresh,
          '-X',
          'stream',
          '-c',
          'fast',
          '--progress',
        ],
        60 * 60_000,
      );
      const progress = [...result.stderr.matchAll(/(\d+)\/(\d+) kB/g)].at(-1);
      return progress?.[2] === undefined ? undefined : Number(progress[2]) * 1024;
    },
    (bytes) =>
      bytes === undefined ? 'size not reported' : `${(bytes / 1024 / 1024).toFixed(1)} MiB copied`,
  );
  await writeStandbyConfig(fresh, conninfo, node.postgres.os_user);
  await rm(old, { recursive: true, force: true });
  const hadOld = await stat(node.data_dir).then(
    () => true,
    () => false,
  );
  await timed('swap in the new data directory (the old one is kept until it streams)', async () => {
    if (hadOld) await rename(node.data_dir, old);
    await rename(fresh, node.data_dir);
  });
  return old;
}

/** Where the standby connects: the primary VIP if there is one, else the primary's address. */
export function standbyConninfo(config: ClusterConfig, node: NodeConfig, primary: NodeConfig) {
  const vip = config.vip.primary?.host;
  return {
    host: vip ?? primary.address,
    port: primary.postgres.port,
    user: config.replication.user,
    applicationName: node.name,
    passfile: effectivePassfile(node),
    slot: standbySlot(config, node),
  };
}

async function waitForStreaming(
  node: NodeConfig,
  timeline: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no WAL receiver yet';
  while (Date.now() < deadline) {
    try {
      const receiver = await withConnection(localTarget(node), async (session) => {
        const status = await readServerStatus(session);
        return readWalReceiver(session, status.versionNum);
      });
      if (receiver?.status === 'streaming' && receiver.receivedTimeline === timeline) return;
      if (receiver)
        last = `WAL receiver ${receiver.status} on timeline ${String(receiver.receivedTimeline)}`;
    } catch (error) {
      last = messageOf(error);
    }
    await sleep(200);
  }
  throw new SkypgError(
    'COMMAND_FAILED',
    `not streaming on timeline ${timeline} after ${timeoutMs}ms (${last})`,
  );
}
