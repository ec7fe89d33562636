// npm run bench:checks [-- --runs N] [--baseline DIR] [--update-docs]: start-to-exit wall time of
// the checks cron and Nagios run every minute, against a real loopback pair built for the
// purpose. --baseline DIR (another build: its bin/run.js) runs each check alternately with it.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { labDown, labUp } from '../src/lib/lab/loopback-pair.js';
import {
  badFlag,
  formatTimings,
  parseBenchArgs,
  replaceDocsBlock,
  timeCommand,
  timePaired,
  type Timing,
} from './measure.js';

const { values } = parseBenchArgs({
  runs: { type: 'string', default: '30' },
  baseline: { type: 'string' },
  'update-docs': { type: 'boolean' },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) badFlag('--runs takes a positive integer');
const baselineBin =
  values.baseline === undefined ? undefined : join(resolve(values.baseline), 'bin', 'run.js');
if (baselineBin !== undefined && !existsSync(baselineBin)) {
  badFlag(`--baseline ${values.baseline ?? ''} has no bin/run.js: give the directory of a build`);
}
if (baselineBin !== undefined && values['update-docs'] === true) {
  badFlag('--baseline is a comparison, not a record: run it without --update-docs');
}

const bin = join(import.meta.dirname, '..', 'bin', 'run.js');
const scratch = await mkdtemp(join(tmpdir(), 'skypg-bench-'));
await chmod(scratch, 0o711);
const labDir = join(scratch, 'lab');
try {
  const lab = await labUp({ dir: labDir });
  const env = { ...process.env, SKYPG_CONFIG: lab.configPath };
  const node = process.execPath;
  const skypg = (...args: string[]): string[] => [node, bin, ...args];
  const options = { runs, env };
  const checks: [string, string[]][] = [
    ['check-lag (primary)', ['check-lag', '--node', 'host1']],
    ['check-lag (standby)', ['check-lag', '--node', 'host2']],
    ['probe host1', ['probe', 'host1']],
    ['probe host1 --sql', ['probe', 'host1', '--sql']],
    ['status', ['status']],
  ];
  const timeCheck = (name: string, args: string[]): Timing[] =>
    baselineBin === undefined
      ? [timeCommand(name, skypg(...args), options)]
      : timePaired(
          [name, `${name} [baseline]`],
          [skypg(...args), [node, baselineBin, ...args]],
          options,
        );
  const timings = [
    // The floor and oclif's own start-up, measured in the same minutes: a machine slower or
    // busier than the last run shows in them too.
    timeCommand('node -e 0 (floor)', [node, '-e', '0'], { runs }),
    timeCommand('skypg --version', skypg('--version'), { runs }),
    ...checks.flatMap(([name, args]) => timeCheck(name, args)),
  ];
  const title = `checks against a loopback pair, ${runs} runs after 3 warm-ups${baselineBin === undefined ? '' : `, each run alternating with the build in ${values.baseline ?? ''}`}; node ${process.version}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, PostgreSQL from ${lab.binDir}, ${new Date().toISOString().slice(0, 10)}`;
  const table = formatTimings(title, timings);
  console.log(table);
  if (values['update-docs'] === true) await replaceDocsBlock('checks', table);
} finally {
  await labDown(labDir);
  await rm(scratch, { recursive: true, force: true });
}
