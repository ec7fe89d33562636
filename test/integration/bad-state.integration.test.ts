// Bad state around a real loopback pair: a wrong password in the passfile, an unreachable peer,
// a fence password file that vanished, a read-only data directory and a full pg_wal. Each gives
// one line naming the thing and its fix, within a bounded time, changes nothing it should not,
// and `skypg doctor` reports it before anything is tried.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CheckResult } from '../../src/lib/doctor/checklist.js';
import { runProgram } from '../../src/lib/process/run-program.js';
import { runSkypg, skypgBin, type CliRun } from '../support/cli.js';
import { useLoopbackLab, type TestLab } from '../support/lab.js';
import { labNode, sql, startServer, stopServer } from '../support/lab-control.js';
import { openSilentPort, type SilentPort } from '../support/silent-listener.js';
import { waitUntil } from '../support/wait.js';

const commandBudgetMs = 20_000;

function skypg(configPath: string, args: string[]): Promise<CliRun> {
  return runSkypg(args, { env: { SKYPG_CONFIG: configPath }, timeoutMs: commandBudgetMs * 2 });
}

/** Exit non-zero, exactly one `skypg: ... (hint: ...)` line on stderr, within the budget. */
function assertOneLineError(run: CliRun, expect: RegExp): void {
  assert.notEqual(run.code, 0, run.stdout);
  assert.notEqual(run.code, null, `killed after ${Math.round(run.ms)} ms: it hung`);
  assert.ok(run.ms < commandBudgetMs, `took ${Math.round(run.ms)} ms`);
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0] ?? '', /^skypg: .* \(hint: .+\)$/);
  assert.match(lines[0] ?? '', expect);
}

async function doctor(configPath: string, node: string): Promise<CheckResult[]> {
  const run = await skypg(configPath, ['doctor', '--node', node, '--json']);
  assert.ok(run.ms < commandBudgetMs, `doctor took ${Math.round(run.ms)} ms`);
  return (JSON.parse(run.stdout) as { results: CheckResult[] }).results;
}

/** The doctor result `id` (of `node`) that fails or warns with found and fix matching. */
function assertFlagged(
  results: CheckResult[],
  where: { id: string; node?: string },
  found: RegExp,
  fix: RegExp,
): void {
  const matching = results.filter(
    (result) =>
      result.id === where.id &&
      (where.node === undefined || result.node === where.node) &&
      found.test(result.found),
  );
  assert.ok(
    matching.length > 0,
    `no ${where.id} result matching ${String(found)}: ${JSON.stringify(results.filter((r) => r.id === where.id))}`,
  );
  for (const result of matching) {
    assert.ok(result.status === 'fail' || result.status === 'warn', JSON.stringify(result));
    assert.match(result.fix ?? '', fix);
  }
}

/** A copy of the lab's configuration with `edit` applied. */
async function configVariant(
  lab: TestLab,
  name: string,
  edit: (text: string) => string,
): Promise<string> {
  const text = await readFile(lab.state.configPath, 'utf8');
  const edited = edit(text);
  assert.notEqual(edited, text, `${name}: the edit changed nothing`);
  const path = join(lab.state.dir, `${name}.yaml`);
  await writeFile(path, edited);
  return path;
}

async function isStandby(lab: TestLab, name: 'host1' | 'host2'): Promise<boolean> {
  const [row] = await sql<{ standby: boolean }>(
    labNode(lab, name),
    'select pg_is_in_recovery() as standby',
  );
  return row?.standby === true;
}

async function asPostgres(lab: TestLab, program: string, args: string[]): Promise<void> {
  await runProgram(program, args, { asUser: lab.state.osUser, timeoutMs: 30_000 });
}

/**
 * host1 fenced by a command agent (always ON) that needs `passwordFile`, fencing required, the
 * supervisor's heartbeat fast, and a gateway that answers (loopback).
 */
async function fencedConfig(lab: TestLab, name: string, passwordFile: string): Promise<string> {
  const agent = join(lab.state.dir, 'fence-agent');
  await writeFile(agent, '#!/bin/sh\ncat >/dev/null\nexit 0\n', { mode: 0o700 });
  const host1 = labNode(lab, 'host1');
  return configVariant(lab, name, (text) =>
    text
      .replace(
        `log_file: ${host1.postgres.log_file ?? ''} }\n`,
        `log_file: ${host1.postgres.log_file ?? ''} }\n    fence: { agent: command, command: ${agent}, password_file: ${passwordFile} }\n`,
      )
      .replace('fencing: none', 'fencing: required')
      .replace(
        'heartbeat: { user: sky_pg_cluster }',
        'gateway: [127.0.0.1]\nheartbeat: { user: sky_pg_cluster, interval: 200ms }',
      ),
  );
}

