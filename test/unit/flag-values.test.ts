// The parsed flags (durationFlag, sizeFlag, reasonFlag, parsedFlag), run through oclif's own
// parser as a command's this.parse runs them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Flags, Parser } from '@oclif/core';
import { formatErrorLine, toSkypgError } from '../../src/lib/cli/base-command.js';
import { SkypgError } from '../../src/lib/common/errors.js';
import { sizeThreshold } from '../../src/lib/checks/thresholds.js';
import { durationFlag, parsedFlag, reasonFlag, sizeFlag } from '../../src/lib/cli/flag-values.js';

const flags = {
  timeout: durationFlag({ summary: 'Give up after this long.', default: '2s' }),
  watch: durationFlag({ summary: 'Repeat.', minMs: 1000, bareSeconds: true }),
  'max-lag': sizeFlag({ summary: 'Lag bound.' }),
  'chunk-size': sizeFlag({ summary: 'Chunk.', default: '1MB' }),
  reason: reasonFlag({ summary: 'Who and why.' }),
  warning: parsedFlag('RANGE', { char: 'w', summary: 'Byte lag range.' }, sizeThreshold),
};

async function parse(argv: string[]) {
  return (await Parser.parse(argv, { flags })).flags;
}

/** The one line a person sees for argv, as the base command prints it. */
async function errorLine(argv: string[]): Promise<{ code: string; line: string }> {
  try {
    await parse(argv);
  } catch (error) {
    assert.ok(error instanceof SkypgError, String(error));
    const shown = toSkypgError(error);
    return { code: shown.code, line: formatErrorLine(shown) };
  }
  assert.fail(`${argv.join(' ')} was accepted`);
}

describe('durationFlag', () => {
  const good: [string[], 'timeout' | 'watch', number | undefined][] = [
    [['--timeout', '500ms'], 'timeout', 500],
    [['--timeout=1.5s'], 'timeout', 1500],
    [['--timeout', '2m'], 'timeout', 120_000],
    [['--timeout', '24h'], 'timeout', 86_400_000],
    [[], 'timeout', 2000],
    [['--watch', '2'], 'watch', 2000],
    [['--watch', '2s'], 'watch', 2000],
    [[], 'watch', undefined],
  ];
  for (const [argv, name, ms] of good) {
    it(`${JSON.stringify(argv)}: --${name} is ${String(ms)}`, async () => {
      assert.equal((await parse(argv))[name], ms);
    });
  }

  it('help shows the default as written; the command gets milliseconds', async () => {
    assert.equal(flags.timeout.default, 2000);
    assert.equal(flags.timeout.helpValue, 'DURATION');
    const help = flags.timeout.defaultHelp as () => Promise<string | undefined>;
    assert.equal(await help(), '2s');
  });

  it('a default outside the limits is refused where the flag is defined', () => {
    assert.throws(
      () => durationFlag({ summary: 'Repeat.', minMs: 1000, default: '10ms' }),
      /the default must be at least 1s/,
    );
  });
});

describe('sizeFlag', () => {
  const good: [string[], 'max-lag' | 'chunk-size', number | undefined][] = [
    [['--max-lag', '16MB'], 'max-lag', 16 * 1024 ** 2],
    [['--max-lag', '1GiB'], 'max-lag', 1024 ** 3],
    [['--max-lag', '512kB'], 'max-lag', 512 * 1024],
    [['--max-lag', '100'], 'max-lag', 100],
    [[], 'max-lag', undefined],
    [[], 'chunk-size', 1024 ** 2],
  ];
  for (const [argv, name, bytes] of good) {
    it(`${JSON.stringify(argv)}: --${name} is ${String(bytes)}`, async () => {
      assert.equal((await parse(argv))[name], bytes);
    });
  }

  it('help shows a size default as written', async () => {
    assert.equal(flags['chunk-size'].helpValue, 'SIZE');
    const help = flags['chunk-size'].defaultHelp as () => Promise<string | undefined>;
    assert.equal(await help(), '1MB');
  });
});

