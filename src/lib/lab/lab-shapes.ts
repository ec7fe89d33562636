// The deployment shapes the multi-host lab can build besides its own, so that tests see the
// pairs operators have, not only ours: the example configuration as printed, a pair built by
// hand as the manual procedure builds it, and Debian's layout (configuration out of the data
// directory). Each shape is what the lab writes differently; the network and BMCs are the same.
import { chown, copyFile, mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { exampleConfig } from '../config/example.js';
import { SkypgError } from '../common/errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import type { LabServer, OwnerIds } from './lab-support.js';

export const labShapes = ['lab', 'example', 'by-hand', 'debian'] as const;
export type LabShape = (typeof labShapes)[number];

/** What the example needs filled in for one host: only paths (its addresses are the lab's). */
export interface ExampleHostPaths {
  dataDir: string;
  socketDir: string;
  fencePasswordFile: string;
}

/**
 * `skypg config example` with only the paths filled in (pure). Every path it replaces must be
 * there: when the example changes, this fails loudly instead of testing a config nobody prints.
 */
export function exampleWithPaths(
  paths: { binDir: string; stateDir: string; hosts: [ExampleHostPaths, ExampleHostPaths] },
  example = exampleConfig,
): string {
  let text = example;
  const swap = (from: RegExp, to: string, what: string): void => {
    if (!from.test(text)) {
      throw new SkypgError('LAB_FAILED', `the example configuration has no ${what} any more`, {
        hint: 'update src/lib/lab/lab-shapes.ts to the new example',
      });
    }
    text = text.replace(from, to);
  };
  swap(/bin_dir: \S+/, `bin_dir: ${paths.binDir}`, 'postgres.bin_dir');
  for (const [index, host] of paths.hosts.entries()) {
    // Each host its own socket directory: the lab's hosts share one filesystem.
    swap(
      /\n( {4})data_dir: \/var\/lib\/postgresql\/15\/main\n/,
      `\n$1data_dir: ${host.dataDir}\n$1postgres: { socket_dir: ${host.socketDir} }\n`,
      `data_dir of nodes[${index}]`,
    );
    swap(
      new RegExp(`password_file: /etc/skypg/host${index + 1}\\.ipmi`),
      `password_file: ${host.fencePasswordFile}`,
      `fence password_file of nodes[${index}]`,
    );
  }
  swap(
    /state_file: \/run\/skypg\/\{cluster\}-\{node\}\.json/,
    `state_file: ${paths.stateDir}/{node}/supervisor-state.json`,
    'supervisor.state_file',
  );
  return text;
}

/** The primary's postgresql.conf lines of a pair built by hand as the manual procedure does. */
export const byHandServerSettings = `
# built by hand, as the manual procedure does
logging_collector = on
archive_mode = on
`;

/**
 * Each host's own archive lines (in its node.conf: the base backup would copy them otherwise):
 * it archives to its own directory and restores from its peer's, as the procedure does.
 */
export function byHandArchiveSettings(ownArchive: string, peerArchive: string): string {
  return `archive_command = 'test ! -f ${ownArchive}/%f && cp %p ${ownArchive}/%f'
restore_command = 'cp ${peerArchive}/%f %p'
`;
}

/**
 * Moves postgresql.conf, pg_hba.conf and pg_ident.conf out of the data directory into
 * `configDir`, pointing them back at the data directory as pg_createcluster does, with a
 * start.conf of manual (the supervisor starts the server, not the postgresql@ unit).
 */
export async function moveToDebianLayout(
  server: LabServer & { configDir: string },
  owner: OwnerIds,
): Promise<void> {
  await mkdir(server.configDir, { recursive: true, mode: 0o755 });
  await chown(server.configDir, owner.uid, owner.gid);
  for (const file of ['postgresql.conf', 'pg_hba.conf', 'pg_ident.conf']) {
    await rename(join(server.dataDir, file), join(server.configDir, file));
  }
  await appendDebianPaths(server, owner);
}

/** The standby's configuration directory: a copy of the primary's, pointed at its own data. */
export async function copyDebianConfig(
  from: { configDir: string },
  to: LabServer & { configDir: string },
  owner: OwnerIds,
): Promise<void> {
  await mkdir(to.configDir, { recursive: true, mode: 0o755 });
  await chown(to.configDir, owner.uid, owner.gid);
  for (const file of ['pg_hba.conf', 'pg_ident.conf']) {
    await copyFile(join(from.configDir, file), join(to.configDir, file));
    await chown(join(to.configDir, file), owner.uid, owner.gid);
  }
  const primaryConf = await readFile(join(from.configDir, 'postgresql.conf'), 'utf8');
  const marker = primaryConf.indexOf(debianMarker);
  await writeFileAtomic(
    join(to.configDir, 'postgresql.conf'),
    marker === -1 ? primaryConf : primaryConf.slice(0, marker),
  );
  await appendDebianPaths(to, owner);
}

const debianMarker = '\n# Debian layout: the data directory and the files kept beside this one\n';

async function appendDebianPaths(
  server: LabServer & { configDir: string },
  owner: OwnerIds,
): Promise<void> {
  const conf = join(server.configDir, 'postgresql.conf');
  const text = await readFile(conf, 'utf8');
  await writeFileAtomic(
    conf,
    `${text}${debianMarker}data_directory = '${server.dataDir}'
hba_file = '${join(server.configDir, 'pg_hba.conf')}'
ident_file = '${join(server.configDir, 'pg_ident.conf')}'
`,
  );
  await writeFileAtomic(join(server.configDir, 'start.conf'), 'manual\n');
  for (const file of ['postgresql.conf', 'start.conf']) {
    await chown(join(server.configDir, file), owner.uid, owner.gid);
  }
}
