// The checks cron and Nagios start every minute run from the build's bundle with V8's code cache
// when no terminal is attached, and from dist/commands/ with the @oclif/core package on one
// (bin/run.js). Both paths must give the same answers, and the fast one must really be taken.
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { runCapturing, runSkypg, skypgBin, type CliRun } from '../support/cli.js';

const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const hotBundleLoader = join(projectRoot, 'bin', 'hot-bundle.js');

const run = (file: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> =>
  runCapturing(file, args, { env });

/** skypg on a pseudo-terminal (util-linux `script`): stdout and stderr both come back as stdout. */
function runOnTerminal(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const command = [process.execPath, skypgBin, ...args].map((word) => `'${word}'`).join(' ');
  return run('script', ['-qec', command, '/dev/null'], env);
}

// NODE_DEBUG=module makes Node's CommonJS loader log every require: the package path loads
// node_modules/@oclif/core, the bundle only Node's own modules.
const loadsOclifPackage = (log: string): boolean => log.includes('node_modules/@oclif/core/');

const missingConfig = ['check-lag', '--config', '/nonexistent/skypg.yaml'];
const missingConfigLine =
  "SKYPG_LAG UNKNOWN - config file /nonexistent/skypg.yaml does not exist (hint: pass --config FILE or set SKYPG_CONFIG; 'skypg config example' prints a starting point)";

describe('the checks bundle (dist/bundled/hot.cjs)', () => {
  it("loads with the build's code cache accepted, and holds the three checks", async () => {
    const code = `import { loadHotBundle } from ${JSON.stringify(hotBundleLoader)};
const { exports, cacheRejected } = loadHotBundle();
console.log(JSON.stringify({ cacheRejected, commands: Object.keys(exports.commands) }));`;
    const loaded = await run(process.execPath, ['--input-type=module', '-e', code]);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.deepEqual(JSON.parse(loaded.stdout), {
      cacheRejected: false,
      commands: ['check-lag', 'check-alive', 'status'],
    });
  });

  it('runs check-lag without a terminal, and the package on one, with the same answer', async () => {
    const piped = await runSkypg(missingConfig, { env: { NODE_DEBUG: 'module' } });
    assert.equal(piped.code, 3);
    assert.equal(piped.stdout, `${missingConfigLine}\n`);
    assert.ok(piped.stderr.includes('dist/bundled/hot.cjs'), 'the bundle was not loaded');
    assert.ok(!loadsOclifPackage(piped.stderr), 'the @oclif/core package was loaded too');

    const onTerminal = await runOnTerminal(missingConfig, { NODE_DEBUG: 'module' });
    assert.equal(onTerminal.code, 3, onTerminal.stdout);
    assert.ok(onTerminal.stdout.includes(missingConfigLine), onTerminal.stdout);
    assert.ok(loadsOclifPackage(onTerminal.stdout), 'the package was not loaded on a terminal');
    assert.ok(!onTerminal.stdout.includes('dist/bundled/hot.cjs'), 'the bundle ran on a terminal');
  });

  it('leaves --help to the package', async () => {
    // A word after the command goes to the package too: status.integration.test.ts runs
    // `status extra` (the command_not_found hook answers from the package).
    const help = await runSkypg(['check-lag', '--help'], { env: { NODE_DEBUG: 'module' } });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Nagios\/NRPE check of replication lag/);
    assert.ok(loadsOclifPackage(help.stderr), '--help did not run from the package');
  });

  it('an unknown flag is the same one UNKNOWN line on both paths', async () => {
    const args = ['check-alive', '--no-such-flag'];
    const piped = await runSkypg(args);
    const onTerminal = await runOnTerminal(args);
    assert.equal(piped.code, 3, piped.stderr);
    assert.equal(onTerminal.code, 3, onTerminal.stdout);
    assert.match(piped.stdout, /^SKYPG_ALIVE UNKNOWN - Nonexistent flag: --no-such-flag/);
    assert.equal(onTerminal.stdout.replaceAll('\r\n', '\n'), piped.stdout);
  });

  it('a cache made for another source of the same length is not used (V8 would run it)', async () => {
    // V8 compares a cache's source length, not its text: the loader must compare the text.
    const scratch = await mkdtemp(join(tmpdir(), 'skypg-hot-cache-'));
    try {
      const bundleFile = join(scratch, 'hot.cjs');
      const load = async (writeCache: boolean): Promise<unknown> => {
        const code = `import { loadHotBundle } from ${JSON.stringify(hotBundleLoader)};
const { exports, cacheRejected } = loadHotBundle({ writeCache: ${String(writeCache)}, bundleFile: ${JSON.stringify(bundleFile)} });
console.log(JSON.stringify({ word: exports.word(), cacheRejected }));`;
        const loaded = await run(process.execPath, ['--input-type=module', '-e', code]);
        assert.equal(loaded.code, 0, loaded.stderr);
        return JSON.parse(loaded.stdout);
      };
      await writeFile(bundleFile, 'module.exports.word = function () { return "AAAA"; };\n');
      await load(true);
      assert.deepEqual(await load(false), { word: 'AAAA', cacheRejected: false });
      await writeFile(bundleFile, 'module.exports.word = function () { return "BBBB"; };\n');
      assert.deepEqual(await load(false), { word: 'BBBB', cacheRejected: true });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('an install without the manifest, or with a damaged bundle, runs the check from the package', async () => {
    // A build under way (the manifest is written last) or a damaged file: one UNKNOWN line on
    // stdout as always, nothing on stderr, never a stack trace.
    const copy = await mkdtemp(join(tmpdir(), 'skypg-hot-install-'));
    try {
      for (const entry of ['bin', 'dist', 'package.json']) {
        await cp(join(projectRoot, entry), join(copy, entry), { recursive: true });
      }
      await symlink(join(projectRoot, 'node_modules'), join(copy, 'node_modules'));
      const check = (): Promise<CliRun> =>
        run(process.execPath, [join(copy, 'bin', 'run.js'), ...missingConfig]);

      const withoutManifest = await check();
      assert.equal(withoutManifest.code, 3, withoutManifest.stderr);
      assert.equal(withoutManifest.stdout, `${missingConfigLine}\n`);
      assert.equal(withoutManifest.stderr, '');

      await cp(join(projectRoot, 'oclif.manifest.json'), join(copy, 'oclif.manifest.json'));
      await writeFile(join(copy, 'dist', 'bundled', 'hot.cjs'), 'throw new Error("damaged");\n');
      const damaged = await check();
      assert.equal(damaged.code, 3, damaged.stderr);
      assert.equal(damaged.stdout, `${missingConfigLine}\n`);
      assert.equal(damaged.stderr, '');
    } finally {
      await rm(copy, { recursive: true, force: true });
    }
  });
});
