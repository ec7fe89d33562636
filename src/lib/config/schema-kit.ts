// A small declarative validator for the configuration. It reports every problem (not just
// the first) with the key path it belongs to, so the loader can point at file:line:col.
// Hand-written rather than a library: the messages, unit parsing and "did you mean" are the
// product here, and it keeps start-up free of another import (cron runs skypg every minute).
import { isIP } from 'node:net';
import { didYouMean } from './suggest.js';
import {
  formatDurationLimit,
  maxDurationMs,
  maxSizeBytes,
  parseDuration,
  parseSize,
} from './units.js';

export type KeyPath = readonly (string | number)[];

export interface Issue {
  path: KeyPath;
  message: string;
  /** Point at the key itself (unknown keys) rather than its value. */
  atKey?: boolean;
}

const invalid: unique symbol = Symbol('invalid');
type Invalid = typeof invalid;

export abstract class Schema<T> {
  /** A short phrase for docs and messages: "an integer from 1 to 65535". */
  abstract readonly expected: string;
  abstract check(value: unknown, path: KeyPath, issues: Issue[]): T | Invalid;

  optional(): Schema<T | undefined> {
    return new OptionalSchema(this);
  }

  default(value: T): Schema<T> {
    return new DefaultSchema(this, value);
  }
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

/** Missing (absent or YAML null) values are handled by these two wrappers only. */
class OptionalSchema<T> extends Schema<T | undefined> {
  constructor(readonly inner: Schema<T>) {
    super();
  }
  get expected(): string {
    return this.inner.expected;
  }
  check(value: unknown, path: KeyPath, issues: Issue[]): T | undefined | Invalid {
    return isMissing(value) ? undefined : this.inner.check(value, path, issues);
  }
}

class DefaultSchema<T> extends Schema<T> {
  constructor(
    readonly inner: Schema<T>,
    readonly defaultValue: T,
  ) {
    super();
  }
  get expected(): string {
    return this.inner.expected;
  }
  check(value: unknown, path: KeyPath, issues: Issue[]): T | Invalid {
    return isMissing(value) ? this.defaultValue : this.inner.check(value, path, issues);
  }
}

function isMissing(value: unknown): boolean {
  return value === undefined || value === null;
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object' && value !== null) return 'a mapping';
  return String(value);
}

function fail(issues: Issue[], path: KeyPath, message: string): Invalid {
  issues.push({ path, message });
  return invalid;
}

// C0 controls and DEL: a newline in a value becomes a new line in a fence agent's stdin, in
// postgresql.auto.conf or in pg_hba.conf, so no string of the configuration may hold one.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const controlCharacter = /[\u0000-\u001f\u007f]/;

export function containsControlCharacter(text: string): boolean {
  return controlCharacter.test(text);
}

/** Records the problem and returns true when `text` holds a control character. */
function hasControl(text: string, path: KeyPath, issues: Issue[]): boolean {
  if (!controlCharacter.test(text)) return false;
  fail(
    issues,
    path,
    `must not contain control characters (newline, carriage return, tab, NUL...), got ${show(text)}; write the value on one line`,
  );
  return true;
}

class StringSchema extends Schema<string> {
  constructor(
    readonly expected: string,
    private readonly test?: (value: string) => boolean,
  ) {
    super();
  }
  check(value: unknown, path: KeyPath, issues: Issue[]): string | Invalid {
    if (typeof value === 'number' && this.test === undefined) return String(value);
    if (typeof value === 'string' && hasControl(value, path, issues)) return invalid;
    if (typeof value !== 'string' || value.trim() === '' || (this.test && !this.test(value))) {
      return fail(issues, path, `expected ${this.expected}, got ${show(value)}`);
    }
    return value;
  }
}

/** A scalar of any type, kept as its string form (fence agent options: lanplus: 1). */
class ScalarSchema extends Schema<string> {
  readonly expected = 'a string, number or boolean';
  check(value: unknown, path: KeyPath, issues: Issue[]): string | Invalid {
    if (typeof value === 'string' && hasControl(value, path, issues)) return invalid;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      return String(value);
    }
    return fail(issues, path, `expected ${this.expected}, got ${show(value)}`);
  }
}

