// Flag values with units, parsed with the same rules as the configuration file.
import { parseDuration, parseSize } from './config/units.js';
import { SkypgError } from './errors.js';

export function parseDurationFlag(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    throw new SkypgError('USAGE', `${flag} ${JSON.stringify(text)} is not a duration`, {
      hint: `write it with a unit, e.g. ${flag} 500ms or ${flag} 2s`,
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
