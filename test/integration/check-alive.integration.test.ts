// check-alive reads the supervisor's state file: the file and the process it names are its
// whole input, so the tests write real state files naming real processes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  processStartTicks,
  writeSupervisorState,
  type SupervisorState,
} from '../../src/lib/supervisor/state-file.js';
import { runSkypg } from '../support/cli.js';
import { makeScratchDir, removeScratchDir } from '../support/scratch.js';

describe('check-alive', () => {
  let dir: string;
  let configPath: string;
  before(async () => {
    dir = await makeScratchDir();
    configPath = join(dir, 'skypg.yaml');
    await writeFile(
      configPath,
      [
        'cluster: alive',
        'nodes:',
        '  - { name: host1, address: 127.0.0.1, data_dir: /d1 }',
        '  - { name: host2, address: 127.0.0.1, data_dir: /d2, postgres: { port: 5433 } }',
        'heartbeat: { interval: 1s }',
        'api: false',
        'beacon: false',
        'supervisor:',
        `  state_file: ${dir}/{cluster}-{node}.json`,
        '',
      ].join('\n'),
    );
  });
  after(async () => {
    await removeScratchDir(dir);
  });

  const check = (...args: string[]) =>
    runSkypg(['check-alive', '--node', 'host1', '--config', configPath, ...args]);
  const stateFor = async (pid: number, changes: Partial<SupervisorState> = {}): Promise<void> => {
    const now = new Date().toISOString();
    await writeSupervisorState(join(dir, 'alive-host1.json'), {
      version: 1,
      cluster: 'alive',
      node: 'host1',
      pid,
      pidStartTicks: (await processStartTicks(pid)) ?? -1,
      startedAt: now,
      updatedAt: now,
      loops: 1,
      state: 'primary',
      reason: 'primary host1 is healthy and holds the VIP',
      paused: false,
      ...changes,
    });
  };

  it('is CRITICAL when the supervisor never ran (no state file)', async () => {
    const run = await check();
    assert.equal(run.code, 2);
    assert.match(
      run.stdout,
      /^SKYPG_ALIVE CRITICAL - no supervisor state file at .*alive-host1\.json/,
    );
  });

  it('is OK for a running process with a fresh file, with the reason and age perfdata', async () => {
    await stateFor(process.pid);
    const run = await check();
    assert.equal(run.code, 0, run.stdout);
    assert.match(
      run.stdout,
      /^SKYPG_ALIVE OK - supervisor pid \d+ primary, updated [\d.]+s ago: primary host1 is healthy .*\| age=[\d.]+s;;;0$/m,
    );
  });

  it('is CRITICAL when the file is older than --max-age (a hung supervisor)', async () => {
    const writtenAt = Date.now() - 10_000;
    await stateFor(process.pid, { updatedAt: new Date(writtenAt).toISOString() });
    const run = await check('--max-age', '3s');
    assert.equal(run.code, 2);
    // The age is as of check-alive's own start, which a loaded machine may delay by seconds.
    const age = Number(
      /its state is ([\d.]+)s old \(max 3s\): its loop is stuck/.exec(run.stdout)?.[1],
    );
    assert.ok(age >= 10 && age <= (Date.now() - writtenAt) / 1000 + 0.1, run.stdout);
  });

  it('is CRITICAL when the process is gone, or the PID now belongs to another process', async () => {
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => child.once('exit', resolve));
    await stateFor(child.pid ?? 0, { pidStartTicks: 1 });
    const gone = await check();
    assert.equal(gone.code, 2);
    assert.match(gone.stdout, /supervisor pid \d+ is not running/);
    await stateFor(process.pid, { pidStartTicks: 1 });
    const reused = await check();
    assert.equal(reused.code, 2, 'a PID with another start time is not the supervisor');
  });

  it('is CRITICAL for a file dated in the future (a forged file would look fresh for a year)', async () => {
    await stateFor(process.pid, {
      updatedAt: new Date(Date.now() + 365 * 24 * 3600_000).toISOString(),
    });
    const run = await check();
    assert.equal(run.code, 2, run.stdout);
    assert.match(
      run.stdout,
      /^SKYPG_ALIVE CRITICAL - the supervisor state file .*alive-host1\.json is invalid: updatedAt \S+ is in the future/,
    );
  });

  it('is WARNING while the cluster is paused', async () => {
    await stateFor(process.pid, { paused: true });
    const run = await check();
    assert.equal(run.code, 1);
    assert.match(run.stdout, /^SKYPG_ALIVE WARNING - cluster paused; /);
  });

  it('answers a broken state file and bad arguments with UNKNOWN', async () => {
    await writeFile(join(dir, 'alive-host1.json'), '{ not json');
    const broken = await check();
    assert.equal(broken.code, 3);
    assert.match(broken.stdout, /^SKYPG_ALIVE UNKNOWN - the supervisor state file .* is not JSON/);
    const bad = await check('--max-age', 'soon');
    assert.equal(bad.code, 3);
    assert.match(bad.stdout, /^SKYPG_ALIVE UNKNOWN - --max-age "soon" is not a duration/);
  });
});
