// npm run bench:startup [-- --runs N]: start-to-exit wall time of the built CLI.
// cron and Nagios run skypg every minute, so start-up is a product figure.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { exampleConfig } from '../src/lib/config/example.js';
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
const dir = await mkdtemp(join(tmpdir(), 'skypg-bench-'));
try {
  const config = join(dir, 'skypg.yaml');
  await writeFile(config, exampleConfig);
  const node = process.execPath;
  const timings = [
    timeCommand('node -e 0 (floor)', [node, '-e', '0'], { runs }),
    timeCommand('skypg --version', [node, bin, '--version'], { runs }),
    timeCommand('skypg --help', [node, bin, '--help'], { runs }),
    timeCommand('skypg config check', [node, bin, 'config', 'check', '-c', config], { runs }),
  ];
  const title = `start-up, ${runs} runs after 3 warm-ups; node ${process.version}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${new Date().toISOString().slice(0, 10)}`;
  const table = formatTimings(title, timings);
  console.log(table);
  if (values['update-docs'] === true) await replaceDocsBlock('startup', table);
} finally {
  await rm(dir, { recursive: true, force: true });
}
