// Shared by the benchmarks: run a command many times and summarise wall times.
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Timing {
  name: string;
  runs: number;
  medianMs: number;
  p90Ms: number;
  minMs: number;
  maxMs: number;
}

export function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? NaN;
}

interface TimingOptions {
  runs: number;
  warmups?: number;
  expectedExit?: number;
  env?: NodeJS.ProcessEnv;
}

/** One run of `argv`, in ms; it must exit with `expectedExit`. */
function timeOnce(name: string, argv: string[], options: TimingOptions): number {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('empty command');
  const started = process.hrtime.bigint();
  const result = spawnSync(file, args, { stdio: 'pipe', env: options.env ?? process.env });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== (options.expectedExit ?? 0)) {
    throw new Error(`${name}: exit ${String(result.status)}: ${result.stderr.toString().trim()}`);
  }
  return elapsed;
}

function summariseSamples(name: string, samples: number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    name,
    runs: sorted.length,
    medianMs: percentile(sorted, 0.5),
    p90Ms: percentile(sorted, 0.9),
    minMs: sorted[0] ?? NaN,
    maxMs: sorted.at(-1) ?? NaN,
  };
}

/** Runs `argv` `warmups + runs` times; every run must exit with `expectedExit`. */
export function timeCommand(name: string, argv: string[], options: TimingOptions): Timing {
  const samples: number[] = [];
  for (let index = 0; index < (options.warmups ?? 3) + options.runs; index += 1) {
    const elapsed = timeOnce(name, argv, options);
    if (index >= (options.warmups ?? 3)) samples.push(elapsed);
  }
  return summariseSamples(name, samples);
}

/**
 * Two commands run alternately, run by run, so that a machine busy or slow in some of the
 * minutes weighs on both alike: a comparison a loaded machine can still make.
 */
export function timePaired(
  names: [string, string],
  argvs: [string[], string[]],
  options: TimingOptions,
): [Timing, Timing] {
  const first: number[] = [];
  const second: number[] = [];
  for (let index = 0; index < (options.warmups ?? 3) + options.runs; index += 1) {
    const one = timeOnce(names[0], argvs[0], options);
    const two = timeOnce(names[1], argvs[1], options);
    if (index < (options.warmups ?? 3)) continue;
    first.push(one);
    second.push(two);
  }
  return [summariseSamples(names[0], first), summariseSamples(names[1], second)];
}

export function formatTimings(title: string, timings: Timing[]): string {
  const width = Math.max(...timings.map((timing) => timing.name.length), 7);
  const lines = [title, `${'command'.padEnd(width)}  runs  median ms  p90 ms  min ms  max ms`];
  for (const t of timings) {
    const cells = [t.medianMs, t.p90Ms, t.minMs, t.maxMs].map((value, index) =>
      value.toFixed(0).padStart([9, 6, 6, 6][index] ?? 6),
    );
    lines.push(`${t.name.padEnd(width)}  ${String(t.runs).padStart(4)}  ${cells.join('  ')}`);
  }
  return lines.join('\n');
}

const benchmarksPage = join(import.meta.dirname, '..', 'docs', 'benchmarks.md');

/** Where the block between <!-- bench:NAME --> markers is in the page's text, if it is there. */
function findDocsBlock(text: string, name: string): { start: number; end: number } | undefined {
  const start = text.indexOf(`<!-- bench:${name} -->`);
  const end = text.indexOf(`<!-- /bench:${name} -->`);
  return start < 0 || end < start ? undefined : { start, end };
}

/**
 * Whether docs/benchmarks.md has a block for `name`: a run of many minutes checks before it
 * starts, not after, that --update-docs has somewhere to write.
 */
export async function hasDocsBlock(name: string): Promise<boolean> {
  return findDocsBlock(await readFile(benchmarksPage, 'utf8'), name) !== undefined;
}

/** Replaces the block between <!-- bench:NAME --> markers in docs/benchmarks.md. */
export async function replaceDocsBlock(name: string, output: string): Promise<void> {
  const file = benchmarksPage;
  const text = await readFile(file, 'utf8');
  const open = `<!-- bench:${name} -->`;
  const found = findDocsBlock(text, name);
  if (found === undefined)
    throw new Error(`${file} has no ${open} ... <!-- /bench:${name} --> block`);
  const { start, end } = found;
  const block = `${open}\n\n\`\`\`\n${output}\n\`\`\`\n\n`;
  await writeFile(file, text.slice(0, start) + block + text.slice(end));
  console.log(`updated ${file}`);
}

/** A bad benchmark flag: one line on stderr and exit 1, like the CLI, not a stack trace. */
export function badFlag(message: string): never {
  process.stderr.write(`bench: ${message} (hint: see the usage line at the top of the script)\n`);
  process.exit(1);
}

/** node:util parseArgs (strict), with unknown or malformed flags reported by badFlag. */
export function parseBenchArgs<T extends NonNullable<ParseArgsConfig['options']>>(
  options: T,
): ReturnType<typeof parseArgs<{ options: T }>> {
  try {
    return parseArgs({ options });
  } catch (error) {
    return badFlag(error instanceof Error ? error.message : String(error));
  }
}
