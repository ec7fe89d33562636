// The lab benchmarks in smoke mode (one failover trial, 30 s of steady load), so that the
// scripts cannot rot: they must exit 0, print their tables and write well-formed JSON. No
// figure is asserted (timings belong to the benchmark's output, not to a test).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runProgram } from '../../src/lib/process/run-program.js';
import { netnsLabSkipReason } from '../support/netns.js';
import { makeScratchDir, removeScratchDir, sweepStaleScratchDirs } from '../support/scratch.js';

const skip = await netnsLabSkipReason();
const root = join(import.meta.dirname, '..', '..');

function runBench(script: string, args: string[]) {
  return runProgram(process.execPath, ['--import', 'tsx', join(root, 'bench', script), ...args], {
    cwd: root,
    timeoutMs: 600_000,
    allowFailure: true,
  });
}

/** Runs one benchmark with its labs inside a scratch dir (swept if this process is killed). */
async function smoke(script: string, args: string[]) {
  await sweepStaleScratchDirs();
  const scratch = await makeScratchDir();
  try {
    const json = join(scratch, 'result.json');
    const run = await runBench(script, [...args, '--dir', scratch, '--json', json]);
    assert.equal(run.exitCode, 0, `${run.stdout}\n${run.stderr}`);
    return { run, report: JSON.parse(await readFile(json, 'utf8')) as Record<string, unknown> };
  } finally {
    await removeScratchDir(scratch);
  }
}

describe('benchmarks in smoke mode', { skip }, () => {
  it('bench:failover runs one kill trial, prints its row and summary, writes JSON', async () => {
    const { run, report } = await smoke('failover.ts', ['--trials', '1', '--fault', 'kill']);
    assert.match(run.stdout, /^trial +fault +mode +old>new +suspect +declared/m);
    assert.match(run.stdout, /^ +1 +kill +async +host[12]>host[12] /m);
    assert.match(run.stdout, /^kill +async +time to writable +1 /m);
    assert.match(run.stdout, /kill\/async: \d+ of \d+ acknowledged writes lost; 0 of \d+ samples/);
    const results = report['results'] as Record<string, unknown>[];
    assert.equal(results.length, 1);
    const [trial] = results;
    assert.equal(trial?.['fault'], 'kill');
    assert.equal(trial?.['error'], undefined);
    assert.equal(typeof trial?.['writableMs'], 'number');
    assert.equal(trial?.['splitBrainSamples'], 0);
    assert.ok(Array.isArray(report['summary']));
  });

  it('bench:steady runs 30 s of load, prints usage per node, writes JSON', async () => {
    const { run, report } = await smoke('steady.ts', ['--duration', '30', '--wal-window', '5']);
    assert.match(run.stdout, /^node +role +supervisor CPU %/m);
    assert.match(run.stdout, /^host1 +(primary|standby) +\d+\.\d+ /m);
    assert.match(run.stdout, /^WAL added by the heartbeat: [\d.]+ KiB per minute/m);
    assert.match(run.stdout, /^failovers: 0;/m);
    const nodes = report['nodes'] as Record<string, unknown>[];
    assert.equal(nodes.length, 2);
    for (const node of nodes) {
      assert.equal(typeof node['cpuPercent'], 'number');
      assert.ok((node['peakRssBytes'] as number) > 0);
    }
    assert.equal(report['failovers'], 0);
  });

  it('bench:steady --chaos runs 20 s under chaos, prints the alarm counts, writes JSON', async () => {
    const { run, report } = await smoke('steady.ts', ['--chaos', '--duration', '20']);
    assert.match(run.stdout, /^steady state under chaos: 20s of pgbench -c 16 /m);
    assert.match(run.stdout, /^failovers: \d+; self-demotions: \d+; fences: \d+ /m);
    assert.match(run.stdout, /^pauses: \d+; dropped frames: \d+$/m);
    assert.doesNotMatch(run.stdout, /^WAL added by the heartbeat/m);
    const chaos = report['chaos'] as { hosts: { hogPids: number[]; link?: { seen: number } }[] };
    assert.equal(chaos.hosts.length, 2);
    for (const host of chaos.hosts) {
      assert.equal(host.hogPids.length, 2);
      assert.ok((host.link?.seen ?? 0) > 0, 'frames counted on each host link');
    }
    for (const key of ['failovers', 'selfDemotions', 'fences'])
      assert.equal(typeof report[key], 'number', key);
  });
});
