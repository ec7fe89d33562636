import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NagiosCode } from '../../src/lib/common/exit-codes.js';
import {
  type CheckState,
  type PerfdataItem,
  type Range,
  evaluate,
  formatCheckLine,
  formatPerfdata,
  formatRange,
  parsePlainNumber,
  parseRange,
  parseSeconds,
  parseSecondsRange,
  parseSizeRange,
  rangeAlerts,
  stateExitCode,
  worst,
} from '../../src/lib/checks/nagios.js';

const MiB = 1024 * 1024;

/** Parses a range that the test expects to be valid; fails the test otherwise. */
function range(text: string, parse: (t: string) => Range | { error: string } = plain): Range {
  const result = parse(text);
  if ('error' in result) assert.fail(result.error);
  return result;
}

function plain(text: string): Range | { error: string } {
  return parseRange(text, parsePlainNumber);
}

describe('parsePlainNumber', () => {
  const cases: [string, number | undefined][] = [
    ['10', 10],
    ['0', 0],
    ['-5', -5],
    ['1.5', 1.5],
    [' 7 ', 7],
    ['', undefined],
    ['abc', undefined],
    ['1e3', undefined],
    ['10MB', undefined],
    ['~', undefined],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} -> ${String(expected)}`, () => {
      assert.equal(parsePlainNumber(text), expected);
    });
  }
});

describe('parseSeconds', () => {
  const cases: [string, number | undefined][] = [
    ['30', 30],
    ['1.5', 1.5],
    ['0', 0],
    ['30s', 30],
    ['500ms', 0.5],
    ['2m', 120],
    ['2min', 120],
    ['1h', 3600],
    [' 45 ', 45],
    ['', undefined],
    ['abc', undefined],
    ['-1', undefined],
    ['10x', undefined],
    ['s', undefined],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} -> ${String(expected)}`, () => {
      assert.equal(parseSeconds(text), expected);
    });
  }
});

describe('parseRange with plain numbers', () => {
  const cases: [string, number, number, boolean][] = [
    ['10', 0, 10, false],
    ['10:', 10, Infinity, false],
    ['~:10', -Infinity, 10, false],
    ['10:20', 10, 20, false],
    ['@10:20', 10, 20, true],
    [':10', 0, 10, false],
    ['0', 0, 0, false],
    ['10:10', 10, 10, false],
    ['-10:-5', -10, -5, false],
    ['~:', -Infinity, Infinity, false],
    ['@10', 0, 10, true],
    ['@~:0', -Infinity, 0, true],
    ['1.5:2.5', 1.5, 2.5, false],
    [' 10:20 ', 10, 20, false],
  ];
  for (const [text, start, end, inside] of cases) {
    it(`${JSON.stringify(text)} -> ${inside ? '@' : ''}[${start}, ${end}]`, () => {
      assert.deepEqual(plain(text), { start, end, inside, text: text.trim() });
    });
  }
});

describe('parseRange with units', () => {
  const cases: [string, (t: string) => Range | { error: string }, number, number, boolean][] = [
    ['16MB', parseSizeRange, 0, 16 * MiB, false],
    ['1GiB', parseSizeRange, 0, 1024 * MiB, false],
    ['~:16MB', parseSizeRange, -Infinity, 16 * MiB, false],
    ['@1MB:2MB', parseSizeRange, MiB, 2 * MiB, true],
    ['512kB:', parseSizeRange, 512 * 1024, Infinity, false],
    ['1048576', parseSizeRange, 0, MiB, false],
    ['1MB:2097152', parseSizeRange, MiB, 2 * MiB, false],
    ['30s', parseSecondsRange, 0, 30, false],
    ['30', parseSecondsRange, 0, 30, false],
    ['500ms', parseSecondsRange, 0, 0.5, false],
    ['500ms:2m', parseSecondsRange, 0.5, 120, false],
    ['~:1.5', parseSecondsRange, -Infinity, 1.5, false],
    ['@10:1m', parseSecondsRange, 10, 60, true],
  ];
  for (const [text, parse, start, end, inside] of cases) {
    it(`${JSON.stringify(text)} -> ${inside ? '@' : ''}[${start}, ${end}]`, () => {
      assert.deepEqual(parse(text), { start, end, inside, text });
    });
  }
});

