// Flags whose values are parsed (durations, sizes, free text): each is an oclif custom flag, so a
// command gets milliseconds, bytes or clean text from this.parse, and a bad value stops the
// command there, before anything is read or done, with one line naming the flag.
import { Flags, type Interfaces } from '@oclif/core';
import { containsControlCharacter } from '../config/schema-kit.js';
import {
  formatDurationLimit,
  maxDurationMs,
  maxSizeBytes,
  parseDuration,
  parseSize,
} from '../config/units.js';
import { SkypgError } from '../common/errors.js';

export interface DurationLimits {
  /** Smallest accepted value in ms (default 1ms: a zero timeout means nothing). */
  minMs?: number;
  /** Largest accepted value in ms (default 24h, as in the configuration). */
  maxMs?: number;
  /** A bare number means seconds (`status --watch 2`). */
  bareSeconds?: boolean;
}

/** What a command says about a parsed flag; the parse, the type and the help value come from here. */
export type FlagText = Pick<
  Partial<Interfaces.OptionFlag<unknown>>,
  'char' | 'summary' | 'description' | 'helpGroup' | 'hidden' | 'env'
>;

export type UnitFlagOptions = FlagText & {
  /** The default as a person writes it ("2s"): help shows it, the command gets the number. */
  default?: string;
};

/** A DURATION flag: the command gets milliseconds. */
export function durationFlag(
  options: UnitFlagOptions & DurationLimits & { default: string },
): Interfaces.OptionFlag<number>;
export function durationFlag(
  options: UnitFlagOptions & DurationLimits,
): Interfaces.OptionFlag<number | undefined>;
export function durationFlag({
  minMs,
  maxMs,
  bareSeconds,
  ...options
}: UnitFlagOptions & DurationLimits): Interfaces.OptionFlag<number | undefined> {
  return parsedFlag('DURATION', options, (flag, text) =>
    parseDurationFlag(flag, text, { minMs, maxMs, bareSeconds }),
  );
}

/** A SIZE flag: the command gets bytes. */
export function sizeFlag(
  options: UnitFlagOptions & { default: string },
): Interfaces.OptionFlag<number>;
export function sizeFlag(options: UnitFlagOptions): Interfaces.OptionFlag<number | undefined>;
export function sizeFlag(options: UnitFlagOptions): Interfaces.OptionFlag<number | undefined> {
  return parsedFlag('SIZE', options, parseSizeFlag);
}

/**
 * A flag whose text parseValue turns into a T, or throws a SkypgError about `flag` ("--timeout").
 * A default is given as text and parsed here, once: help shows the text, the command gets the T.
 */
export function parsedFlag<T>(
  helpValue: string | undefined,
  { default: text, ...options }: FlagText & { default?: string },
  parseValue: (flag: string, text: string) => T,
): Interfaces.OptionFlag<T | undefined> {
  // Built as Flags.custom<unknown> and then typed: oclif's conditional flag types (NotArray,
  // FlagReturnType) stay unresolved for a generic T, and parseValue returns exactly a T.
  const definition = Flags.custom<unknown>({
    ...(helpValue === undefined ? {} : { helpValue }),
    // oclif awaits this inside its try, so a throw here is reported like a rejection.
    parse: (input, _context, flag) => Promise.resolve(parseValue(`--${flag.name}`, input)),
  }) as (
    options: FlagText & { default?: T; defaultHelp?: () => Promise<string> },
  ) => Interfaces.OptionFlag<T | undefined>;
  if (text === undefined) return definition(options);
  // A default outside the flag's own limits is a bug: it throws as the command module loads.
  const value = parseValue('the default', text);
  return definition({ ...options, default: value, defaultHelp: () => Promise.resolve(text) });
}

function parseDurationFlag(flag: string, text: string, limits: DurationLimits): number {
  const { minMs = 1, maxMs = maxDurationMs, bareSeconds = false } = limits;
  const bare = bareSeconds && /^\s*\d+\s*$/.test(text) ? Number(text) * 1000 : undefined;
  const ms = bare ?? parseDuration(text);
  if (ms === undefined) {
    throw new SkypgError('USAGE', `${flag} ${JSON.stringify(text)} is not a duration`, {
      hint: `write it with a unit, e.g. ${flag} 500ms or ${flag} 2s`,
    });
  }
  const bound =
    ms < minMs
      ? `at least ${formatDurationLimit(minMs)}`
      : ms > maxMs
        ? `at most ${formatDurationLimit(maxMs)}`
        : '';
  if (bound !== '') {
    throw new SkypgError('USAGE', `${flag} must be ${bound}, got ${JSON.stringify(text)}`, {
      hint: `give a duration from ${formatDurationLimit(minMs)} to ${formatDurationLimit(maxMs)}, e.g. ${flag} 2s`,
    });
  }
  return ms;
}

function parseSizeFlag(flag: string, text: string): number {
  const bytes = parseSize(text);
  if (bytes === undefined) {
    throw new SkypgError('USAGE', `${flag} ${JSON.stringify(text)} is not a size`, {
      hint: `write it with a unit, e.g. ${flag} 16MB`,
    });
  }
  // Beyond 2^53 bytes a size is no longer exact; nothing skypg measures comes near 1024TB.
  if (bytes > maxSizeBytes) {
    throw new SkypgError('USAGE', `${flag} must be at most 1024TB, got ${JSON.stringify(text)}`, {
      hint: `give a size such as ${flag} 16MB`,
    });
  }
  return bytes;
}

/** A free-text flag (pause --reason): present means said, so neither empty nor multi-line. */
export function reasonFlag(options: FlagText): Interfaces.OptionFlag<string | undefined> {
  return parsedFlag(undefined, options, parseReasonFlag);
}

function parseReasonFlag(flag: string, text: string): string {
  const example = `e.g. ${flag} "kernel update on host2"`;
  if (text.trim() === '') {
    throw new SkypgError('USAGE', `${flag} is empty`, {
      hint: `say who and why, ${example}, or leave ${flag} out`,
    });
  }
  if (containsControlCharacter(text)) {
    throw new SkypgError('USAGE', `${flag} must not contain control characters (newline, tab...)`, {
      hint: `write it on one line, ${example}`,
    });
  }
  if (text.length > 200) {
    throw new SkypgError('USAGE', `${flag} is ${text.length} characters long, above 200`, {
      hint: `keep it short, ${example}`,
    });
  }
  return text.trim();
}
