// npm run bench:failover [-- --trials N] [--fault kill|poweroff|partition|freeze|all] [--mode async|sync]
// [--heartbeat-timeout DUR] [--confirm-timeout DUR] [--json FILE] [--dir DIR] [--update-docs]:
// failover times in the multi-host lab, both supervisors at default settings (or those two
// changed), a client writing through the primary VIP every 20 ms and a
// second one writing with psql through `skypg connstring`'s multi-host URI (no VIP).
import { writeFile } from 'node:fs/promises';
import { startSupervisors } from '../src/lib/lab/lab-cluster.js';
import { startLabHaproxy, type LabHaproxy } from '../src/lib/lab/lab-haproxy.js';
import type { NetnsLabState } from '../src/lib/lab/netns-lab.js';
import { badFlag, hasDocsBlock, parseBenchArgs, replaceDocsBlock } from './measure.js';
import {
  faultDescriptions,
  faults,
  runSeries,
  type Fault,
  type Mode,
  type TrialResult,
} from './lib/failover-trial.js';
import { formatSummary, summarise, trialHeader, trialRow } from './lib/failover-report.js';
import { labReadWriteUri } from './lib/uri-writer.js';
import {
  buildLab,
  describeMachine,
  labParent,
  machineLine,
  removeLabParent,
  tearDown,
  tuningFlags,
  tuningLine,
  tuningOf,
  isTuned,
  TuningRefused,
} from './lib/lab-run.js';

const { values } = parseBenchArgs({
  trials: { type: 'string', default: '10' },
  fault: { type: 'string', default: 'all' },
  mode: { type: 'string', default: 'async' },
  json: { type: 'string' },
  dir: { type: 'string' },
  'update-docs': { type: 'boolean' },
  ...tuningFlags,
});
const trials = Number(values.trials);
if (!Number.isInteger(trials) || trials < 1) badFlag('--trials takes a positive integer');
const chosen: Fault[] =
  values.fault === 'all'
    ? [...faults]
    : faults.includes(values.fault as Fault)
      ? [values.fault as Fault]
      : [];
if (chosen.length === 0) badFlag('--fault takes kill, poweroff, partition, freeze or all');
if (values.mode !== 'async' && values.mode !== 'sync') badFlag('--mode takes async or sync');
const mode: Mode = values.mode;
const tuning = tuningOf(values);
// A run of one fault has its own block: it must not replace the record of all of them; a tuned
// run has its own too, since it is not a run at default settings.
const docsBlock = `failover-${mode}${values.fault === 'all' ? '' : `-${values.fault}`}${isTuned(tuning) ? '-tuned' : ''}`;
if (values['update-docs'] === true && !(await hasDocsBlock(docsBlock))) {
  badFlag(
    `docs/benchmarks.md has no bench:${docsBlock} block for --update-docs; add its markers first`,
  );
}

const dirs = await labParent(values.dir);
const results: TrialResult[] = [];
let machine;
let uri: string | undefined;
let refused: string | undefined;
try {
  for (const fault of chosen) {
    console.log(`\n${fault}: ${faultDescriptions[fault]} (${mode} replication, ${trials} trials)`);
    console.log(trialHeader());
    let next = 1;
    let labs = 0;
    while (next <= trials && labs < 3) {
      labs += 1;
      // A fresh lab per fault, and again after a failed trial (the pair may be broken).
      const state: NetnsLabState = await buildLab(dirs.parent, mode, tuning);
      machine ??= await describeMachine(state.binDir);
      if (uri === undefined) {
        uri = await labReadWriteUri(state);
        console.log(`URI writer: psql ${uri}`);
      }
      let haproxy: LabHaproxy | undefined;
      try {
        await startSupervisors(state);
        haproxy = await startLabHaproxy(state);
        const series = await runSeries(state, {
          haproxy,
          fault,
          mode,
          firstTrial: next,
          lastTrial: trials,
          onTrial: (result) => {
            console.log(trialRow(result));
          },
        });
        results.push(...series.results);
        next += series.results.length;
      } finally {
        haproxy?.stop();
        await tearDown(state);
      }
    }
  }
} catch (error) {
  if (!(error instanceof TuningRefused)) throw error;
  refused = error.message;
} finally {
  await removeLabParent(dirs);
}
if (refused !== undefined) badFlag(refused);
if (machine === undefined) throw new Error('no lab was built');

const title = `failover in the multi-host lab, ${mode} replication, supervisors at ${tuningLine(tuning)}; ${machineLine(machine)}`;
const summary = formatSummary(results);
const uriLine = `URI writer: psql ${uri ?? '?'}`;
console.log(`\n${title}\n${uriLine}\n${summary}`);
if (values.json !== undefined) {
  const report = {
    machine,
    mode,
    trials,
    faults: chosen,
    uri,
    results,
    summary: summarise(results),
  };
  await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${values.json}`);
}
if (values['update-docs'] === true) {
  const rows = [trialHeader(), ...results.map(trialRow)].join('\n');
  await replaceDocsBlock(docsBlock, `${title}\n${uriLine}\n\n${summary}\n\n${rows}`);
}
const broken = results.filter(
  (result) => result.error !== undefined || result.splitBrainSamples > 0,
);
if (broken.length > 0) {
  console.error(`${broken.length} trials failed or saw two writable primaries`);
  process.exitCode = 1;
}
