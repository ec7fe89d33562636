// The files an operator installs, checked by their own tools, and kept equal to the copies the
// docs print.
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { runProgram } from '../../src/lib/process/run-program.js';
import {
  adaptCommands,
  askNrpe,
  freeLoopbackPort,
  nrpeSkipReason,
  shippedNrpeFile,
  withNrpe,
} from '../support/nrpe.js';
import { makeScratchDir, removeScratchDir } from '../support/scratch.js';

const unitPath = 'packaging/systemd/skypg.service';

async function hasSystemdAnalyze(): Promise<boolean> {
  const found = await runProgram('sh', ['-c', 'command -v systemd-analyze'], {
    allowFailure: true,
  });
  return found.exitCode === 0;
}

describe('the systemd unit', () => {
  it('docs/failover.md prints the shipped unit exactly', async () => {
    const unit = await readFile(unitPath, 'utf8');
    const doc = await readFile('docs/failover.md', 'utf8');
    assert.ok(doc.includes('```ini\n' + unit + '```\n'), 'failover.md must print ' + unitPath);
  });

  it('systemd-analyze verifies it and rates its exposure OK (below 5.0)', async (t) => {
    if (!(await hasSystemdAnalyze())) {
      t.skip('systemd-analyze is not installed');
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), 'skypg-unit-'));
    try {
      // verify needs ExecStart's program to exist: point it at an executable stand-in.
      const fakeBin = join(dir, 'skypg');
      await writeFile(fakeBin, '#!/bin/sh\nexit 0\n');
      await chmod(fakeBin, 0o755);
      const unit = (await readFile(unitPath, 'utf8')).replace('/usr/bin/skypg', fakeBin);
      await writeFile(join(dir, 'skypg.service'), unit);
      const verify = await runProgram('systemd-analyze', ['verify', 'skypg.service'], {
        cwd: dir,
        allowFailure: true,
        timeoutMs: 30_000,
      });
      assert.equal(verify.exitCode, 0, verify.stderr);
      // A misspelt key is only a warning to verify; a unit left with nothing to start is refused.
      const broken = unit.replace(/^ExecStart=/m, 'ExecStar=');
      assert.notEqual(broken, unit);
      await writeFile(join(dir, 'broken.service'), broken);
      const refused = await runProgram('systemd-analyze', ['verify', 'broken.service'], {
        cwd: dir,
        allowFailure: true,
        timeoutMs: 30_000,
      });
      assert.notEqual(refused.exitCode, 0, 'systemd-analyze verify must refuse a broken unit');
      t.diagnostic(
        `refused, exit ${refused.exitCode}: ${refused.stderr.trim().split('\n').at(-1)}`,
      );
      await copyFile(unitPath, join(dir, 'skypg.service'));
      const security = await runProgram(
        'systemd-analyze',
        ['security', '--offline=true', '--threshold=50', 'skypg.service'],
        { cwd: dir, allowFailure: true, timeoutMs: 30_000 },
      );
      assert.equal(security.exitCode, 0, security.stdout.split('\n').at(-1));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Each shipped file and the guide that prints it whole. */
const printedFiles: { file: string; doc: string }[] = [
  { file: 'packaging/logrotate/skypg', doc: 'docs/failover.md' },
  { file: 'packaging/sudoers/skypg-net', doc: 'docs/operations.md' },
  { file: 'packaging/sudoers/skypg-nrpe', doc: 'docs/getting-started.md' },
  { file: 'packaging/nrpe/skypg.cfg', doc: 'docs/monitoring.md' },
  { file: 'packaging/haproxy/haproxy.cfg', doc: 'docs/monitoring.md' },
];

/** The program's path, or a test failure naming the package that brings it. */
async function tool(name: string, debianPackage: string): Promise<string> {
  const found = await runProgram(
    'sh',
    ['-c', `command -v ${name} || command -v /usr/sbin/${name}`],
    {
      allowFailure: true,
    },
  );
  const path = found.stdout.trim().split('\n')[0] ?? '';
  assert.ok(
    path !== '',
    `${name} is missing: run scripts/install-prerequisites.sh (${debianPackage})`,
  );
  return path;
}

/** Runs a validator on the shipped file and on a broken copy: the first passes, the second not. */
async function validates(
  t: TestContext,
  file: string,
  breakIt: (text: string) => string,
  check: (
    path: string,
    dir: string,
  ) => Promise<{ exitCode: number; stdout: string; stderr: string }>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'skypg-pkg-'));
  try {
    const good = join(dir, 'good');
    const bad = join(dir, 'bad');
    const text = await readFile(file, 'utf8');
    const broken = breakIt(text);
    // A break that no longer matches the file would make the refusal below prove nothing.
    assert.notEqual(broken, text, `the broken copy of ${file} differs from it`);
    await writeFile(good, text, { mode: 0o440 });
    await writeFile(bad, broken, { mode: 0o440 });
    const passed = await check(good, dir);
    assert.equal(passed.exitCode, 0, `${file}: ${passed.stdout}${passed.stderr}`);
    const failed = await check(bad, dir);
    assert.notEqual(failed.exitCode, 0, `a broken copy of ${file} must be refused`);
    const said = `${failed.stdout}\n${failed.stderr}`.split('\n').filter((line) => line.trim());
    const reasons = said.filter((line) => /error|alert|bad/i.test(line));
    t.diagnostic(
      `refused, exit ${failed.exitCode}: ${(reasons.length > 0 ? reasons : said).join(' / ')}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('the other files an operator installs', () => {
  for (const { file, doc } of printedFiles) {
    it(`${doc} prints ${file} exactly`, async () => {
      const text = await readFile(file, 'utf8');
      const guide = await readFile(doc, 'utf8');
      assert.ok(guide.includes('```\n' + text + '```\n'), `${doc} must print ${file}`);
    });
  }

  it('logrotate -d accepts the logrotate file, and refuses a broken one', async (t) => {
    const logrotate = await tool('logrotate', 'logrotate');
    await validates(
      t,
      'packaging/logrotate/skypg',
      (text) => text.replace('rotate 14', 'rotate fourteen'),
      (path, dir) =>
        runProgram(logrotate, ['-d', '-s', join(dir, 'state'), path], { allowFailure: true }),
    );
  });

  for (const file of ['packaging/sudoers/skypg-net', 'packaging/sudoers/skypg-nrpe']) {
    it(`visudo -cf accepts ${file}, and refuses a broken one`, async (t) => {
      const visudo = await tool('visudo', 'sudo');
      await validates(
        t,
        file,
        (text) => text.replace('NOPASSWD:', 'NOPASSWD'),
        (path) => runProgram(visudo, ['-cf', path], { allowFailure: true }),
      );
    });
  }

  it('haproxy -c -f accepts the HAProxy example, and refuses a broken one', async (t) => {
    const haproxy = await tool('haproxy', 'haproxy');
    await validates(
      t,
      'packaging/haproxy/haproxy.cfg',
      (text) => text.replace('http-check expect status 200', 'http-check expect stauts 200'),
      (path) => runProgram(haproxy, ['-c', '-f', path], { allowFailure: true }),
    );
  });

  it('the HAProxy example checks /primary and /replica on port 8008 of both nodes, with the fast-failover settings', async () => {
    const text = await readFile('packaging/haproxy/haproxy.cfg', 'utf8');
    const sections = text.split(/^(?=listen )/m).slice(1);
    assert.deepEqual(
      sections.map((section) => /^option httpchk (.+)$/m.exec(section.replace(/^ +/gm, ''))?.[1]),
      ['OPTIONS /primary', 'OPTIONS /replica?lag=16MB'],
    );
    for (const section of sections) {
      assert.match(section, /^ {4}http-check expect status 200$/m);
      const servers = section.match(/^ {4}server \S+ \S+:5432 check port 8008$/gm) ?? [];
      assert.equal(servers.length, 2, section);
    }
    assert.match(
      text,
      /^ {4}default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions\b/m,
    );
  });

  it('the NRPE file defines the two checks with the exact lines the sudoers rule allows', async () => {
    const nrpe = await readFile('packaging/nrpe/skypg.cfg', 'utf8');
    const sudoers = await readFile('packaging/sudoers/skypg-nrpe', 'utf8');
    const commands = [
      ...nrpe.matchAll(/^command\[(\w+)\]=\/usr\/bin\/sudo -n -u postgres (.+)$/gm),
    ];
    assert.deepEqual(
      commands.map((match) => match[1]),
      ['check_skypg_lag', 'check_skypg_alive'],
    );
    const rule = sudoers.split('\n').find((line) => line.startsWith('nagios ')) ?? '';
    const allowed = rule.replace(/^nagios ALL=\(postgres\) NOPASSWD: /, '').split(', ');
    assert.deepEqual(
      allowed,
      commands.map((match) => match[2]),
    );
  });
});

/** What nrpe logs for a line of a configuration it cannot use (it starts all the same). */
const nrpeConfigErrors = /Unknown option|Invalid command|No variable value|Continuing with errors/;

describe('the NRPE command definitions in the real nrpe daemon', () => {
  /**
   * Runs nrpe as postgres on 127.0.0.1 with `commands` included (SCRATCH in them naming its
   * scratch dir, where a stand-in skypg prints the arguments it got), asks it for both checks
   * with check_nrpe, and returns what came back and what nrpe logged while loading them.
   */
  async function serve(
    commands: string,
  ): Promise<{ lag: string; alive: string; codes: number[]; log: string }> {
    const scratch = await makeScratchDir();
    try {
      await writeFile(join(scratch, 'skypg'), '#!/bin/sh\necho "STAND-IN $*"\n', { mode: 0o755 });
      const port = await freeLoopbackPort();
      const options = {
        dir: join(scratch, 'nrpe'),
        address: '127.0.0.1',
        port,
        client: '127.0.0.1',
        commands: commands.replaceAll('SCRATCH', scratch),
      };
      return await withNrpe(options, async (running) => {
        const lag = await askNrpe('127.0.0.1', port, ['-c', 'check_skypg_lag']);
        const alive = await askNrpe('127.0.0.1', port, ['-c', 'check_skypg_alive']);
        return {
          lag: lag.stdout.trim(),
          alive: alive.stdout.trim(),
          codes: [lag.exitCode, alive.exitCode],
          log: await readFile(running.logFile, 'utf8'),
        };
      });
    } finally {
      await removeScratchDir(scratch);
    }
  }

  /** The shipped lines with skypg replaced by a stand-in that prints the arguments it got. */
  async function shippedWithStandIn(): Promise<string> {
    return adaptCommands(
      await readFile(shippedNrpeFile, 'utf8'),
      'SCRATCH/skypg',
      '/etc/skypg/skypg.yaml',
    );
  }

  it('nrpe loads the shipped file and runs both checks with their exact arguments; a broken copy leaves a check undefined', async (t) => {
    const skip = await nrpeSkipReason();
    if (skip !== undefined) {
      t.skip(skip);
      return;
    }
    const commands = await shippedWithStandIn();
    const served = await serve(commands);
    assert.equal(served.log.match(nrpeConfigErrors), null, served.log);
    assert.deepEqual(served.codes, [0, 0], `${served.lag}\n${served.alive}`);
    assert.equal(
      served.lag,
      'STAND-IN check-lag --config /etc/skypg/skypg.yaml -w 8MB -c 16MB --warning-time 30 --critical-time 120',
    );
    assert.equal(served.alive, 'STAND-IN check-alive --config /etc/skypg/skypg.yaml');

    const broken = await serve(
      commands.replace('command[check_skypg_lag]', 'commands[check_skypg_lag]'),
    );
    t.diagnostic(`nrpe on a broken copy logged: ${broken.log.match(/.*Unknown option.*/)?.[0]}`);
    t.diagnostic(`check_nrpe then printed: ${broken.lag}`);
    assert.match(broken.log, nrpeConfigErrors);
    assert.deepEqual(broken.codes, [3, 0], 'check_skypg_lag is UNKNOWN: not defined');
    assert.match(broken.lag, /Command 'check_skypg_lag' not defined/);
  });
});

describe('the npm package', () => {
  it('npm pack makes a tarball that npm install -g installs, with skypg on the PATH', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skypg-pack-'));
    try {
      const packed = await runProgram('npm', ['pack', '--silent', '--pack-destination', dir], {
        timeoutMs: 120_000,
      });
      const tarball = join(dir, packed.stdout.trim().split('\n').at(-1) ?? '');
      const listing = await runProgram('tar', ['-tzf', tarball]);
      const files = listing.stdout.split('\n');
      for (const expected of [
        'package/bin/run.js',
        'package/dist/commands/supervisor.js',
        'package/oclif.manifest.json',
        'package/packaging/systemd/skypg.service',
        'package/packaging/haproxy/haproxy.cfg',
      ])
        assert.ok(files.includes(expected), `the package holds ${expected}`);
      assert.ok(!files.some((f) => f.startsWith('package/test/') || f.startsWith('package/src/')));
      const prefix = join(dir, 'prefix');
      // Dependencies come from npm's cache where it has them. Not --offline: npm ci stores the
      // tarballs but not the registry's package documents that a fresh resolve needs, so on a
      // new machine --offline fails with ENOTCACHED (seen); what is missing comes from the registry.
      await runProgram(
        'npm',
        [
          'install',
          '-g',
          '--prefix',
          prefix,
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          tarball,
        ],
        { timeoutMs: 300_000 },
      );
      const version = await runProgram('sh', ['-c', 'cd / && skypg --version'], {
        env: { PATH: `${join(prefix, 'bin')}:/usr/bin:/bin` },
      });
      const own = JSON.parse(await readFile('package.json', 'utf8')) as { version: string };
      assert.match(version.stdout, new RegExp(`^skypg/${own.version.replaceAll('.', '\\.')} `));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
