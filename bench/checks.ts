// npm run bench:checks [-- --runs N] [-- --update-docs]: start-to-exit wall time of the checks
// cron and Nagios run every minute, against a real loopback pair built for the purpose.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { labDown, labUp } from '../src/lib/lab/loopback-pair.js';
import {
  badFlag,
  formatTimings,
  parseBenchArgs,
  replaceDocsBlock,
  timeCommand,
} from './measure.js';

const { values } = parseBenchArgs({
  runs: { type: 'string', default: '30' },
  'update-docs': { type: 'boolean' },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) badFlag('--runs takes a positive integer');

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
  const timings = [
    // The floor and oclif's own start-up, measured in the same minutes: a machine slower or
    // busier than the last run shows in them too.
    timeCommand('node -e 0 (floor)', [node, '-e', '0'], { runs }),
    timeCommand('skypg --version', skypg('--version'), { runs }),
    timeCommand('check-lag (primary)', skypg('check-lag', '--node', 'host1'), options),
    timeCommand('check-lag (standby)', skypg('check-lag', '--node', 'host2'), options),
    timeCommand('probe host1', skypg('probe', 'host1'), options),
    timeCommand('probe host1 --sql', skypg('probe', 'host1', '--sql'), options),
    timeCommand('status', skypg('status'), options),
  ];
  const title = `checks against a loopback pair, ${runs} runs after 3 warm-ups; node ${process.version}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, PostgreSQL from ${lab.binDir}, ${new Date().toISOString().slice(0, 10)}`;
  const table = formatTimings(title, timings);
  console.log(table);
  if (values['update-docs'] === true) await replaceDocsBlock('checks', table);
} finally {
  await labDown(labDir);
  await rm(scratch, { recursive: true, force: true });
}
