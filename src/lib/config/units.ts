// Durations and sizes with units, as written in the configuration and on the command line.

/**
 * The longest duration skypg takes anywhere. Node fires a timer above 2^31-1 ms (24.8 days) at
 * once, so an unbounded "1000h" would turn every timeout into an immediate failure.
 */
export const maxDurationMs = 24 * 3_600_000;

/** The largest size skypg takes (1024TB): far above any lag, and exact as a double. */
export const maxSizeBytes = 1024 ** 5;

const durationUnits: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
};

/** Parses "500ms", "1s", "1.5s", "2m", "1h" into milliseconds; undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h)\s*$/.exec(text);
  if (!match) return undefined;
  const [, amount, unit] = match;
  const factor = durationUnits[unit ?? ''];
  if (amount === undefined || factor === undefined) return undefined;
  return Math.round(Number(amount) * factor);
}

// PostgreSQL's convention: kB, MB, GB, TB are powers of 1024. The IEC spellings mean the same.
const sizeUnits: Record<string, number> = {
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/** Parses "16MB", "1GiB", "512kB", "100B" or a bare byte count into bytes; undefined if malformed. */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!match) return undefined;
  const [, amount, unit] = match;
  const factor = unit === '' ? 1 : sizeUnits[(unit ?? '').toLowerCase()];
  if (amount === undefined || factor === undefined) return undefined;
  return Math.round(Number(amount) * factor);
}

/** Renders a byte count the way an operator reads it: "16MiB", "1.5GiB", "812B". */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const rounded = unit === 0 ? String(value) : String(Number(value.toFixed(1)));
  return `${rounded}${units[unit] ?? 'B'}`;
}

/** Renders milliseconds compactly: "500ms", "1s", "1.5s", "2m", "2m30s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(3))}s`;
  const minutes = Math.floor(ms / 60_000);
  const rest = ms - minutes * 60_000;
  return rest === 0 ? `${minutes}m` : `${minutes}m${formatDuration(rest)}`;
}

/** A limit as an operator writes it: "24h" rather than formatDuration's "1440m". */
export function formatDurationLimit(ms: number): string {
  return ms !== 0 && ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : formatDuration(ms);
}
