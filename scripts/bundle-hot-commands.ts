// Part of `npm run build`, after tsc: the commands cron and Nagios start every minute
// (check-lag, check-alive, status) are bundled, with skypg's modules, yaml, pg and @oclif/core,
// into one CommonJS file, dist/bundled/hot.cjs, and V8's code cache of it is written beside it
// (hot.cjs.cache). bin/run.js compiles that file with the cache when one of them runs without a
// terminal (bin/hot-bundle.js), so Node neither resolves nor reads about 300 files nor compiles
// their source: the code cache holds what V8 compiled (docs/benchmarks.md, "Checks").
//
// One file, CommonJS, because Node 20 takes a code cache only through vm.Script, which runs a
// script, not ES modules. dist/commands/ keeps tsc's files: a terminal, --help and every other
// command run them with the @oclif/core package as before, so a process holds one oclif.
import { spawnSync } from 'node:child_process';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

const hotCommands = ['check-lag', 'check-alive', 'status'];

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');
const bundled = join(dist, 'bundled');
// Built beside its place and renamed into it once whole: bin/run.js takes the bundle's path only
// when dist/bundled/commands.json exists, so a build that fails midway leaves none.
const staging = join(dist, 'bundled.new');
await rm(bundled, { recursive: true, force: true });
await rm(staging, { recursive: true, force: true });

// The bundle's one export: what bin/run.js needs to run a command as oclif's execute() would.
const entry = [
  "export { flush, handle } from '@oclif/core';",
  ...hotCommands.map((name, index) => `import command${index} from './commands/${name}.js';`),
  `export const commands = { ${hotCommands.map((name, index) => `'${name}': command${index}`).join(', ')} };`,
].join('\n');

await build({
  stdin: { contents: entry, resolveDir: dist, sourcefile: 'hot-entry.js', loader: 'js' },
  outfile: join(staging, 'hot.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // Class and function names stay what the sources say (errors and --json show some).
  keepNames: true,
  external: [
    // Loaded only on a terminal (status) or when a program runs; the bundle never runs on a
    // terminal (bin/run.js), and a script compiled by vm cannot import() an ES module.
    'chalk',
    'execa',
    // What @oclif/core loads only to run TypeScript sources (bin/dev.js), never from dist/.
    'typescript',
    'ts-node',
    'tsx',
    // Optional back ends of pg that skypg does not use (pg asks for them only on demand).
    'pg-native',
    'pg-cloudflare',
  ],
  // A module that reads import.meta would get an empty object in CommonJS: fail the build.
  logOverride: { 'empty-import-meta': 'error' },
  logLevel: 'warning',
});

// The code cache is written by a plain `node` (no loader hooks, no flags of this script, no
// NODE_OPTIONS), the way cron and sudo run bin/run.js, then read back by another: V8 rejects a
// cache made under other flags or another version, and a rejected cache only costs the
// compile, so a build that cannot make one accepted says so instead of shipping it.
const loader = join(root, 'bin', 'hot-bundle.js');
const bundleFile = join(staging, 'hot.cjs');
const cleanEnv: NodeJS.ProcessEnv = { ...process.env, OCLIF_DISABLE_ENGINE_WARNING: 'true' };
delete cleanEnv.NODE_OPTIONS;
for (const [step, code] of [
  [
    'write',
    `import { loadHotBundle } from ${JSON.stringify(loader)}; loadHotBundle({ writeCache: true, bundleFile: ${JSON.stringify(bundleFile)} });`,
  ],
  [
    'check',
    `import { loadHotBundle } from ${JSON.stringify(loader)}; if (loadHotBundle({ bundleFile: ${JSON.stringify(bundleFile)} }).cacheRejected) { console.error('V8 rejected the code cache'); process.exit(1); }`,
  ],
] as const) {
  // As bin/run.js loads it: the same top level runs, so the same functions are compiled.
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: root,
    encoding: 'utf8',
    env: cleanEnv,
  });
  if (run.status !== 0) {
    throw new Error(
      `the hot bundle's code cache (${step}): ${run.stderr.trim() || `exit ${run.status}`}`,
    );
  }
}
await writeFile(join(staging, 'commands.json'), `${JSON.stringify(hotCommands)}\n`);
await rename(staging, bundled);
