// Nagios/NRPE plugin output after the Monitoring Plugins development guidelines: threshold
// ranges, states, performance data and the one-line status. Pure logic; commands do the I/O.

import { parseDuration, parseSize } from '../config/units.js';
import { NagiosCode, type NagiosCodeValue } from '../common/exit-codes.js';

/** The state a check reports; each maps to one Nagios exit code. */
export type CheckState = 'ok' | 'warning' | 'critical' | 'unknown';

/** A threshold range `[@]start:end`; ends are inclusive, start may be -Infinity, end Infinity. */
export interface Range {
  start: number;
  end: number;
  /** true for a leading `@`: alert when the value is inside [start, end] instead of outside. */
  inside: boolean;
  /** The range as written (trimmed), for messages. */
  text: string;
}

/** Parses a threshold number without a unit (`10`, `-5`, `1.5`); undefined if malformed. */
export function parsePlainNumber(text: string): number | undefined {
  const trimmed = text.trim();
  return /^-?\d+(?:\.\d+)?$/.test(trimmed) ? Number(trimmed) : undefined;
}

/**
 * Parses a time threshold into seconds. A bare number means seconds (the Nagios convention),
 * so `30` and `1.5` are accepted besides `30s`, `500ms`, `2m`, `1h`; undefined if malformed.
 */
export function parseSeconds(text: string): number | undefined {
  const trimmed = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const ms = parseDuration(trimmed);
  return ms === undefined ? undefined : ms / 1000;
}

const rangeForms = 'write N, N:, ~:N, N:M or @N:M';

/**
 * Parses `[@]start:end`. `parseNumber` reads each end, so the same syntax serves plain numbers,
 * sizes and durations; `what` names what it expects, for the error message (e.g. "a size").
 */
export function parseRange(
  text: string,
  parseNumber: (t: string) => number | undefined,
  what = 'a number',
): Range | { error: string } {
  const trimmed = text.trim();
  const fail = (detail: string): { error: string } => ({
    error: `${JSON.stringify(trimmed)} is not a range: ${detail}; ${rangeForms}`,
  });
  if (trimmed === '') return fail('it is empty');

  const inside = trimmed.startsWith('@');
  const body = inside ? trimmed.slice(1).trim() : trimmed;
  if (body === '') return fail('nothing follows "@"');

  const readEnd = (part: string): number | { error: string } => {
    const value = parseNumber(part.trim());
    if (value === undefined || Number.isNaN(value)) {
      return fail(`${JSON.stringify(part.trim())} is not ${what}`);
    }
    return value;
  };

  const colon = body.indexOf(':');
  let start = 0;
  let end: number;
  if (colon === -1) {
    // "~" alone is a common slip for "~:N"; say so instead of "not a number".
    if (body === '~') return fail('"~" means minus infinity and needs ":" after it, as in ~:N');
    const parsed = readEnd(body);
    if (typeof parsed !== 'number') return parsed;
    // The start is implicitly 0, so a negative N leaves nothing between the ends.
    if (parsed < 0) return fail('a single number N means 0:N, so it cannot be negative');
    end = parsed;
  } else {
    const startText = body.slice(0, colon).trim();
    const endText = body.slice(colon + 1).trim();
    if (startText === '~') start = -Infinity;
    else if (startText !== '') {
      const parsed = readEnd(startText);
      if (typeof parsed !== 'number') return parsed;
      start = parsed;
    }
    if (endText === '') end = Infinity;
    else {
      const parsed = readEnd(endText);
      if (typeof parsed !== 'number') return parsed;
      end = parsed;
    }
    if (start > end) {
      const first = startText || '0';
      const swapped = `${inside ? '@' : ''}${endText}:${first}`;
      const ends = `${JSON.stringify(first)} is greater than the end ${JSON.stringify(endText)}`;
      return fail(`the start ${ends}, so write the smaller one first (${swapped})`);
    }
  }
  return { start, end, inside, text: trimmed };
}

/** Parses a byte threshold such as `16MB`, `~:16MB` or `@1MB:2MB`; ends are in bytes. */
export function parseSizeRange(text: string): Range | { error: string } {
  return parseRange(text, parseSize, 'a size such as 16MB, 1GiB or a byte count');
}

/** Parses a time threshold such as `30`, `30s` or `500ms:2m`; ends are in seconds. */
export function parseSecondsRange(text: string): Range | { error: string } {
  return parseRange(text, parseSeconds, 'a duration such as 30 (seconds), 30s, 500ms or 2m');
}

