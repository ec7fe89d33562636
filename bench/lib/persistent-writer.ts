// bench:switchover's independent client (persistent-client.ts) started in the lab's client
// namespace, and what its output says about one switchover: the gap from its last acknowledged
// write before to its first after, and the errors it met in between. The reading is pure.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { primaryVipAddress, type NetnsLabState } from '../../src/lib/lab/netns-lab.js';

export const persistentTable = 'persistent_writes';

export type PersistentEvent =
  | { t: number; kind: 'ack'; id: number }
  | { t: number; kind: 'error'; phase: 'connect' | 'insert'; tookMs: number; message: string };

/** The client's JSON lines as events; anything else (a partial last line) is skipped. */
export function parsePersistentEvents(output: string): PersistentEvent[] {
  const events: PersistentEvent[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{') || !line.endsWith('}')) continue;
    const record = JSON.parse(line) as Partial<PersistentEvent>;
    if (record.kind === 'ack' || record.kind === 'error') events.push(record as PersistentEvent);
  }
  return events;
}

/** One client's view of a switchover: its longest silence between two acknowledged writes. */
export interface WriteGap {
  /** The last write acknowledged before the gap, and the first after it (epoch ms). */
  lastBefore: number;
  firstAfter: number;
  ms: number;
}

/** The longest gap between consecutive acknowledgements in [from, to]; undefined below two. */
export function longestWriteGap(
  ackTimes: number[],
  from: number,
  to: number,
): WriteGap | undefined {
  const times = ackTimes.filter((t) => t >= from && t <= to).sort((a, b) => a - b);
  let gap: WriteGap | undefined;
  for (let index = 1; index < times.length; index += 1) {
    const lastBefore = times[index - 1] ?? 0;
    const firstAfter = times[index] ?? 0;
    if (gap === undefined || firstAfter - lastBefore > gap.ms)
      gap = { lastBefore, firstAfter, ms: firstAfter - lastBefore };
  }
  return gap;
}

/**
 * The errors inside a gap, one short line each, relative to `origin`: "+123 connect 1001ms
 * timeout exceeded when trying to connect". Runs of the same failure are counted, not repeated.
 */
export function describeGapErrors(
  events: PersistentEvent[],
  gap: WriteGap,
  origin: number,
): string[] {
  const lines: { text: string; key: string; count: number }[] = [];
  for (const event of events) {
    if (event.kind !== 'error' || event.t < gap.lastBefore || event.t > gap.firstAfter) continue;
    const began = event.t - event.tookMs - origin;
    const key = `${event.phase} ${event.message}`;
    const previous = lines.at(-1);
    if (previous?.key === key && event.tookMs < 100) {
      previous.count += 1;
      continue;
    }
    lines.push({
      text: `${began >= 0 ? '+' : ''}${began} ${event.phase} failed after ${event.tookMs}ms: ${event.message}`,
      key,
      count: 1,
    });
  }
  return lines.map((line) => (line.count > 1 ? `${line.text} (x${line.count})` : line.text));
}

export class PersistentWriter {
  private output = '';
  private constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
  }

  /** Starts writing every `writeMs` (the client creates its table on its first connection). */
  static start(
    state: NetnsLabState,
    options: { writeMs: number; connectTimeoutMs: number },
  ): PersistentWriter {
    const script = join(import.meta.dirname, 'persistent-client.ts');
    const child = spawn(
      'ip',
      ['netns', 'exec', state.netns.client, process.execPath, '--import', 'tsx', script],
      {
        env: {
          ...process.env,
          PGPASSFILE: state.passfile,
          PERSISTENT_HOST: primaryVipAddress,
          PERSISTENT_TABLE: persistentTable,
          PERSISTENT_WRITE_MS: String(options.writeMs),
          PERSISTENT_CONNECT_TIMEOUT_MS: String(options.connectTimeoutMs),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    return new PersistentWriter(child);
  }

  events(): PersistentEvent[] {
    return parsePersistentEvents(this.output);
  }

  ackTimes(): number[] {
    return this.events().flatMap((event) => (event.kind === 'ack' ? [event.t] : []));
  }

  async stop(): Promise<PersistentEvent[]> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    return this.events();
  }
}