class IntegerSchema extends Schema<number> {
  readonly expected: string;
  constructor(
    private readonly min: number,
    private readonly max: number,
  ) {
    super();
    this.expected =
      max === Number.MAX_SAFE_INTEGER
        ? `an integer of at least ${min}`
        : `an integer from ${min} to ${max}`;
  }
  check(value: unknown, path: KeyPath, issues: Issue[]): number | Invalid {
    // A string must be plain decimal digits: Number() would also read "0x1538" or "1e3".
    const number =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && /^\s*\d+\s*$/.test(value)
          ? Number(value)
          : NaN;
    if (!Number.isInteger(number) || number < this.min || number > this.max) {
      return fail(issues, path, `expected ${this.expected}, got ${show(value)}`);
    }
    return number;
  }
}

class BooleanSchema extends Schema<boolean> {
  readonly expected = 'true or false';
  check(value: unknown, path: KeyPath, issues: Issue[]): boolean | Invalid {
    if (typeof value !== 'boolean') {
      return fail(issues, path, `expected ${this.expected}, got ${show(value)}`);
    }
    return value;
  }
}

/** `false` (the feature is off), or the inner schema's value: `api: false`. */
class FalseOrSchema<T> extends Schema<T | false> {
  constructor(readonly inner: Schema<T>) {
    super();
  }
  get expected(): string {
    return `false or ${this.inner.expected}`;
  }
  check(value: unknown, path: KeyPath, issues: Issue[]): T | false | Invalid {
    if (value === false) return false;
    if (value === true) return fail(issues, path, `expected ${this.expected}, got true`);
    return this.inner.check(value, path, issues);
  }
}

class EnumSchema<T extends string> extends Schema<T> {
  readonly expected: string;
  constructor(private readonly choices: readonly T[]) {
    super();
    this.expected = `one of ${choices.map((choice) => `"${choice}"`).join(', ')}`;
  }
  check(value: unknown, path: KeyPath, issues: Issue[]): T | Invalid {
    const match = this.choices.find((choice) => choice === value);
    if (match === undefined) {
      const hint = typeof value === 'string' ? didYouMean(value, this.choices) : '';
      return fail(issues, path, `expected ${this.expected}, got ${show(value)}${hint}`);
    }
    return match;
  }
}

/** A value with a unit, converted to a number (ms for durations, bytes for sizes). */
class UnitSchema extends Schema<number> {
  constructor(
    readonly expected: string,
    private readonly parse: (text: string) => number | undefined,
    private readonly min: { value: number; text: string },
    private readonly max: { value: number; text: string },
    private readonly acceptBareNumber: boolean,
  ) {
    super();
  }
  check(value: unknown, path: KeyPath, issues: Issue[]): number | Invalid {
    let parsed: number | undefined;
    if (typeof value === 'string') parsed = this.parse(value);
    else if (typeof value === 'number' && this.acceptBareNumber && Number.isInteger(value)) {
      parsed = value;
    }
    if (parsed === undefined) {
      const bare = typeof value === 'number' ? ' (add a unit)' : '';
      return fail(issues, path, `expected ${this.expected}, got ${show(value)}${bare}`);
    }
    if (parsed < this.min.value) {
      return fail(issues, path, `must be at least ${this.min.text}, got ${show(value)}`);
    }
    if (parsed > this.max.value) {
      return fail(issues, path, `must be at most ${this.max.text}, got ${show(value)}`);
    }
    return parsed;
  }
}

