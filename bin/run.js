#!/usr/bin/env node
// Production entry: compiled commands from dist/ and the manifest generated at build time.
import { existsSync, readFileSync } from 'node:fs';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

// The checks cron and Nagios start every minute are also bundled into one file with their own
// copy of @oclif/core and V8's code cache of it (scripts/bundle-hot-commands.ts). Run without a
// terminal, as cron, NRPE and scripts run them, they come from there (bin/hot-bundle.js); on a
// terminal, or with --help, from dist/commands/ with the package, like every other command, so
// that a process holds one oclif. A bundled command is the first word with no word after it:
// oclif takes the command id from the leading words (`status extra` is looked up as
// `status:extra`, and the command_not_found hook, built against the package, answers).
const [firstWord, nextArgument] = process.argv.slice(2);
const arguments_ = process.argv.slice(3);
const beforeDoubleDash = arguments_.includes('--')
  ? arguments_.slice(0, arguments_.indexOf('--'))
  : arguments_;
const runsBundled =
  firstWord !== undefined &&
  (nextArgument === undefined || nextArgument.startsWith('-')) &&
  !beforeDoubleDash.some((argument) => argument === '--help' || argument === '-h') &&
  process.stdout.isTTY !== true &&
  bundledCommands().includes(firstWord) &&
  // Without the manifest (a build under way or failed) oclif imports every command file to
  // find the commands, which a script compiled by vm cannot do.
  existsSync(new URL('../oclif.manifest.json', import.meta.url));

// On load, @oclif/core checks that Node satisfies its own engines range (>= 18), and loading
// semver for that is about a fifth of its import. skypg's engines range (>= 20.12) is narrower,
// so the warning can never fire on a Node skypg runs on: skip it, and leave the environment as
// it was so that no program skypg starts inherits the setting.
const engineCheckSetting = process.env.OCLIF_DISABLE_ENGINE_WARNING;
process.env.OCLIF_DISABLE_ENGINE_WARNING = 'true';
const bundle = runsBundled ? await loadBundle() : undefined;
// CommonJS seen from here: its default export is the module's exports.
const oclif = bundle ?? (await import('@oclif/core')).default;
if (engineCheckSetting === undefined) delete process.env.OCLIF_DISABLE_ENGINE_WARNING;
else process.env.OCLIF_DISABLE_ENGINE_WARNING = engineCheckSetting;

if (bundle !== undefined) {
  // What execute() does for a command it found in the manifest: Command.run loads the same
  // configuration, then errors and the flush of output end as execute() ends them. skypg has no
  // init, prerun or postrun hooks that this would skip.
  const command = oclif.commands[firstWord];
  command.id = firstWord;
  await command
    .run(arguments_, fileURLToPath(import.meta.url))
    .then(async () => oclif.flush())
    .catch(async (error) => oclif.handle(error));
} else {
  await oclif.execute({ dir: import.meta.url });
}

/**
 * The bundle's exports, or nothing when it cannot be loaded (a damaged install): the package
 * then runs the command, a little slower, rather than a check failing with a stack trace.
 */
async function loadBundle() {
  try {
    return (await import('./hot-bundle.js')).loadHotBundle().exports;
  } catch {
    return undefined;
  }
}

/** The command ids the build bundled; none when dist/ was built without the bundle step. */
function bundledCommands() {
  try {
    return JSON.parse(
      readFileSync(new URL('../dist/bundled/commands.json', import.meta.url), 'utf8'),
    );
  } catch {
    return [];
  }
}
