// Part of `npm run build`, after tsc: the commands cron and Nagios start every minute
// (check-lag, check-alive, status) are each replaced in dist/commands/ by an ES module that,
// with shared chunks in dist/bundled/, holds skypg's own modules, yaml, pg and @oclif/core.
// Node then reads about 40 files instead of about 300 on every start, and resolves no package
// paths for them (docs/benchmarks.md, "Checks").
//
// @oclif/core must be one copy per process (the commands extend its Command, bin/run.js runs
// them): dist/bundled/oclif-core.js is an entry of the same build, so it and the commands share
// one chunk of it, and bin/run.js loads that file instead of the package when the command is
// one of those listed in dist/bundled/commands.json. Every other command runs as before.
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

const hotCommands = ['check-lag', 'check-alive', 'status'];

const dist = join(import.meta.dirname, '..', 'dist');
const staging = await mkdtemp(join(tmpdir(), 'skypg-bundle-'));
try {
  await build({
    entryPoints: [
      ...hotCommands.map((name) => ({
        in: join(dist, 'commands', `${name}.js`),
        out: join('commands', name),
      })),
      { in: createRequire(import.meta.url).resolve('@oclif/core'), out: 'bundled/oclif-core' },
    ],
    outdir: staging,
    chunkNames: 'bundled/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Class and function names stay what the sources say (errors and --json show some).
    keepNames: true,
    external: [
      // Loaded only on a terminal (status) or when a program runs; they stay lazy as they are.
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
    // The CommonJS packages call require() and read __dirname, which an ES module lacks.
    banner: {
      js: [
        "import { createRequire as createRequireOfBundle } from 'node:module';",
        "import { dirname as dirnameOfBundle } from 'node:path';",
        "import { fileURLToPath as fileURLToPathOfBundle } from 'node:url';",
        'const require = createRequireOfBundle(import.meta.url);',
        'const __filename = fileURLToPathOfBundle(import.meta.url);',
        'const __dirname = dirnameOfBundle(__filename);',
      ].join('\n'),
    },
    logLevel: 'warning',
  });
  await writeFile(join(staging, 'bundled', 'commands.json'), `${JSON.stringify(hotCommands)}\n`);
  await cp(staging, dist, { recursive: true });
} finally {
  await rm(staging, { recursive: true, force: true });
}
