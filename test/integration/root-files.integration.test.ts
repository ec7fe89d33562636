// Files skypg writes as root, against a postgres user that plants links (security review C2,
// M2, M5, L3): a real loopback pair's data directories, real pg_hba reloads. Each exploit is
// reproduced first; the assertions say what must not happen to the victim files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmod,
  lstat,
  mkdir,
  readFile,
  readdir,
  readlink,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { NodeConfig } from '../../src/lib/config/types.js';
import { checkStateDir } from '../../src/lib/doctor/host-checks.js';
import { surveyNodes, type DoctorContext } from '../../src/lib/doctor/context.js';
import { checkHba, hbaFix } from '../../src/lib/doctor/pg-checks.js';
import { writeFileAtomic, writeFileAtomicAs } from '../../src/lib/fs/atomic-write.js';
import { localTarget, withConnection } from '../../src/lib/pg/connect.js';
import { lookupPassword } from '../../src/lib/pg/passfile.js';
import {
  readStandbySetup,
  writeStandbyConfig,
  type PrimaryConninfo,
} from '../../src/lib/pg/standby-config.js';
import { runProgram } from '../../src/lib/process/run-program.js';
import { writeSupervisorState } from '../../src/lib/supervisor/state-file.js';
import { useLoopbackLab, type TestLab } from '../support/lab.js';
import { hbaLineFor } from '../../src/lib/doctor/hba.js';
import { useScratchDir } from '../support/scratch.js';

const skip =
  process.getuid?.() === 0 ? false : 'needs root (the exploits are root following links)';
const osUser = 'postgres';

/** As the postgres OS user: what an attacker who owns the data directory can do. */
async function asPostgres(file: string, ...args: string[]): Promise<void> {
  await runProgram(file, args, { asUser: osUser });
}

/** A root-owned victim file, and a way to check it is exactly as it was. */
async function victim(dir: string, name: string, mode: number) {
  const path = join(dir, name);
  const content = `${name}: root's own bytes\n`;
  await writeFile(path, content, { mode });
  await chmod(path, mode);
  return {
    path,
    content,
    assertUntouched: async (): Promise<void> => {
      const info = await stat(path);
      assert.equal(await readFile(path, 'utf8'), content, `${path} was written`);
      assert.deepEqual(
        [info.uid, info.gid, info.mode & 0o777],
        [0, 0, mode],
        `${path} was chowned`,
      );
    },
  };
}

const conninfo: PrimaryConninfo = {
  host: '127.0.0.1',
  port: 5432,
  user: 'replica',
  applicationName: 'host2',
  passfile: undefined,
};

async function doctorContext(lab: TestLab): Promise<DoctorContext> {
  const local = lab.config.nodes[0];
  return {
    config: lab.config,
    local,
    version: 'test',
    survey: await surveyNodes(lab.config, local),
  };
}

async function hbaErrors(lab: TestLab): Promise<string[]> {
  const context = await doctorContext(lab);
  const rows = await withConnection(localTarget(context.config.nodes[0]), (session) =>
    session.query<{ error: string }>('select error from pg_hba_file_rules where error is not null'),
  );
  return rows.map((row) => row.error);
}

