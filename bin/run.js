#!/usr/bin/env node
// Production entry: compiled commands from dist/ and the manifest generated at build time.
import process from 'node:process';

// On load, @oclif/core checks that Node satisfies its own engines range (>= 18), and loading
// semver for that is about a fifth of its import. skypg's engines range (>= 20.12) is narrower,
// so the warning can never fire on a Node skypg runs on: skip it, and leave the environment as
// it was so that no program skypg starts inherits the setting.
const engineCheckSetting = process.env.OCLIF_DISABLE_ENGINE_WARNING;
process.env.OCLIF_DISABLE_ENGINE_WARNING = 'true';
const { execute } = await import('@oclif/core');
if (engineCheckSetting === undefined) delete process.env.OCLIF_DISABLE_ENGINE_WARNING;
else process.env.OCLIF_DISABLE_ENGINE_WARNING = engineCheckSetting;

await execute({ dir: import.meta.url });
