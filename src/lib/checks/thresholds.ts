// Threshold flags of the checks: parsed with units, and checked for combinations that make no
// sense (a warning that would fire only after the critical one).
import { SkypgError } from '../common/errors.js';
import { maxSizeBytes } from '../config/units.js';
import { parseSecondsRange, parseSizeRange, type Range } from './nagios.js';

export function sizeThreshold(flag: string, text: string | undefined): Range | undefined {
  const range = threshold(flag, text, parseSizeRange);
  // Beyond 2^53 bytes a size is no longer exact, and no lag comes near this limit.
  const ends = range === undefined ? [] : [range.start, range.end].filter(Number.isFinite);
  if (range !== undefined && ends.some((end) => Math.abs(end) > maxSizeBytes)) {
    throw new SkypgError(
      'USAGE',
      `${flag} ${JSON.stringify(range.text)} is above the limit of 1024TB`,
      { hint: `give a size such as ${flag} 16MB` },
    );
  }
  return range;
}

export function secondsThreshold(flag: string, text: string | undefined): Range | undefined {
  return threshold(flag, text, parseSecondsRange);
}

function threshold(
  flag: string,
  text: string | undefined,
  parse: (text: string) => Range | { error: string },
): Range | undefined {
  if (text === undefined) return undefined;
  const parsed = parse(text);
  if ('error' in parsed) throw new SkypgError('USAGE', `${flag}: ${parsed.error}`);
  return parsed;
}

/** For plain upper bounds ("alert above N"), the warning must come before the critical. */
export function requireOrdered(
  warningFlag: string,
  warning: Range | undefined,
  criticalFlag: string,
  critical: Range | undefined,
): void {
  if (warning === undefined || critical === undefined) return;
  const upperBound = (range: Range): boolean =>
    !range.inside && range.start <= 0 && Number.isFinite(range.end);
  if (upperBound(warning) && upperBound(critical) && warning.end > critical.end) {
    throw new SkypgError(
      'USAGE',
      `${warningFlag} ${warning.text} is above ${criticalFlag} ${critical.text}, so the warning could never fire first`,
      { hint: `make ${warningFlag} smaller than ${criticalFlag}` },
    );
  }
}