describe('files root writes in data directories (C2, M2), on a loopback pair', { skip }, () => {
  const lab = useLoopbackLab();
  const scratch = useScratchDir();
  const standbyDir = (): string => lab().state.nodes[1].dataDir;

  /**
   * Plants a link in the standby's data directory; puts the real file back after. A symbolic
   * link is made by postgres. A hard link to a root file is made by root here: the kernel lets
   * postgres make it too where fs.protected_hardlinks is 0, or to a root file it may read and
   * write, and the directory entry is the same whoever made it.
   */
  async function withPlantedLink(
    name: string,
    target: string,
    work: () => Promise<void>,
    kind: 'symbolic' | 'hard' = 'symbolic',
  ) {
    const path = join(standbyDir(), name);
    const saved = await readFile(path).catch(() => undefined);
    await rm(path, { force: true });
    if (kind === 'symbolic') await asPostgres('ln', '-s', target, path);
    else await runProgram('ln', [target, path]);
    try {
      await work();
    } finally {
      await rm(path, { force: true });
      if (saved !== undefined) await asPostgres('cp', '/dev/null', path);
      if (saved !== undefined) await writeFile(path, saved);
    }
  }

  it('standby.signal linked to a root file: refused by name; the file is not truncated or chowned', async () => {
    const own = await victim(scratch(), 'victim-own', 0o644);
    await withPlantedLink('standby.signal', own.path, async () => {
      await assert.rejects(writeStandbyConfig(standbyDir(), conninfo, osUser), (error: Error) => {
        assert.match(
          error.message,
          /\/standby\.signal is a symbolic link: remove it \(rm .*standby\.signal\) and run again$/,
        );
        assert.doesNotMatch(error.message, /\n/);
        return true;
      });
      await own.assertUntouched();
    });
  });

  it('postgresql.auto.conf linked to a root-only secret: refused; the secret is copied nowhere', async () => {
    const secret = await victim(scratch(), 'victim-secret', 0o600);
    await withPlantedLink('postgresql.auto.conf', secret.path, async () => {
      await assert.rejects(
        writeStandbyConfig(standbyDir(), conninfo, osUser),
        /\/postgresql\.auto\.conf is a symbolic link: remove it/,
      );
      await secret.assertUntouched();
      assert.equal(await readlink(join(standbyDir(), 'postgresql.auto.conf')), secret.path);
      for (const entry of await readdir(standbyDir())) {
        const path = join(standbyDir(), entry);
        if (!(await lstat(path)).isFile()) continue;
        assert.ok(
          !(await readFile(path, 'utf8')).includes(secret.content),
          `${path} has the secret`,
        );
      }
    });
  });

  it('postgresql.auto.conf hard-linked to a root-only secret: refused; the secret is not written, chowned or copied', async () => {
    const secret = await victim(scratch(), 'victim-hardlinked', 0o600);
    const autoConf = join(standbyDir(), 'postgresql.auto.conf');
    await withPlantedLink(
      'postgresql.auto.conf',
      secret.path,
      async () => {
        const signalBefore = await lstat(join(standbyDir(), 'standby.signal'));
        await assert.rejects(writeStandbyConfig(standbyDir(), conninfo, osUser), (error: Error) => {
          assert.match(
            error.message,
            /\/postgresql\.auto\.conf is not a regular file owned by the data directory's owner \(uid \d+\)$/,
          );
          assert.doesNotMatch(error.message, /\n/);
          return true;
        });
        await secret.assertUntouched();
        // Still the same inode: nothing was renamed over it or written through it.
        assert.equal((await stat(autoConf)).ino, (await stat(secret.path)).ino);
        const signalAfter = await lstat(join(standbyDir(), 'standby.signal'));
        assert.equal(signalAfter.ino, signalBefore.ino, 'standby.signal was rewritten anyway');
        for (const entry of await readdir(standbyDir())) {
          const path = join(standbyDir(), entry);
          const info = await lstat(path);
          if (!info.isFile() || info.ino === signalAfter.ino || path === autoConf) continue;
          assert.ok(
            !(await readFile(path, 'utf8')).includes(secret.content),
            `${path} has the secret`,
          );
        }
        // The supervisor reads the same file for its shape check: it gets nothing from it.
        await assert.rejects(readStandbySetup(standbyDir()), /is not a regular file owned by/);
      },
      'hard',
    );
  });

  it('standby.signal hard-linked to a root file: the link is replaced, the root file untouched', async () => {
    const own = await victim(scratch(), 'victim-signal-hardlinked', 0o644);
    const before = await readFile(join(standbyDir(), 'postgresql.auto.conf'), 'utf8');
    try {
      await withPlantedLink(
        'standby.signal',
        own.path,
        async () => {
          await writeStandbyConfig(standbyDir(), conninfo, osUser);
          await own.assertUntouched();
          const signal = await lstat(join(standbyDir(), 'standby.signal'));
          assert.notEqual(signal.ino, (await stat(own.path)).ino, 'still the root file');
          assert.deepEqual(
            [signal.isFile(), signal.uid, signal.size, signal.nlink],
            [true, (await stat(standbyDir())).uid, 0, 1],
          );
        },
        'hard',
      );
    } finally {
      await writeFile(join(standbyDir(), 'postgresql.auto.conf'), before);
    }
  });

  it('without links: both files are written as postgres, 0600, with primary_conninfo', async () => {
    const before = await readFile(join(standbyDir(), 'postgresql.auto.conf'), 'utf8');
    try {
      await writeStandbyConfig(standbyDir(), conninfo, osUser);
      const owner = await stat(standbyDir());
      for (const name of ['postgresql.auto.conf', 'standby.signal']) {
        const info = await lstat(join(standbyDir(), name));
        assert.deepEqual(
          [info.isFile(), info.uid, info.mode & 0o777],
          [true, owner.uid, 0o600],
          name,
        );
      }
      assert.match(
        await readFile(join(standbyDir(), 'postgresql.auto.conf'), 'utf8'),
        /^primary_conninfo = 'host=127\.0\.0\.1 port=5432 user=replica application_name=host2 /m,
      );
      const leftovers = (await readdir(standbyDir())).filter((entry) => entry.endsWith('.tmp'));
      assert.deepEqual(leftovers, []);
    } finally {
      await writeFile(join(standbyDir(), 'postgresql.auto.conf'), before);
    }
  });

  it('writeFileAtomicAs: a link in place of the target is replaced, never followed', async () => {
    const own = await victim(scratch(), 'victim-as', 0o644);
    const dir = join(scratch(), 'pgowned');
    await mkdir(dir);
    await runProgram('chown', [osUser, dir]);
    await asPostgres('ln', '-s', own.path, join(dir, 'file.conf'));
    await writeFileAtomicAs(osUser, join(dir, 'file.conf'), 'new\n', 0o640);
    await own.assertUntouched();
    const info = await lstat(join(dir, 'file.conf'));
    assert.deepEqual(
      [info.isFile(), info.mode & 0o777, info.uid],
      [true, 0o640, (await stat(dir)).uid],
    );
    assert.equal(await readFile(join(dir, 'file.conf'), 'utf8'), 'new\n');
  });

  it('writeFileAtomicAs: where the user may not write, one line says why and nothing is left', async () => {
    const before = await readdir(scratch());
    await assert.rejects(writeFileAtomicAs(osUser, join(scratch(), 'nope.conf'), 'x'), {
      message:
        /^node failed \(exit 1\): EACCES: permission denied, open '.*\/\.nope\.conf\.[0-9a-f]{24}\.tmp'$/,
    });
    assert.deepEqual(await readdir(scratch()), before);
  });

  describe('doctor --fix and pg_hba.conf (M2, C2) on a loopback pair', () => {
    const hbaFile = (): string => join(lab().state.nodes[0].dataDir, 'pg_hba.conf');
    const primary = (): NodeConfig => lab().config.nodes[0];
    const reload = async (): Promise<void> => {
      await withConnection(localTarget(primary()), (session) =>
        session.query('select pg_reload_conf()'),
      );
    };

    /** Runs `work` and puts pg_hba.conf back as it was (a regular postgres file), reloaded. */
    async function restoring(work: (original: string) => Promise<void>): Promise<void> {
      const original = await readFile(hbaFile(), 'utf8');
      try {
        await work(original);
      } finally {
        await rm(hbaFile(), { force: true });
        await writeFileAtomicAs(osUser, hbaFile(), original, 0o600);
        await reload();
      }
    }

    it('a rejected heartbeat line: the fix goes in skypg block above it; a second run changes nothing', async () => {
      await restoring(async (original) => {
        const reject = 'host all sky_pg_cluster 127.0.0.1/32 reject';
        await writeFileAtomicAs(osUser, hbaFile(), `${reject}\n${original}`, 0o600);
        await reload();
        const broken = await checkHba(await doctorContext(lab()), primary());
        assert.equal(broken.status, 'fail', broken.found);
        const [fix] = broken.fixes ?? [];
        assert.ok(fix, 'a fix is offered');
        assert.equal(await fix.apply(), undefined);
        const written = await readFile(hbaFile(), 'utf8');
        assert.match(
          written,
          /^# BEGIN skypg doctor --fix.*\n(host {2}sky_pg_cluster {2}sky_pg_cluster {2}127\.0\.0\.1\/32 {2}\S+\n)+# END skypg doctor --fix\nhost all sky_pg_cluster 127\.0\.0\.1\/32 reject\n/,
        );
        const fixed = await checkHba(await doctorContext(lab()), primary());
        assert.equal(fixed.status, 'ok', fixed.found);
        assert.equal(fixed.fixes, undefined, 'nothing left to fix');
        assert.match((await fix.apply()) ?? '', /already has these lines: nothing written/);
        assert.equal(await readFile(hbaFile(), 'utf8'), written, 'byte for byte the same');
      });
    });

    it('a role name with a space is quoted, and PostgreSQL reads the line', async () => {
      await restoring(async (original) => {
        const line = hbaLineFor(
          {
            purpose: 'heartbeat',
            database: 'sky_pg_cluster',
            user: 'hb user',
            replication: false,
            ssl: false,
          },
          'peer',
        );
        const context = await doctorContext(lab());
        await hbaFix(context, primary(), hbaFile(), [line]).apply();
        assert.deepEqual(await hbaErrors(lab()), []);
        assert.notEqual(await readFile(hbaFile(), 'utf8'), original);
        const [rule] = await withConnection(localTarget(primary()), (session) =>
          session.query<{ users: string[] }>(
            "select user_name as users from pg_hba_file_rules where 'hb user' = any(user_name)",
          ),
        );
        assert.deepEqual(rule?.users, ['hb user']);
      });
    });

    it('a line PostgreSQL refuses: the old file is back, one line says so, nothing reloaded', async () => {
      await restoring(async (original) => {
        const context = await doctorContext(lab());
        await assert.rejects(
          hbaFix(context, primary(), hbaFile(), [
            'host  all  all  127.0.0.1/33  scram-sha-256',
          ]).apply(),
          (error: Error) => {
            assert.match(
              error.message,
              /^the new .*pg_hba\.conf had errors \(line \d+: invalid CIDR mask.*\): the old file is back, nothing reloaded$/,
            );
            assert.doesNotMatch(error.message, /\n/);
            return true;
          },
        );
        assert.equal(await readFile(hbaFile(), 'utf8'), original);
        assert.deepEqual(await hbaErrors(lab()), []);
      });
    });

    it('pg_hba.conf linked by postgres to a root file: refused, the root file untouched', async () => {
      await restoring(async (original) => {
        const own = await victim(scratch(), 'victim-hba', 0o644);
        await writeFile(own.path, original);
        const untouched = { ...own, content: original };
        await rm(hbaFile());
        await asPostgres('ln', '-s', own.path, hbaFile());
        const context = await doctorContext(lab());
        await assert.rejects(
          hbaFix(context, primary(), hbaFile(), ['local  all  someone  peer']).apply(),
          /victim-hba \(where .*pg_hba\.conf leads\) is not a regular file owned by the data directory's owner \(uid \d+\): doctor does not write it$/,
        );
        assert.equal(await readFile(untouched.path, 'utf8'), original);
        const info = await stat(untouched.path);
        assert.deepEqual([info.uid, info.mode & 0o777], [0, 0o644]);
      });
    });

    it('pg_hba.conf hard-linked to a root file: refused, the root file untouched', async () => {
      await restoring(async (original) => {
        const own = await victim(scratch(), 'victim-hba-hardlinked', 0o644);
        await writeFile(own.path, original);
        await rm(hbaFile());
        // Made by root: see withPlantedLink for why postgres could make the same entry.
        await runProgram('ln', [own.path, hbaFile()]);
        const context = await doctorContext(lab());
        await assert.rejects(
          hbaFix(context, primary(), hbaFile(), ['local  all  someone  peer']).apply(),
          /\/pg_hba\.conf is not a regular file owned by the data directory's owner \(uid \d+\): doctor does not write it$/,
        );
        assert.equal(await readFile(own.path, 'utf8'), original);
        const info = await stat(own.path);
        assert.deepEqual([info.uid, info.mode & 0o777, info.nlink], [0, 0o644, 2]);
      });
    });

    it('linked to a file postgres owns elsewhere (a config directory): that file is written, the link stays', async () => {
      await restoring(async (original) => {
        const dir = join(scratch(), 'etc-postgresql');
        await mkdir(dir);
        await runProgram('chown', [osUser, dir]);
        const real = join(dir, 'pg_hba.conf');
        await writeFileAtomicAs(osUser, real, original, 0o640);
        await rm(hbaFile());
        await asPostgres('ln', '-s', real, hbaFile());
        const context = await doctorContext(lab());
        await hbaFix(context, primary(), hbaFile(), ['local  all  someone  peer']).apply();
        assert.equal(await readlink(hbaFile()), real);
        assert.match(await readFile(real, 'utf8'), /^local {2}all {2}someone {2}peer$/m);
        const info = await stat(real);
        assert.deepEqual([info.uid, info.mode & 0o777], [(await stat(dir)).uid, 0o640]);
      });
    });
  });
});

