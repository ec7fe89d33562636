// Flag values with units, parsed with the same rules as the configuration file. durationFlag and
// sizeFlag are oclif custom flags: a command gets milliseconds or bytes from this.parse, and a bad
// value stops the command there with one line naming the flag.
import { Flags, type Interfaces } from '@oclif/core';
import { containsControlCharacter } from './config/schema-kit.js';
import {
  formatDurationLimit,
  maxDurationMs,
  maxSizeBytes,
  parseDuration,
  parseSize,
} from './config/units.js';
import { SkypgError } from './errors.js';

export interface DurationLimits {
  /** Smallest accepted value in ms (default 1ms: a zero timeout means nothing). */
  minMs?: number;
  /** Largest accepted value in ms (default 24h, as in the configuration). */
  maxMs?: number;
  /** A bare number means seconds (`status --watch 2`). */
  bareSeconds?: boolean;
}

/** What a command says about a unit flag; the parse, the type and the help value come from here. */
export type UnitFlagOptions = Pick<
  Partial<Interfaces.OptionFlag<number>>,
  'char' | 'summary' | 'description' | 'helpGroup' | 'hidden' | 'env'
> & {
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
  return unitFlag('DURATION', options, (flag, text) =>
    parseDurationFlag(flag, text, { minMs, maxMs, bareSeconds }),
  );
}

/** A SIZE flag: the command gets bytes. */
export function sizeFlag(
  options: UnitFlagOptions & { default: string },
): Interfaces.OptionFlag<number>;
export function sizeFlag(options: UnitFlagOptions): Interfaces.OptionFlag<number | undefined>;
export function sizeFlag(options: UnitFlagOptions): Interfaces.OptionFlag<number | undefined> {
  return unitFlag('SIZE', options, parseSizeFlag);
}

function unitFlag(
  helpValue: string,
  { default: text, ...options }: UnitFlagOptions,
  parseValue: (flag: string, text: string) => number,
): Interfaces.OptionFlag<number | undefined> {
  const definition = Flags.custom<number>({
    helpValue,
    // oclif awaits this inside its try, so a throw here is reported like a rejection.
    parse: (input, _context, flag) => Promise.resolve(parseValue(`--${flag.name}`, input)),
  });
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
export function parseReasonFlag(flag: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
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
