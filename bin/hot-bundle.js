// Loads dist/bundled/hot.cjs, the checks cron and Nagios start every minute bundled into one
// CommonJS file by the build (scripts/bundle-hot-commands.ts), compiled with the V8 code cache
// the build wrote beside it: a start then skips compiling about a megabyte of JavaScript.
//
// V8 takes a cache for a source of the same length made by the same version with the same
// flags; it does not compare the text, and runs what the cache holds. So the cache file starts
// with the SHA-256 of the source it was made from, and is used only for that source: an edit of
// hot.cjs of the same length (a hotfix) is compiled from its text, not replaced by the old code.
// The cache is as trusted as the code: the build writes both into dist/.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath, URL } from 'node:url';
import { Script } from 'node:vm';

const defaultBundleFile = fileURLToPath(new URL('../dist/bundled/hot.cjs', import.meta.url));
const digestBytes = 32;

/**
 * Runs the bundle as Node runs a CommonJS module (the same five arguments) and returns its
 * exports, and whether the cache went unused (none, made for another source, or rejected by
 * V8). `writeCache` (the build) compiles without the cache and writes a new one once the
 * bundle's top level has run. `bundleFile` is for tests.
 * @param {{ writeCache?: boolean, bundleFile?: string }} [options]
 * @returns {{ exports: Record<string, unknown>, cacheRejected: boolean }}
 */
export function loadHotBundle({ writeCache = false, bundleFile = defaultBundleFile } = {}) {
  const cacheFile = `${bundleFile}.cache`;
  const sourceBytes = readFileSync(bundleFile);
  const digest = createHash('sha256').update(sourceBytes).digest();
  const cachedData = writeCache ? undefined : cacheFor(cacheFile, digest);
  const script = new Script(
    `(function (exports, require, module, __filename, __dirname) {${sourceBytes.toString('utf8')}\n})`,
    { filename: bundleFile, cachedData },
  );
  const bundle = { exports: {} };
  script.runInThisContext()(
    bundle.exports,
    createRequire(bundleFile),
    bundle,
    bundleFile,
    dirname(bundleFile),
  );
  if (writeCache) writeFileSync(cacheFile, Buffer.concat([digest, script.createCachedData()]));
  return {
    exports: bundle.exports,
    cacheRejected: cachedData === undefined || script.cachedDataRejected === true,
  };
}

/** The V8 data of the cache file when it was made for the source of `digest`, else nothing. */
function cacheFor(cacheFile, digest) {
  let cache;
  try {
    cache = readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  if (cache.length <= digestBytes || !cache.subarray(0, digestBytes).equals(digest)) {
    return undefined;
  }
  return cache.subarray(digestBytes);
}