describe('parseRange errors', () => {
  const forms = 'write N, N:, ~:N, N:M or @N:M';
  const cases: [string, (t: string) => Range | { error: string }, RegExp][] = [
    ['abc', plain, /^"abc" is not a range: "abc" is not a number; write N/],
    ['20:10', plain, /^"20:10" is not a range: the start "20" is greater than the end "10", so /],
    ['20:10', plain, /write the smaller one first \(10:20\)/],
    ['@', plain, /^"@" is not a range: nothing follows "@"/],
    ['', plain, /^"" is not a range: it is empty/],
    ['   ', plain, /^"" is not a range: it is empty/],
    ['~', plain, /^"~" is not a range: "~" means minus infinity and needs ":" after it/],
    ['10:abc', plain, /^"10:abc" is not a range: "abc" is not a number/],
    ['abc:10', plain, /^"abc:10" is not a range: "abc" is not a number/],
    ['10:20:30', plain, /"20:30" is not a number/],
    ['-5', plain, /cannot be negative/],
    ['@@10', plain, /"@10" is not a number/],
    ['10:~', plain, /"~" is not a number/],
    ['@20:10', plain, /\(@10:20\)/],
    [':-5', plain, /the start "0" is greater than the end "-5".*\(-5:0\)/],
    ['16XB', parseSizeRange, /"16XB" is not a size such as 16MB/],
    ['2MB:1MB', parseSizeRange, /the start "2MB" is greater than the end "1MB".*\(1MB:2MB\)/],
    ['-1MB', parseSizeRange, /"-1MB" is not a size/],
    ['30x', parseSecondsRange, /"30x" is not a duration such as 30 \(seconds\)/],
    ['1m:30s', parseSecondsRange, /the start "1m" is greater than the end "30s"/],
  ];
  for (const [text, parse, pattern] of cases) {
    it(`${JSON.stringify(text)} is rejected`, () => {
      const result = parse(text);
      assert.ok('error' in result, `expected an error, got ${JSON.stringify(result)}`);
      assert.match(result.error, pattern);
      assert.ok(result.error.endsWith(forms), result.error);
    });
  }
  it('a parser returning NaN is treated as malformed', () => {
    assert.ok('error' in parseRange('x', () => NaN));
  });
});

describe('rangeAlerts', () => {
  // The guideline examples, probed at and around each endpoint.
  const cases: [string, number, boolean][] = [
    ['10', -1, true],
    ['10', 0, false],
    ['10', 5, false],
    ['10', 10, false],
    ['10', 11, true],
    ['10:', 9, true],
    ['10:', 10, false],
    ['10:', 1e12, false],
    ['~:10', -1e12, false],
    ['~:10', 10, false],
    ['~:10', 10.5, true],
    ['10:20', 9, true],
    ['10:20', 10, false],
    ['10:20', 15, false],
    ['10:20', 20, false],
    ['10:20', 21, true],
    ['@10:20', 9, false],
    ['@10:20', 10, true],
    ['@10:20', 15, true],
    ['@10:20', 20, true],
    ['@10:20', 21, false],
    ['~:', -1e12, false],
    ['~:', 1e12, false],
    ['@10', 0, true],
    ['@10', -1, false],
  ];
  for (const [text, value, expected] of cases) {
    it(`${text} with ${value} -> ${expected ? 'alert' : 'no alert'}`, () => {
      assert.equal(rangeAlerts(range(text), value), expected);
    });
  }
  it('size ranges compare bytes', () => {
    assert.equal(rangeAlerts(range('~:16MB', parseSizeRange), 20 * MiB), true);
    assert.equal(rangeAlerts(range('~:16MB', parseSizeRange), 16 * MiB), false);
  });
});

