// Flag values with units, parsed with the same rules as the configuration file.
import { containsControlCharacter } from './config/schema-kit.js';
import { formatDurationLimit, maxDurationMs, parseDuration, parseSize } from './config/units.js';
import { SkypgError } from './errors.js';

export interface DurationLimits {
  /** Smallest accepted value in ms (default 1ms: a zero timeout means nothing). */
  minMs?: number;
  /** Largest accepted value in ms (default 24h, as in the configuration). */
  maxMs?: number;
  /** A bare number means seconds (`status --watch 2`). */
  bareSeconds?: boolean;
}

export function parseDurationFlag(flag: string, text: string, limits: DurationLimits = {}): number {
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

export function parseSizeFlag(flag: string, text: string): number {
  const bytes = parseSize(text);
  if (bytes === undefined) {
    throw new SkypgError('USAGE', `${flag} ${JSON.stringify(text)} is not a size`, {
      hint: `write it with a unit, e.g. ${flag} 16MB`,
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
