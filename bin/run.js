#!/usr/bin/env node
// Production entry: compiled commands from dist/ and the manifest generated at build time.
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

// The commands cron and Nagios start every minute are bundled with their own copy of
// @oclif/core (scripts/bundle-hot-commands.ts): for those, load that copy, so that the process
// holds one; for anything else, the package. oclif takes the command id from the leading words
// (`status extra` is looked up as `status:extra`, and then the command_not_found hook, built
// against the package, answers), so a bundled command is the first word and no word follows it.
const bundledOclif = new URL('../dist/bundled/oclif-core.js', import.meta.url);
const [firstWord, nextArgument] = process.argv.slice(2);
const runsBundled =
  firstWord !== undefined &&
  bundledCommands().includes(firstWord) &&
  (nextArgument === undefined || nextArgument.startsWith('-'));
const oclifModule = runsBundled ? bundledOclif.href : '@oclif/core';

// On load, @oclif/core checks that Node satisfies its own engines range (>= 18), and loading
// semver for that is about a fifth of its import. skypg's engines range (>= 20.12) is narrower,
// so the warning can never fire on a Node skypg runs on: skip it, and leave the environment as
// it was so that no program skypg starts inherits the setting.
const engineCheckSetting = process.env.OCLIF_DISABLE_ENGINE_WARNING;
process.env.OCLIF_DISABLE_ENGINE_WARNING = 'true';
// Both are CommonJS seen from here: their default export is the module's exports.
const { execute } = (await import(oclifModule)).default;
if (engineCheckSetting === undefined) delete process.env.OCLIF_DISABLE_ENGINE_WARNING;
else process.env.OCLIF_DISABLE_ENGINE_WARNING = engineCheckSetting;

await execute({ dir: import.meta.url });

/** The command ids the build bundled; none when dist/ was built without the bundle step. */
function bundledCommands() {
  try {
    return JSON.parse(readFileSync(new URL('commands.json', bundledOclif), 'utf8'));
  } catch {
    return [];
  }
}
