// Loads dist/bundled/hot.cjs, the checks cron and Nagios start every minute bundled into one
// CommonJS file by the build (scripts/bundle-hot-commands.ts), compiled with the V8 code cache
// the build wrote beside it: a start then skips compiling about a megabyte of JavaScript.
//
// The cache is as trusted as the code: both are written by the build into dist/, and whoever can
// write one can write the other. V8 checks that a cache was made for this source, this version
// and these flags, and rejects it otherwise; the source is then compiled as usual.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath, URL } from 'node:url';
import { Script } from 'node:vm';

const bundleFile = fileURLToPath(new URL('../dist/bundled/hot.cjs', import.meta.url));
const cacheFile = `${bundleFile}.cache`;

/**
 * Runs the bundle as Node runs a CommonJS module (the same five arguments) and returns its
 * exports, and whether V8 rejected the cache. `writeCache` (the build) compiles without the
 * cache and writes a new one once the bundle's top level has run.
 * @param {{ writeCache?: boolean }} [options]
 * @returns {{ exports: Record<string, unknown>, cacheRejected: boolean }}
 */
export function loadHotBundle({ writeCache = false } = {}) {
  const source = readFileSync(bundleFile, 'utf8');
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname) {${source}\n})`,
    { filename: bundleFile, cachedData: writeCache ? undefined : readCache() },
  );
  const bundle = { exports: {} };
  script.runInThisContext()(
    bundle.exports,
    createRequire(bundleFile),
    bundle,
    bundleFile,
    dirname(bundleFile),
  );
  if (writeCache) writeFileSync(cacheFile, script.createCachedData());
  return { exports: bundle.exports, cacheRejected: script.cachedDataRejected === true };
}

/** The cache, or nothing when the build wrote none (the source is compiled then). */
function readCache() {
  try {
    return readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}
