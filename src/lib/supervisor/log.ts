// The supervisor's log: one JSON object per line, to stdout or a file that can be reopened on
// SIGHUP (logrotate's copytruncate is not needed). Never a password: only decisions and
// outcomes are logged, and their texts come from skypg's own messages.
// A log that cannot be written must never stop the supervisor (no log is better than no
// failover): the file is opened up front, where a bad --log-file is a one-line error, and a
// later failure (disk full, a reopen that fails) sends the lines to stderr instead.
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { SkypgError } from '../common/errors.js';

export interface LogEntry {
  event:
    | 'start'
    | 'decision'
    | 'action'
    | 'stop'
    | 'error'
    | 'reopen'
    | 'api'
    | 'hook'
    | 'beacon'
    | 'wake';
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

  /** Throws USAGE when the file cannot be opened for appending. */
  constructor(
    private readonly file: string | undefined,
    private readonly node: string,
    /** Where lines go when the file fails, and the notes about it (tests capture them). */
    private readonly stderr: (text: string) => void = (text) => process.stderr.write(text),
  ) {
    if (file !== undefined) this.stream = this.attach(file, openLogFile(file));
  }

  private attach(file: string, fd: number): WriteStream {
    const stream = createWriteStream(file, { fd, flags: 'a' });
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (this.stream === stream) this.stream = undefined;
      this.note(`cannot write log file ${file}: ${error.code ?? error.message}; logging to stderr`);
    });
    return stream;
  }

  private note(text: string): void {
    this.stderr(`skypg supervisor: ${text}\n`);
  }

  /** logrotate moves the file and sends SIGHUP: write to a new file of the same name. */
  reopen(): void {
    if (this.file === undefined) return;
    let fd: number;
    try {
      fd = openLogFile(this.file);
    } catch (error) {
      const kept = this.stream === undefined ? 'logging to stderr' : 'keeping the old file open';
      this.note(`${(error as SkypgError).message}; ${kept}`);
      return;
    }
    this.stream?.end();
    this.stream = this.attach(this.file, fd);
    this.write({ event: 'reopen', node: this.node, detail: 'log file reopened (SIGHUP)' });
  }

  write(entry: LogEntry, now = new Date()): void {
    const line = `${JSON.stringify({ time: now.toISOString(), ...entry })}\n`;
    if (this.stream) this.stream.write(line);
    else if (this.file !== undefined) this.stderr(line);
    else process.stdout.write(line);
  }

  async close(): Promise<void> {
    const stream = this.stream;
    if (stream === undefined) return;
    // The callback also runs when the stream failed; its error was already reported.
    await new Promise<void>((resolve) => {
      stream.end(() => {
        resolve();
      });
    });
  }
}

function openLogFile(file: string): number {
  try {
    return openSync(file, 'a');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new SkypgError('USAGE', `cannot open --log-file ${file}: ${code}`, {
      hint: 'give a writable file in an existing directory, or leave --log-file out to log to stdout',
    });
  }
}