describe('evaluate', () => {
  const cases: [number, string | undefined, string | undefined, 'ok' | 'warning' | 'critical'][] = [
    [5, '~:10', '~:20', 'ok'],
    [10, '~:10', '~:20', 'ok'],
    [15, '~:10', '~:20', 'warning'],
    [20, '~:10', '~:20', 'warning'],
    [25, '~:10', '~:20', 'critical'],
    [25, undefined, '~:20', 'critical'],
    [15, undefined, '~:20', 'ok'],
    [15, '~:10', undefined, 'warning'],
    [15, undefined, undefined, 'ok'],
    // Critical wins even where the warning range would not alert.
    [5, '~:10', '@0:5', 'critical'],
  ];
  for (const [value, warning, critical, expected] of cases) {
    it(`${value} with w=${String(warning)} c=${String(critical)} -> ${expected}`, () => {
      const thresholds = {
        ...(warning === undefined ? {} : { warning: range(warning) }),
        ...(critical === undefined ? {} : { critical: range(critical) }),
      };
      assert.equal(evaluate(value, thresholds), expected);
    });
  }
});

describe('worst', () => {
  const cases: [CheckState[], CheckState][] = [
    [[], 'ok'],
    [['ok'], 'ok'],
    [['ok', 'ok'], 'ok'],
    [['ok', 'unknown'], 'unknown'],
    [['unknown', 'ok'], 'unknown'],
    [['unknown', 'warning'], 'warning'],
    [['warning', 'unknown', 'ok'], 'warning'],
    [['ok', 'critical', 'warning'], 'critical'],
    [['critical', 'unknown'], 'critical'],
  ];
  for (const [states, expected] of cases) {
    it(`[${states.join(', ')}] -> ${expected}`, () => {
      assert.equal(worst(...states), expected);
    });
  }
});

describe('stateExitCode', () => {
  const cases: [CheckState, number][] = [
    ['ok', 0],
    ['warning', 1],
    ['critical', 2],
    ['unknown', 3],
  ];
  for (const [state, code] of cases) {
    it(`${state} -> ${code}`, () => {
      assert.equal(stateExitCode(state), code);
      assert.equal(stateExitCode(state), NagiosCode[state]);
    });
  }
});

describe('formatRange', () => {
  const cases: [Range, string][] = [
    [range('10'), '10'],
    [range('10:'), '10:'],
    [range('~:10'), '~:10'],
    [range('10:20'), '10:20'],
    [range('@10:20'), '@10:20'],
    [range('@10'), '@10'],
    [range('~:'), '~:'],
    [range(':'), '0:'],
    [range('-10:-5'), '-10:-5'],
    [range('16MB', parseSizeRange), '16777216'],
    [range('~:16MB', parseSizeRange), '~:16777216'],
    [range('@1MB:2MB', parseSizeRange), '@1048576:2097152'],
    [range('500ms:2m', parseSecondsRange), '0.5:120'],
  ];
  for (const [input, expected] of cases) {
    it(`${input.text} -> ${expected}`, () => {
      assert.equal(formatRange(input), expected);
    });
  }
});

