// The supervisor's log: one JSON object per line, to stdout or a file that can be reopened on
// SIGHUP (logrotate's copytruncate is not needed). Never a password: only decisions and
// outcomes are logged, and their texts come from skypg's own messages.
import { createWriteStream, type WriteStream } from 'node:fs';

export interface LogEntry {
  event: 'start' | 'decision' | 'action' | 'stop' | 'error' | 'reopen';
  node: string;
  state?: string;
  rule?: string;
  reason?: string;
  action?: string;
  result?: 'ok' | 'failed';
  detail?: string;
  durationMs?: number;
}

export class JsonLog {
  private stream: WriteStream | undefined;

  constructor(
    private readonly file: string | undefined,
    private readonly node: string,
  ) {
    this.open();
  }

  private open(): void {
    if (this.file !== undefined) this.stream = createWriteStream(this.file, { flags: 'a' });
  }

  /** logrotate moves the file and sends SIGHUP: write to a new file of the same name. */
  reopen(): void {
    this.stream?.end();
    this.open();
    this.write({ event: 'reopen', node: this.node, detail: 'log file reopened (SIGHUP)' });
  }

  write(entry: LogEntry, now = new Date()): void {
    const line = `${JSON.stringify({ time: now.toISOString(), ...entry })}\n`;
    if (this.stream) this.stream.write(line);
    else process.stdout.write(line);
  }

  async close(): Promise<void> {
    const stream = this.stream;
    if (stream === undefined) return;
    await new Promise<void>((resolve) => stream.end(resolve));
  }
}