describe('bad state: one line, bounded, nothing half done, and doctor says it first', () => {
  const lab = useLoopbackLab();

  it('a wrong password in the passfile: names user, host:port and the passfile', async () => {
    const host1 = labNode(lab(), 'host1');
    const passfile = join(lab().state.dir, 'pgpass-wrong');
    const original = await readFile(lab().state.passfile, 'utf8');
    await writeFile(passfile, `127.0.0.1:${host1.postgres.port}:*:*:wrong\n${original}`, {
      mode: 0o600,
    });
    const configPath = await configVariant(lab(), 'wrong-password', (text) =>
      text.replace(`passfile: ${lab().state.passfile}`, `passfile: ${passfile}`),
    );
    const where = `127\\.0\\.0\\.1:${host1.postgres.port}`;
    const results = await doctor(configPath, 'host2');
    assertFlagged(
      results,
      { id: 'login', node: 'host1' },
      new RegExp(`${where}.*password authentication failed for user "postgres"`),
      new RegExp(passfile),
    );

    const rebuild = await skypg(configPath, ['rebuild-standby', '--node', 'host2']);
    assertOneLineError(
      rebuild,
      new RegExp(
        `${where} .*password authentication failed for user "postgres".*hint: .*${passfile}`,
      ),
    );
    const promote = await skypg(configPath, ['promote', '--node', 'host2']);
    assertOneLineError(
      promote,
      new RegExp(
        `^skypg: not promoting host2: .*password authentication failed for user "postgres".*hint: .*${passfile}`,
      ),
    );
    assert.equal(await isStandby(lab(), 'host2'), true);
  });

  describe('an unreachable peer', () => {
    let silent: SilentPort | undefined;
    before(async () => {
      silent = await openSilentPort();
    });
    after(() => {
      silent?.close();
    });

    it('a host that accepts TCP and never answers: bounded by connect_timeout, names the address', async () => {
      const port = silent?.port ?? 0;
      const host1 = labNode(lab(), 'host1');
      const configPath = await configVariant(lab(), 'silent-peer', (text) =>
        text
          .replace(`port: ${host1.postgres.port},`, `port: ${port},`)
          .replace('superuser: postgres', 'superuser: postgres\n  connect_timeout: 1s'),
      );
      const results = await doctor(configPath, 'host2');
      assertFlagged(
        results,
        { id: 'login', node: 'host1' },
        new RegExp(`127\\.0\\.0\\.1:${port} .*did not answer within 1000ms`),
        /host1/,
      );
      const rebuild = await skypg(configPath, ['rebuild-standby', '--node', 'host2']);
      assertOneLineError(
        rebuild,
        new RegExp(`host1\\b.*127\\.0\\.0\\.1:${port} .*did not answer within 1000ms`),
      );
      assert.ok(rebuild.ms < 8000, `took ${Math.round(rebuild.ms)} ms`);
      assert.equal(await isStandby(lab(), 'host2'), true);
    });
  });

  it('a fence password file that vanished: config still loads, fence and promote name it', async () => {
    const passwordFile = join(lab().state.dir, 'host1-fence.password');
    await writeFile(passwordFile, 'secret\n', { mode: 0o600 });
    const configPath = await fencedConfig(lab(), 'fence-vanished', passwordFile);
    const before = await skypg(configPath, ['fence', 'host1', '--action', 'status']);
    assert.equal(before.code, 0, before.stderr);
    await rm(passwordFile);

    const results = await doctor(configPath, 'host2');
    const missing = new RegExp(`fence password file ${passwordFile} .*does not exist`);
    assertFlagged(results, { id: 'fence', node: 'host1' }, missing, new RegExp(passwordFile));
    assertFlagged(
      results,
      { id: 'fence-password-files', node: 'host2' },
      new RegExp(`${passwordFile} does not exist`),
      new RegExp(passwordFile),
    );

    const status = await skypg(configPath, ['fence', 'host1', '--action', 'status']);
    assertOneLineError(
      status,
      new RegExp(`^skypg: cannot query the power of host1: level 1 command .*${missing.source}`),
    );
    assert.match(status.stderr, new RegExp(`hint: .*${passwordFile}`));
    const promote = await skypg(configPath, ['promote', '--node', 'host2']);
    assertOneLineError(promote, new RegExp(`^skypg: not promoting host2: .*${missing.source}`));
    assert.match(promote.stderr, /nothing was changed/);
    assert.equal(await isStandby(lab(), 'host2'), true);
  });

  it("a stray promote signal file in a standby's data directory: doctor fails data-dir before PostgreSQL acts on it", async () => {
    const host2 = labNode(lab(), 'host2');
    // Stopped while the file is there: a running standby may act on it at its next signal.
    await stopServer(lab(), 'host2');
    const signal = join(host2.data_dir, 'promote');
    try {
      await writeFile(signal, '');
      const results = await doctor(lab().state.configPath, 'host2');
      assertFlagged(
        results,
        { id: 'data-dir', node: 'host2' },
        /promote is there: PostgreSQL would promote this standby at its next signal/,
        new RegExp(`rm ${signal}`),
      );
    } finally {
      await rm(signal, { force: true });
      await startServer(lab(), 'host2');
    }
    assert.equal(await isStandby(lab(), 'host2'), true);
  });

  it('a read-only data directory: doctor, rebuild-standby and promote name it, host2 stays a standby', async () => {
    const host2 = labNode(lab(), 'host2');
    const configPath = lab().state.configPath;
    await runProgram('chmod', ['a-w', host2.data_dir]);
    try {
      const results = await doctor(configPath, 'host2');
      assertFlagged(
        results,
        { id: 'data-dir', node: 'host2' },
        new RegExp(`${host2.data_dir} is not writable by postgres`),
        new RegExp(`chmod u\\+w ${host2.data_dir}`),
      );
      const rebuild = await skypg(configPath, ['rebuild-standby', '--node', 'host2']);
      assertOneLineError(
        rebuild,
        new RegExp(`^skypg: not rebuilding host2: ${host2.data_dir} is not writable by postgres`),
      );
      assert.match(rebuild.stderr, /nothing was changed/);
      assert.equal(await isStandby(lab(), 'host2'), true);

      await stopServer(lab(), 'host1');
      const promote = await skypg(configPath, ['promote', '--node', 'host2']);
      assertOneLineError(
        promote,
        new RegExp(`^skypg: not promoting host2: .*${host2.data_dir} is not writable by postgres`),
      );
      assert.equal(await isStandby(lab(), 'host2'), true);
    } finally {
      await runProgram('chmod', ['u+w', host2.data_dir]);
    }
  });

  it("the supervisor's promote path (host1 stopped) names the vanished fence password file and promotes nothing", async () => {
    const passwordFile = join(lab().state.dir, 'host1-gone.password');
    const configPath = await fencedConfig(lab(), 'fence-vanished-supervisor', passwordFile);
    const supervisor = spawn(process.execPath, [skypgBin, 'supervisor', '--node', 'host2'], {
      env: { ...process.env, SKYPG_CONFIG: configPath },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    supervisor.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    supervisor.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(supervisor, 'close');
    const missing = new RegExp(`fence password file ${passwordFile} does not exist`);
    try {
      const line = await waitUntil(
        'the supervisor reports the missing fence password file',
        () => Promise.resolve(stdout.split('\n').find((entry) => missing.test(entry))),
        20_000,
      );
      const entry = JSON.parse(line) as { event: string; action?: string; result?: string };
      assert.deepEqual(
        [entry.event, entry.action, entry.result],
        ['action', 'fence-peer', 'failed'],
      );
      assert.match(line, /not promoting host2: cannot query the power of host1: level 1 /);
    } finally {
      supervisor.kill('SIGTERM');
      await exited;
    }
    assert.equal(stderr, '');
    assert.equal(await isStandby(lab(), 'host2'), true);
  });

  describe('a full pg_wal (a small tmpfs under the standby, the old primary stopped)', () => {
    let walFs: string | undefined;
    before(async () => {
      const host2 = labNode(lab(), 'host2');
      walFs = join(lab().state.dir, 'walfs');
      await mkdir(walFs);
      await runProgram('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=0700', 'tmpfs', walFs]);
      await runProgram('chown', [`${lab().state.osUser}:`, walFs]);
      await stopServer(lab(), 'host2');
      // As initdb --waldir does: pg_wal a symbolic link to another filesystem.
      const pgWal = join(host2.data_dir, 'pg_wal');
      await asPostgres(lab(), 'cp', ['-a', pgWal, join(walFs, 'pg_wal')]);
      await rm(pgWal, { recursive: true });
      await asPostgres(lab(), 'ln', ['-s', join(walFs, 'pg_wal'), pgWal]);
      await startServer(lab(), 'host2');
      await waitUntil('host2 answers', () => isStandby(lab(), 'host2'));
      const free = await statfs(walFs);
      const leave = 4 * 1024 * 1024;
      const fill = free.bavail * free.bsize - leave;
      await asPostgres(lab(), 'fallocate', ['-l', String(fill), join(walFs, 'filler')]);
    });
    after(async () => {
      if (walFs === undefined) return;
      await stopServer(lab(), 'host2', 'immediate').catch(() => undefined);
      await runProgram('umount', ['-l', walFs]).catch(() => undefined);
    });

    it('doctor fails the disk check naming pg_wal; promote refuses in one line, host2 stays a standby', async () => {
      const host2 = labNode(lab(), 'host2');
      const configPath = lab().state.configPath;
      const pgWal = join(host2.data_dir, 'pg_wal');
      const results = await doctor(configPath, 'host2');
      assertFlagged(
        results,
        { id: 'disk', node: 'host2' },
        new RegExp(`${pgWal} .*MiB free.*less than 2 WAL segments`),
        new RegExp(`free space under ${walFs ?? ''}|${pgWal}`),
      );
      const promote = await skypg(configPath, ['promote', '--node', 'host2']);
      assertOneLineError(
        promote,
        new RegExp(
          `^skypg: not promoting host2: .*${pgWal} .*MiB free.*PostgreSQL cannot write the end-of-recovery checkpoint`,
        ),
      );
      assert.equal(await isStandby(lab(), 'host2'), true);
    });
  });
});