describe('formatPerfdata', () => {
  const cases: [string, PerfdataItem[], string][] = [
    ['nothing', [], ''],
    ['value only', [{ label: 'lag', value: 3 }], 'lag=3'],
    ['value with uom', [{ label: 'lag_seconds', value: 3, uom: 's' }], 'lag_seconds=3s'],
    ['undetermined value', [{ label: 'lag_seconds', value: undefined, uom: 's' }], 'lag_seconds=U'],
    ['NaN is undetermined', [{ label: 'x', value: NaN, min: 0 }], 'x=U;;;0'],
    [
      'guideline example, bytes',
      [
        {
          label: 'lag_bytes',
          value: 20 * MiB,
          uom: 'B',
          warning: range('16MB', parseSizeRange),
          critical: range('32MB', parseSizeRange),
          min: 0,
        },
      ],
      'lag_bytes=20971520B;16777216;33554432;0',
    ],
    [
      'inner empty fields stay',
      [{ label: 'lag_seconds', value: 3, uom: 's', min: 0 }],
      'lag_seconds=3s;;;0',
    ],
    [
      'all fields',
      [{ label: 'a', value: 1.5, warning: range('~:1'), critical: range('@2:3'), min: 0, max: 9 }],
      'a=1.5;~:1;@2:3;0;9',
    ],
    ['only critical', [{ label: 'a', value: 1, critical: range('10:') }], 'a=1;;10:'],
    ['max without min', [{ label: 'pct', value: 50, uom: '%', max: 100 }], 'pct=50%;;;;100'],
    ['infinite max dropped', [{ label: 'a', value: 1, min: 0, max: Infinity }], 'a=1;;;0'],
    ['label with space', [{ label: 'lag host2', value: 1 }], "'lag host2'=1"],
    ['label with equals', [{ label: 'a=b', value: 1 }], "'a=b'=1"],
    ['label with quote', [{ label: "host's lag", value: 1 }], "'host''s lag'=1"],
    ['no exponent for tiny', [{ label: 'a', value: 1e-7 }], 'a=0.0000001'],
    ['no exponent for huge', [{ label: 'a', value: 1e21 }], 'a=1000000000000000000000'],
    [
      'several items',
      [
        { label: 'lag_bytes', value: 0, uom: 'B', min: 0 },
        { label: 'lag_seconds', value: 0.25, uom: 's', min: 0 },
      ],
      'lag_bytes=0B;;;0 lag_seconds=0.25s;;;0',
    ],
  ];
  for (const [name, items, expected] of cases) {
    it(name, () => {
      assert.equal(formatPerfdata(items), expected);
    });
  }
});

describe('formatCheckLine', () => {
  const perf = 'lag_bytes=20971520B;16777216;33554432;0 lag_seconds=3s;;;0';
  const cases: [string, [string, CheckState, string, string?], string][] = [
    [
      'guideline example',
      ['SKYPG_LAG', 'warning', 'standby host2 is 20MiB behind', perf],
      `SKYPG_LAG WARNING - standby host2 is 20MiB behind | ${perf}`,
    ],
    ['ok without perfdata', ['SKYPG_LAG', 'ok', 'in sync'], 'SKYPG_LAG OK - in sync'],
    ['empty perfdata omitted', ['SKYPG_LAG', 'ok', 'in sync', ''], 'SKYPG_LAG OK - in sync'],
    ['blank perfdata omitted', ['SKYPG_LAG', 'ok', 'in sync', '  '], 'SKYPG_LAG OK - in sync'],
    ['critical', ['SKYPG_LAG', 'critical', 'down', 'a=1'], 'SKYPG_LAG CRITICAL - down | a=1'],
    ['unknown', ['SKYPG_LAG', 'unknown', 'no answer'], 'SKYPG_LAG UNKNOWN - no answer'],
    ['newline', ['SKYPG_LAG', 'unknown', 'a\nb'], 'SKYPG_LAG UNKNOWN - a b'],
    ['crlf', ['SKYPG_LAG', 'unknown', 'a\r\nb\n'], 'SKYPG_LAG UNKNOWN - a b'],
    ['pipe in text', ['SKYPG_LAG', 'unknown', 'a | b', 'x=1'], 'SKYPG_LAG UNKNOWN - a / b | x=1'],
  ];
  for (const [name, args, expected] of cases) {
    it(name, () => {
      const line = formatCheckLine(...args);
      assert.equal(line, expected);
      assert.ok(!/[\r\n]/.test(line));
    });
  }
});