describe('the state file in a directory others can write (M5)', { skip }, () => {
  const scratch = useScratchDir();

  it('a link planted at the old predictable temp name is not followed', async () => {
    const own = await victim(scratch(), 'victim-state', 0o644);
    const shared = join(scratch(), 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const target = join(shared, 'state.json');
    // What the attacker could predict: .NAME.<pid>.tmp, the PID published in the state file.
    await asPostgres('ln', '-s', own.path, join(shared, `.state.json.${process.pid}.tmp`));
    await writeFileAtomic(target, '{"fresh":true}\n');
    await own.assertUntouched();
    assert.equal(await readFile(target, 'utf8'), '{"fresh":true}\n');
    assert.ok((await lstat(target)).isFile());
  });

  it('the supervisor refuses to write its state there, and doctor says why', async () => {
    const shared = join(scratch(), 'shared-state');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const path = join(shared, 'c-host1.json');
    await assert.rejects(
      writeSupervisorState(path, {
        version: 1,
        cluster: 'c',
        node: 'host1',
        pid: process.pid,
        pidStartTicks: 1,
        startedAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
        loops: 1,
        state: 'primary',
        reason: 'test',
        paused: false,
      }),
      {
        message:
          /^the state directory .*shared-state is writable by group or others \(mode 1777\): chmod 0755 /,
      },
    );
    await assert.rejects(stat(path), { code: 'ENOENT' });
    const node = { name: 'host1' } as NodeConfig;
    const config = {
      cluster: 'c',
      supervisor: { state_file: join(shared, '{cluster}-{node}.json') },
    };
    // checkStateDir reads only these two keys of the configuration.
    const bad = await checkStateDir(config as Parameters<typeof checkStateDir>[0], node);
    assert.equal(bad.status, 'fail');
    assert.match(bad.found, /writable by group or others \(mode 1777\)/);
    await chmod(shared, 0o755);
    const good = await checkStateDir(config as Parameters<typeof checkStateDir>[0], node);
    assert.equal(good.status, 'ok', good.found);
  });
});

describe('skypg reads a password file the way libpq does (L3)', () => {
  const scratch = useScratchDir();

  it('ignores a file group or others can read, with one warning line', async () => {
    const file = join(scratch(), 'pgpass');
    await writeFile(file, '*:*:*:*:sesame\n');
    await chmod(file, 0o644);
    const query = { host: '127.0.0.1', port: 5432, database: 'postgres', user: 'postgres' };
    assert.equal(await lookupPassword(file, query), undefined);
    // Twice in a fresh process: the warning comes once, on stderr, in libpq's words.
    const script = `import { lookupPassword } from './src/lib/pg/passfile.ts';
      const q = ${JSON.stringify(query)};
      console.log(String(await lookupPassword(${JSON.stringify(file)}, q)), String(await lookupPassword(${JSON.stringify(file)}, q)));`;
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(child.stdout.trim(), 'undefined undefined', child.stderr);
    assert.equal(
      child.stderr.trim(),
      `WARNING: password file "${file}" has group or world access (mode 0644); permissions should be u=rw (0600) or less: chmod 600 ${file}`,
    );
    await chmod(file, 0o600);
    assert.equal(await lookupPassword(file, query), 'sesame');
  });

  it('a password rotated in place, a replaced file or a widened mode counts at the next lookup', async () => {
    const file = join(scratch(), 'pgpass-rotated');
    const query = { host: '127.0.0.1', port: 5432, database: 'postgres', user: 'postgres' };
    await writeFile(file, '*:*:*:*:first\n', { mode: 0o600 });
    assert.equal(await lookupPassword(file, query), 'first');
    // The same size, rewritten in place: what the cache of the last read must not hide.
    await writeFile(file, '*:*:*:*:secnd\n');
    assert.equal(await lookupPassword(file, query), 'secnd');
    await writeFile(`${file}.new`, '*:*:*:*:third\n', { mode: 0o600 });
    await rename(`${file}.new`, file);
    assert.equal(await lookupPassword(file, query), 'third');
    await chmod(file, 0o640);
    assert.equal(await lookupPassword(file, query), undefined);
    await rm(file);
    assert.equal(await lookupPassword(file, query), undefined);
  });
});