describe('a bad DURATION or SIZE is one line naming the flag', () => {
  const bad: [string[], string][] = [
    [
      ['--timeout', 'soon'],
      'skypg: --timeout "soon" is not a duration (hint: write it with a unit, e.g. --timeout 500ms or --timeout 2s)',
    ],
    [
      ['--timeout', '2'],
      'skypg: --timeout "2" is not a duration (hint: write it with a unit, e.g. --timeout 500ms or --timeout 2s)',
    ],
    [
      ['--timeout', '0s'],
      'skypg: --timeout must be at least 1ms, got "0s" (hint: give a duration from 1ms to 24h, e.g. --timeout 2s)',
    ],
    [
      ['--timeout', '25h'],
      'skypg: --timeout must be at most 24h, got "25h" (hint: give a duration from 1ms to 24h, e.g. --timeout 2s)',
    ],
    [
      ['--watch', '0'],
      'skypg: --watch must be at least 1s, got "0" (hint: give a duration from 1s to 24h, e.g. --watch 2s)',
    ],
    [
      ['--watch', '500ms'],
      'skypg: --watch must be at least 1s, got "500ms" (hint: give a duration from 1s to 24h, e.g. --watch 2s)',
    ],
    [
      ['--max-lag', 'lots'],
      'skypg: --max-lag "lots" is not a size (hint: write it with a unit, e.g. --max-lag 16MB)',
    ],
    [
      ['--max-lag', '16XB'],
      'skypg: --max-lag "16XB" is not a size (hint: write it with a unit, e.g. --max-lag 16MB)',
    ],
    [
      ['--max-lag', '2048TB'],
      'skypg: --max-lag must be at most 1024TB, got "2048TB" (hint: give a size such as --max-lag 16MB)',
    ],
    [
      ['--reason', ' '],
      'skypg: --reason is empty (hint: say who and why, e.g. --reason "kernel update on host2", or leave --reason out)',
    ],
    [
      ['--reason', 'a\nb'],
      'skypg: --reason must not contain control characters (newline, tab...) (hint: write it on one line, e.g. --reason "kernel update on host2")',
    ],
    [
      ['--reason', 'x'.repeat(201)],
      'skypg: --reason is 201 characters long, above 200 (hint: keep it short, e.g. --reason "kernel update on host2")',
    ],
    [
      ['-w', '8XB'],
      'skypg: --warning: "8XB" is not a range: "8XB" is not a size such as 16MB, 1GiB or a byte count; write N, N:, ~:N, N:M or @N:M',
    ],
  ];
  for (const [argv, line] of bad) {
    it(`${JSON.stringify(argv)}: ${line}`, async () => {
      assert.deepEqual(await errorLine(argv), { code: 'USAGE', line });
    });
  }
});

describe('reasonFlag and parsedFlag', () => {
  it('a reason is trimmed; no --reason is undefined', async () => {
    assert.equal((await parse(['--reason', ' kernel update '])).reason, 'kernel update');
    assert.equal((await parse([])).reason, undefined);
  });

  it('a RANGE flag gives the parsed range', async () => {
    const { warning } = await parse(['-w', '~:16MB']);
    assert.equal(warning?.end, 16 * 1024 ** 2);
    assert.equal(warning?.inside, false);
    assert.equal(flags.warning.helpValue, 'RANGE');
  });
});

describe("an oclif parser error's wrapping", () => {
  it('Flags.integer: only its own message is kept', async () => {
    try {
      await Parser.parse(['--lines', 'abc'], {
        flags: { lines: Flags.integer() },
      });
    } catch (error) {
      assert.ok(error instanceof Error);
      assert.equal(toSkypgError(error).message, 'Expected an integer but received: abc');
      return;
    }
    assert.fail('--lines abc was accepted');
  });
});