class ArraySchema<T> extends Schema<T[]> {
  readonly expected: string;
  constructor(
    private readonly item: Schema<T>,
    private readonly length: { min?: number; max?: number; acceptSingle?: boolean },
  ) {
    super();
    this.expected = `a list of ${item.expected}`;
  }
  check(value: unknown, path: KeyPath, issues: Issue[]): T[] | Invalid {
    const list = !Array.isArray(value) && this.length.acceptSingle ? [value] : value;
    if (!Array.isArray(list))
      return fail(issues, path, `expected ${this.expected}, got ${show(value)}`);
    const { min, max } = this.length;
    if (min !== undefined && max !== undefined && min === max && list.length !== min) {
      return fail(issues, path, `expected exactly ${min} entries, got ${list.length}`);
    }
    if (min !== undefined && list.length < min) {
      return fail(issues, path, `expected at least ${min} entries, got ${list.length}`);
    }
    if (max !== undefined && list.length > max) {
      return fail(issues, path, `expected at most ${max} entries, got ${list.length}`);
    }
    const out: T[] = [];
    let ok = true;
    for (const [index, entry] of (list as unknown[]).entries()) {
      const checked = this.item.check(entry, [...path, index], issues);
      if (checked === invalid) ok = false;
      else out.push(checked);
    }
    return ok ? out : invalid;
  }
}

class RecordSchema<T> extends Schema<Record<string, T>> {
  readonly expected: string;
  constructor(private readonly value: Schema<T>) {
    super();
    this.expected = `a mapping of names to ${value.expected}`;
  }
  check(input: unknown, path: KeyPath, issues: Issue[]): Record<string, T> | Invalid {
    if (!isPlainObject(input))
      return fail(issues, path, `expected ${this.expected}, got ${show(input)}`);
    const out: Record<string, T> = {};
    let ok = true;
    for (const [key, entry] of Object.entries(input)) {
      if (hasControl(key, [...path, key], issues)) {
        ok = false;
        continue;
      }
      const checked = this.value.check(entry, [...path, key], issues);
      if (checked === invalid) ok = false;
      else out[key] = checked;
    }
    return ok ? out : invalid;
  }
}

type Shape = Record<string, Schema<unknown>>;
type InferShape<S extends Shape> = { [K in keyof S]: Infer<S[K]> };

export class ObjectSchema<S extends Shape> extends Schema<InferShape<S>> {
  readonly expected = 'a mapping';
  constructor(readonly shape: S) {
    super();
  }
  check(value: unknown, path: KeyPath, issues: Issue[]): InferShape<S> | Invalid {
    if (!isPlainObject(value)) return fail(issues, path, `expected a mapping, got ${show(value)}`);
    const known = Object.keys(this.shape);
    let ok = true;
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        issues.push({
          path: [...path, key],
          message: `unknown key${didYouMean(key, known)}`,
          atKey: true,
        });
        ok = false;
      }
    }
    const out: Record<string, unknown> = {};
    for (const [key, schema] of Object.entries(this.shape)) {
      const entry = value[key];
      if (
        isMissing(entry) &&
        !(schema instanceof OptionalSchema || schema instanceof DefaultSchema)
      ) {
        issues.push({ path: [...path, key], message: `is required (${schema.expected})` });
        ok = false;
        continue;
      }
      const checked: unknown = schema.check(entry, [...path, key], issues);
      if (checked === invalid) ok = false;
      else out[key] = checked;
    }
    return ok ? (out as InferShape<S>) : invalid;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Walks a schema's keys, for docs and tests: [["postgres","port"], ...]. */
export function keyPaths(schema: Schema<unknown>, prefix: string[] = []): string[][] {
  let inner = schema;
  while (
    inner instanceof OptionalSchema ||
    inner instanceof DefaultSchema ||
    inner instanceof FalseOrSchema
  )
    inner = (inner as { inner: Schema<unknown> }).inner;
  if (inner instanceof ObjectSchema) {
    return Object.entries(inner.shape as Shape).flatMap(([key, child]) => [
      [...prefix, key],
      ...keyPaths(child, [...prefix, key]),
    ]);
  }
  if (inner instanceof ArraySchema) {
    return keyPaths((inner as unknown as { item: Schema<unknown> }).item, prefix);
  }
  return [];
}

