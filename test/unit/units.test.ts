import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatDuration,
  formatSize,
  parseDuration,
  parseSize,
} from '../../src/lib/config/units.js';

describe('parseDuration', () => {
  const cases: [string, number | undefined][] = [
    ['500ms', 500],
    ['1s', 1000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['2min', 120_000],
    ['1h', 3_600_000],
    [' 3s ', 3000],
    ['1', undefined],
    ['1x', undefined],
    ['s', undefined],
    ['-1s', undefined],
    ['', undefined],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} -> ${String(expected)}`, () => {
      assert.equal(parseDuration(text), expected);
    });
  }
});

describe('parseSize', () => {
  const cases: [string, number | undefined][] = [
    ['16MB', 16 * 1024 * 1024],
    ['16MiB', 16 * 1024 * 1024],
    ['1GiB', 1024 ** 3],
    ['1gb', 1024 ** 3],
    ['512kB', 512 * 1024],
    ['100B', 100],
    ['100', 100],
    ['1.5KB', 1536],
    ['16 MB', 16 * 1024 * 1024],
    ['16XB', undefined],
    ['MB', undefined],
    ['-5MB', undefined],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} -> ${String(expected)}`, () => {
      assert.equal(parseSize(text), expected);
    });
  }
});

describe('formatting', () => {
  it('sizes', () => {
    assert.equal(formatSize(812), '812B');
    assert.equal(formatSize(16 * 1024 * 1024), '16MiB');
    assert.equal(formatSize(1.5 * 1024 ** 3), '1.5GiB');
  });
  it('durations', () => {
    assert.equal(formatDuration(500), '500ms');
    assert.equal(formatDuration(1500), '1.5s');
    assert.equal(formatDuration(120_000), '2m');
    assert.equal(formatDuration(150_000), '2m30s');
  });
});
