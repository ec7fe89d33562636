// npm run bench:switchover [-- --runs N] [--update-docs]: the write-unavailability window of `skypg switchover`
// as a client sees it. In the multi-host lab (root), with both supervisors running, a client in
// its own namespace inserts a row through the primary VIP every 20 ms; each run switches over to
// the standby (alternating), and the window is the longest gap between two acknowledged writes
// around it. Prints every run and the median.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClientAgent, startSupervisors } from '../src/lib/lab/lab-cluster.js';
import { waitForHealthyPair } from '../src/lib/lab/sandbox.js';
import { execIn, netnsLabDown, netnsLabUp, type LabHostName } from '../src/lib/lab/netns-lab.js';
import type { SwitchoverResult } from '../src/lib/actions/switchover.js';
import { badFlag, parseBenchArgs, percentile, replaceDocsBlock } from './measure.js';

const { values } = parseBenchArgs({
  runs: { type: 'string', default: '6' },
  'update-docs': { type: 'boolean', default: false },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 5) badFlag('--runs takes an integer of at least 5');

const bin = join(import.meta.dirname, '..', 'bin', 'run.js');

function longestGap(ackTimes: number[], from: number, to: number): number {
  const times = ackTimes.filter((t) => t >= from && t <= to).sort((a, b) => a - b);
  let gap = 0;
  for (let index = 1; index < times.length; index += 1)
    gap = Math.max(gap, (times[index] ?? 0) - (times[index - 1] ?? 0));
  return gap;
}

const scratch = await mkdtemp(join(tmpdir(), 'skypg-bench-'));
await chmod(scratch, 0o711);
const labDir = join(scratch, 'lab');
try {
  const state = await netnsLabUp({ dir: labDir });
  await startSupervisors(state);
  await waitForHealthyPair(state, 'host1', 60_000);
  const agent = await ClientAgent.start(state);
  const windows: number[] = [];
  const lines: string[] = [];
  let primary: LabHostName = 'host1';
  for (let run = 1; run <= runs; run += 1) {
    const target: LabHostName = primary === 'host1' ? 'host2' : 'host1';
    await waitForHealthyPair(state, primary, 60_000);
    await sleep(1000);
    const before = Date.now();
    const result = await execIn(
      state,
      target,
      process.execPath,
      [bin, 'switchover', '--node', target, '--json'],
      { env: { SKYPG_CONFIG: state.configPath }, timeoutMs: 120_000, allowFailure: true },
    );
    if (result.exitCode !== 0) throw new Error(`run ${run}: ${result.stdout}${result.stderr}`);
    const parsed = JSON.parse(result.stdout) as SwitchoverResult;
    await sleep(1500);
    const report = agent.report();
    const ackTimes = report.acked.map((id) => report.ackTimes.get(id) ?? 0);
    const window = longestGap(ackTimes, before, Date.now());
    windows.push(window);
    const line = `run ${run}: ${primary} -> ${target}: client saw writes refused for ${window} ms (command: ${String(parsed.writesRefusedMs)} ms; total ${parsed.totalMs} ms)`;
    lines.push(line);
    console.log(line);
    primary = target;
  }
  const final = await agent.stop();
  const sorted = [...windows].sort((a, b) => a - b);
  const summary = `switchover write-unavailability window over ${runs} runs (client inserting every 20 ms through the primary VIP; ${final.acked.length} writes acknowledged): median ${percentile(sorted, 0.5)} ms, min ${sorted[0] ?? NaN} ms, max ${sorted.at(-1) ?? NaN} ms; node ${process.version}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${new Date().toISOString().slice(0, 10)}`;
  console.log(`\n${summary}`);
  if (values['update-docs']) {
    await replaceDocsBlock('switchover', [...lines, '', summary].join('\n'));
  }
} finally {
  await netnsLabDown(labDir).catch((error: unknown) => {
    console.error(`lab teardown failed: ${String(error)}`);
  });
  await rm(scratch, { recursive: true, force: true });
}
