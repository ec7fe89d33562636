// Scratch directories for tests, each marked with the PID of the test process that owns it,
// so that a later run can sweep what a killed run left behind (processes first, then files).
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { anyLabDown as labDown } from '../../src/lib/lab/netns-lab.js';

const prefix = 'skypg-test-';

export async function makeScratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  // PostgreSQL runs as another OS user when the tests run as root: it must enter this dir.
  await chmod(dir, 0o711);
  await writeFile(join(dir, 'owner.pid'), `${process.pid}\n`);
  return dir;
}

/** Removes a scratch dir and every lab inside it. */
export async function removeScratchDir(dir: string): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    if (entry !== 'owner.pid') await labDown(join(dir, entry)).catch(() => undefined);
  }
  await rm(dir, { recursive: true, force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Sweeps scratch dirs whose owning test process is gone, tearing down the labs in them first
 * (either kind: postmasters, and a multi-host lab's namespaces and BMCs, outlive that process).
 */
export async function sweepStaleScratchDirs(): Promise<string[]> {
  const swept: string[] = [];
  for (const entry of await readdir(tmpdir())) {
    if (!entry.startsWith(prefix)) continue;
    const dir = join(tmpdir(), entry);
    const owner = Number((await readFile(join(dir, 'owner.pid'), 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) continue;
    await removeScratchDir(dir);
    swept.push(dir);
  }
  return swept;
}

/** A scratch dir for one describe block: stale ones swept first, this one always removed. */
export function useScratchDir(): () => string {
  let scratch: string | undefined;
  before(async () => {
    await sweepStaleScratchDirs();
    scratch = await makeScratchDir();
  });
  after(async () => {
    if (scratch !== undefined) await removeScratchDir(scratch);
  });
  return () => {
    if (scratch === undefined) throw new Error('no scratch dir (did before() fail?)');
    return scratch;
  };
}
