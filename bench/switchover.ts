// npm run bench:switchover [-- --trials N] [--update-docs]: the write gap of `skypg switchover`
// as two clients see it. In the multi-host lab (root), with both supervisors running, two
// clients in the client namespace write through the primary VIP: the lab agent (an insert every
// 20 ms, 500 ms connect timeout) and an independent client (persistent-client.ts: one
// persistent connection, an insert every 50 ms, after an error a new connection with a 1 s
// connect timeout). Each trial switches over to the standby (alternating); a client's gap is
// from its last acknowledged write before the switchover to its first after. Prints both per
// trial, where the time went (the swap's moments against both clients' writes), and the medians.
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClientAgent, readSupervisorLog, startSupervisors } from '../src/lib/lab/lab-cluster.js';
import { waitForHealthyPair } from '../src/lib/lab/sandbox.js';
import {
  execIn,
  netnsLabDown,
  netnsLabUp,
  type LabHostName,
  type NetnsLabState,
} from '../src/lib/lab/netns-lab.js';
import type { SwitchoverResult } from '../src/lib/actions/switchover.js';
import { badFlag, parseBenchArgs, percentile, replaceDocsBlock } from './measure.js';
import { labParent, peerHost, removeLabParent } from './lib/lab-run.js';
import {
  describeGapErrors,
  longestWriteGap,
  PersistentWriter,
  type WriteGap,
} from './lib/persistent-writer.js';
import { switchoverTimeline } from './lib/switchover-timeline.js';

const { values } = parseBenchArgs({
  trials: { type: 'string', default: '6' },
  'update-docs': { type: 'boolean', default: false },
});
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1) badFlag('--trials takes a positive integer');

const bin = join(import.meta.dirname, '..', 'bin', 'run.js');
const persistentClient = { writeMs: 50, connectTimeoutMs: 1000 };
/**
 * Pause between a healthy pair and the next trial: shorter than the VIP announcer's window
 * (vip.announce: 5 announcements 1 s apart), so each trial moves the VIP while the previous
 * holder is still announcing it, the case `vip down` must end (docs/benchmarks.md).
 */
const settleMs = 1000;

const dirs = await labParent(undefined);
const labDir = join(dirs.parent, 'lab');
try {
  const state = await netnsLabUp({ dir: labDir });
  await startSupervisors(state);
  await waitForHealthyPair(state, 'host1', 60_000);
  const agent = await ClientAgent.start(state);
  const persistent = PersistentWriter.start(state, persistentClient);
  const agentGaps: number[] = [];
  const persistentGaps: number[] = [];
  const commandGaps: number[] = [];
  const lines: string[] = [];
  const say = (line: string): void => {
    lines.push(line);
    console.log(line);
  };
  let primary: LabHostName = 'host1';
  for (let trial = 1; trial <= trials; trial += 1) {
    const target = peerHost(primary);
    await waitForHealthyPair(state, primary, 60_000);
    await sleep(settleMs);
    const before = Date.now();
    const result = await execIn(
      state,
      target,
      process.execPath,
      [bin, 'switchover', '--node', target, '--json'],
      { env: { SKYPG_CONFIG: state.configPath }, timeoutMs: 120_000, allowFailure: true },
    );
    if (result.exitCode !== 0) throw new Error(`trial ${trial}: ${result.stdout}${result.stderr}`);
    const parsed = JSON.parse(result.stdout) as SwitchoverResult;
    await sleep(1500);
    const after = Date.now();
    const report = agent.report();
    const agentGap = longestWriteGap(
      report.acked.map((id) => report.ackTimes.get(id) ?? 0),
      before,
      after,
    );
    const persistentGap = longestWriteGap(persistent.ackTimes(), before, after);
    const gapMs = (gap: WriteGap | undefined): number => gap?.ms ?? NaN;
    agentGaps.push(gapMs(agentGap));
    persistentGaps.push(gapMs(persistentGap));
    commandGaps.push(parsed.writesRefusedMs ?? NaN);
    say(
      `trial ${trial}: ${primary} -> ${target}: agent (20 ms, 500 ms connect timeout) ${gapMs(agentGap)} ms; persistent client (50 ms, 1 s connect timeout) ${gapMs(persistentGap)} ms; command ${String(parsed.writesRefusedMs)} ms; total ${parsed.totalMs} ms`,
    );
    const handOver = (await readSupervisorLog(state, primary)).find(
      (line) =>
        line.event === 'action' && line.action === 'hand-over' && Date.parse(line.time) >= before,
    );
    const timeline = switchoverTimeline({
      oldPrimary: primary,
      moments: parsed.moments,
      handOver:
        handOver === undefined
          ? undefined
          : {
              endedAt: Date.parse(handOver.time),
              durationMs: handOver.durationMs ?? 0,
              detail: handOver.detail ?? '',
            },
      clients: { agent: agentGap, persistent: persistentGap },
      supervisors: await supervisorEvents(state, before, after),
    });
    for (const line of timeline.lines) say(`  ${line}`);
    if (persistentGap !== undefined)
      for (const line of describeGapErrors(persistent.events(), persistentGap, timeline.origin))
        say(`    persistent client: ${line}`);
    primary = target;
  }
  await agent.stop();
  const writes = (await persistent.stop()).filter((event) => event.kind === 'ack').length;
  const median = (values: number[]): number =>
    percentile(
      [...values].sort((a, b) => a - b),
      0.5,
    );
  const range = (values: number[]): string => `${Math.min(...values)}-${Math.max(...values)} ms`;
  const summary = [
    `switchover write gap, median over ${trials} trials (min-max):`,
    `  agent (insert every 20 ms, 500 ms connect timeout): ${median(agentGaps)} ms (${range(agentGaps)})`,
    `  persistent client (insert every 50 ms, 1 s connect timeout; ${writes} writes acknowledged): ${median(persistentGaps)} ms (${range(persistentGaps)})`,
    `  command (last primary answer to promoted with the VIP): ${median(commandGaps)} ms (${range(commandGaps)})`,
    `node ${process.version}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${new Date().toISOString().slice(0, 10)}`,
  ].join('\n');
  console.log(`\n${summary}`);
  if (values['update-docs']) {
    await replaceDocsBlock('switchover', [...lines, '', summary].join('\n'));
  }
} finally {
  await netnsLabDown(labDir).catch((error: unknown) => {
    console.error(`lab teardown failed: ${String(error)}`);
  });
  await removeLabParent(dirs);
}

/** Both supervisors' decisions and actions (other than the hand-over) between from and to. */
async function supervisorEvents(
  state: NetnsLabState,
  from: number,
  to: number,
): Promise<{ at: number; what: string }[]> {
  const events: { at: number; what: string }[] = [];
  for (const host of ['host1', 'host2'] as const) {
    for (const line of await readSupervisorLog(state, host)) {
      const at = Date.parse(line.time);
      if (at < from || at > to || line.action === 'hand-over') continue;
      if (line.event === 'decision')
        events.push({ at, what: `${host}: decision ${line.rule ?? ''}` });
      if (line.event === 'action')
        events.push({
          at,
          what: `${host}: ${line.action ?? ''} ${line.result ?? ''} (ended; took ${String(line.durationMs ?? 0)} ms)`,
        });
    }
  }
  return events;
}
