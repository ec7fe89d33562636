// Threshold flags of the checks: parsed with units, and checked for combinations that make no
// sense (a warning that would fire only after the critical one).
import { SkypgError } from '../errors.js';
import { parseSecondsRange, parseSizeRange, type Range } from '../nagios.js';

export function sizeThreshold(flag: string, text: string | undefined): Range | undefined {
  return threshold(flag, text, parseSizeRange);
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