/** true if `value` should raise the alert of this range (outside it, or inside with `@`). */
export function rangeAlerts(range: Range, value: number): boolean {
  const within = value >= range.start && value <= range.end;
  return range.inside ? within : !within;
}

/** The state of one value against its thresholds; critical wins over warning. */
export function evaluate(
  value: number,
  thresholds: { warning?: Range; critical?: Range },
): 'ok' | 'warning' | 'critical' {
  if (thresholds.critical && rangeAlerts(thresholds.critical, value)) return 'critical';
  if (thresholds.warning && rangeAlerts(thresholds.warning, value)) return 'warning';
  return 'ok';
}

// CRITICAL > WARNING > UNKNOWN > OK, as monitoring-plugins' max_state_alt: a real problem found
// by one probe must not be hidden by another probe that could not tell. (Its older max_state
// ranks OK above UNKNOWN, which would let one good answer mask a failed probe.)
const severity: Record<CheckState, number> = { ok: 0, unknown: 1, warning: 2, critical: 3 };

/** Combines the states of several probes into the state of the check; `ok` when given none. */
export function worst(...states: CheckState[]): CheckState {
  let result: CheckState = 'ok';
  for (const state of states) if (severity[state] > severity[result]) result = state;
  return result;
}

/** The exit code Nagios/NRPE reads for this state. */
export function stateExitCode(state: CheckState): NagiosCodeValue {
  return NagiosCode[state];
}

/** Renders a number in the perfdata character set `[-0-9.]`: never exponent notation. */
function formatNumber(value: number): string {
  const text = String(value);
  if (!/e/i.test(text)) return text;
  if (Math.abs(value) >= 1) return BigInt(Math.round(value)).toString();
  return value.toFixed(20).replace(/0+$/, '').replace(/\.$/, '');
}

/** Renders a range back to `[@]start:end`, in the unit of its numbers, without a UOM. */
export function formatRange(range: Range): string {
  const prefix = range.inside ? '@' : '';
  const end = range.end === Infinity ? '' : formatNumber(range.end);
  if (range.start === 0 && range.end !== Infinity) return `${prefix}${end}`;
  const start = range.start === -Infinity ? '~' : formatNumber(range.start);
  return `${prefix}${start}:${end}`;
}

/** One performance data item; thresholds, min and max are in the unit of `value`. */
export interface PerfdataItem {
  label: string;
  /** undefined (or not finite) when the value could not be determined: rendered `U`. */
  value: number | undefined;
  uom?: string;
  warning?: Range;
  critical?: Range;
  min?: number;
  max?: number;
}

/** Quotes a label only when needed: spaces, `=` or `'` (a literal quote is written `''`). */
function formatLabel(label: string): string {
  if (label !== '' && !/[\s=']/.test(label)) return label;
  return `'${label.replace(/'/g, "''")}'`;
}

/** Renders `'label'=value[UOM];[warn];[crit];[min];[max]` items, space separated. */
export function formatPerfdata(items: PerfdataItem[]): string {
  return items
    .map((item) => {
      const value =
        item.value === undefined || !Number.isFinite(item.value)
          ? 'U'
          : `${formatNumber(item.value)}${item.uom ?? ''}`;
      const limit = (n: number | undefined): string =>
        n === undefined || !Number.isFinite(n) ? '' : formatNumber(n);
      const fields = [
        `${formatLabel(item.label)}=${value}`,
        item.warning ? formatRange(item.warning) : '',
        item.critical ? formatRange(item.critical) : '',
        limit(item.min),
        limit(item.max),
      ];
      // Trailing empty fields may be dropped; inner ones must stay to keep positions.
      while (fields.length > 1 && fields[fields.length - 1] === '') fields.pop();
      return fields.join(';');
    })
    .join(' ');
}

/** Folds line breaks into spaces: Nagios takes the first line of output as the status. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/**
 * Renders `LABEL STATE - text | perfdata` on one line. A `|` in the text would start the
 * perfdata early, so it becomes `/`.
 */
export function formatCheckLine(
  label: string,
  state: CheckState,
  text: string,
  perfdata?: string,
): string {
  const line = `${oneLine(label)} ${state.toUpperCase()} - ${oneLine(text).replace(/\|/g, '/')}`;
  const data = oneLine(perfdata ?? '');
  return data === '' ? line : `${line} | ${data}`;
}