/** Runs a schema; the value is present only when there were no issues. */
export function validate<T>(schema: Schema<T>, value: unknown): { value?: T; issues: Issue[] } {
  const issues: Issue[] = [];
  const checked = schema.check(value, [], issues);
  return checked === invalid || issues.length > 0 ? { issues } : { value: checked, issues };
}

export const s = {
  string: (expected = 'a non-empty string') => new StringSchema(expected),
  matching: (expected: string, test: (value: string) => boolean) =>
    new StringSchema(expected, test),
  integer: (min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) =>
    new IntegerSchema(min, max),
  boolean: () => new BooleanSchema(),
  falseOr: <T>(inner: Schema<T>) => new FalseOrSchema(inner),
  scalar: () => new ScalarSchema(),
  oneOf: <T extends string>(choices: readonly T[]) => new EnumSchema(choices),
  duration: (minMs = 0, maxMs = maxDurationMs) =>
    new UnitSchema(
      'a duration such as 500ms, 1s or 2m',
      parseDuration,
      { value: minMs, text: formatDurationLimit(minMs) },
      { value: maxMs, text: formatDurationLimit(maxMs) },
      false,
    ),
  size: () =>
    new UnitSchema(
      'a size such as 16MB or 1GiB',
      parseSize,
      { value: 0, text: '0' },
      { value: maxSizeBytes, text: '1024TB' },
      true,
    ),
  array: <T>(
    item: Schema<T>,
    length: { min?: number; max?: number; acceptSingle?: boolean } = {},
  ) => new ArraySchema(item, length),
  record: <T>(value: Schema<T>) => new RecordSchema(value),
  object: <S extends Shape>(shape: S) => new ObjectSchema(shape),
  ipAddress: () => new StringSchema('an IP address', (value) => isIP(value) !== 0),
  host: () =>
    new StringSchema(
      'an IP address or host name',
      (value) => isIP(value) !== 0 || isHostName(value),
    ),
  cidr: () =>
    new StringSchema('an address with a prefix length, such as 10.0.0.130/24', (value) => {
      const [address, prefix, extra] = value.split('/');
      if (address === undefined || prefix === undefined || extra !== undefined) return false;
      const family = isIP(address);
      const bits = Number(prefix);
      return family !== 0 && /^\d+$/.test(prefix) && bits >= 0 && bits <= (family === 4 ? 32 : 128);
    }),
  absolutePath: () => new StringSchema('an absolute path', (value) => value.startsWith('/')),
  identifier: () =>
    new StringSchema('a name of letters, digits, "_" and "-" (at most 63 characters)', (value) =>
      /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(value),
    ),
  /**
   * A PostgreSQL role or database name (or an OS user): PostgreSQL keeps 63 bytes, and this
   * set needs no quoting in conninfo, pg_hba.conf or postgresql.auto.conf.
   */
  roleName: () =>
    new StringSchema(
      'a PostgreSQL name such as sky_pg_cluster (a letter or "_", then letters, digits, "_", "-" or ".", at most 63 bytes)',
      (value) => /^[A-Za-z_][A-Za-z0-9_.-]{0,62}$/.test(value),
    ),
  /** What the kernel takes as an interface name (IFNAMSIZ 16, no "/", ":" or white space). */
  interfaceName: () =>
    new StringSchema(
      'a network interface name such as eth0 (1 to 15 letters, digits, "_", "." or "-")',
      (value) => /^[A-Za-z0-9_.-]{1,15}$/.test(value) && value !== '.' && value !== '..',
    ),
};

/**
 * A DNS host name: labels of letters, digits and "-" (not at either end), at most 63 each and
 * 253 in all. The last label is not all digits, so "999.1.1.1" is no name but a bad IPv4.
 */
function isHostName(value: string): boolean {
  const labels = value.split('.');
  const last = labels[labels.length - 1] ?? '';
  return (
    value.length <= 253 &&
    !/^\d+$/.test(last) &&
    labels.every((label) => /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label))
  );
}
