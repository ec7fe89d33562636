// Files that matter are replaced atomically: a temp file with an unpredictable name, created
// O_CREAT|O_EXCL|O_NOFOLLOW (so a name someone planted, link or file, makes the open fail
// instead of being followed or reused), fsync, rename over the target, fsync the directory.
// Files in a directory another OS user owns (the data directory) are written AS that user
// (writeFileAtomicAs): the kernel then stops any link that user planted, whatever the race.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SkypgError } from '../common/errors.js';
import { isRoot, runProgram } from '../process/run-program.js';

export interface AtomicWriteOptions {
  mode?: number;
  /** fchown the new file (on its descriptor, never through a path) to this owner. */
  owner?: { uid: number; gid: number };
}

const createFlags =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(12).toString('hex')}.tmp`);
}

export async function writeFileAtomic(
  path: string,
  content: string,
  modeOrOptions: number | AtomicWriteOptions = 0o644,
): Promise<void> {
  const options = typeof modeOrOptions === 'number' ? { mode: modeOrOptions } : modeOrOptions;
  const mode = options.mode ?? 0o644;
  const temp = tempPath(path);
  const handle = await open(temp, createFlags, mode);
  try {
    try {
      await handle.writeFile(content);
      await handle.chmod(mode); // the umask may have narrowed it
      if (options.owner !== undefined) await handle.chown(options.owner.uid, options.owner.gid);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  await syncDirectory(dirname(path));
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Refuses a path that is a symbolic link, naming it and the fix. */
export async function refuseSymlink(path: string, why: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (info?.isSymbolicLink() === true) {
    throw new SkypgError(
      'REFUSED',
      `${path} is a symbolic link: remove it (rm ${path}) and run again`,
      {
        hint: why,
      },
    );
  }
}

// The same steps as writeFileAtomic, run by a Node child as the target user, for each file in
// order; the files come as JSON on stdin. A child (not tee/dd/mv) because only this keeps
// O_EXCL, O_NOFOLLOW, fsync and the rename in one program with no shell; one child for all the
// files because starting it is most of the cost.
const childScript = `
const fs = require('node:fs'), path = require('node:path'), crypto = require('node:crypto');
const c = fs.constants;
for (const { file, content, mode } of JSON.parse(fs.readFileSync(0, 'utf8'))) {
  const temp = path.join(path.dirname(file), '.' + path.basename(file) + '.' + crypto.randomBytes(12).toString('hex') + '.tmp');
  try {
    const fd = fs.openSync(temp, c.O_WRONLY | c.O_CREAT | c.O_EXCL | c.O_NOFOLLOW, mode);
    try { fs.writeFileSync(fd, content); fs.fchmodSync(fd, mode); fs.fsyncSync(fd); }
    finally { fs.closeSync(fd); }
    fs.renameSync(temp, file);
    const dir = fs.openSync(path.dirname(file), c.O_RDONLY | c.O_DIRECTORY);
    try { fs.fsyncSync(dir); } finally { fs.closeSync(dir); }
  } catch (error) {
    fs.rmSync(temp, { force: true });
    process.stderr.write(error.message + '\\n');
    process.exit(1);
  }
}
`;

export interface FileToWrite {
  path: string;
  content: string;
  mode: number;
}

/**
 * writeFileAtomic as OS user `osUser`, file after file (root switching with runuser;
 * in-process when skypg already is that user or is not root). New files belong to that user.
 */
export async function writeFilesAtomicAs(
  osUser: string,
  files: readonly FileToWrite[],
): Promise<void> {
  if (!isRoot() || osUser === 'root') {
    for (const file of files) await writeFileAtomic(file.path, file.content, file.mode);
    return;
  }
  const input = files.map((file) => ({ file: file.path, content: file.content, mode: file.mode }));
  await runProgram(process.execPath, ['-e', childScript], {
    asUser: osUser,
    input: JSON.stringify(input),
    env: { NODE_OPTIONS: '' },
    timeoutMs: 30_000,
  });
}

export function writeFileAtomicAs(
  osUser: string,
  path: string,
  content: string,
  mode = 0o600,
): Promise<void> {
  return writeFilesAtomicAs(osUser, [{ path, content, mode }]);
}
