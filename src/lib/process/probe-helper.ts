// The supervisor's per-look probes of this host (is a VIP on an interface, does a gateway
// answer a ping) run through one long-lived /bin/sh instead of being started from Node: a
// program started from the supervisor costs it ~3 ms of CPU (fork of a large process, and
// execa), three of them a second were a third of its idle CPU (bench:steady, cpu profile).
// The shell forks cheaply and runs the same `ip` and `ping`; the answer is their exit status.
import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Reads "ID VERB A B" lines; answers "ID STATUS" from a background job per question, so a ping
 * that waits for its timeout does not hold up a VIP look. `held IFACE ADDRESS`: 0 when
 * `ip -o addr show dev IFACE` lists ADDRESS (through the command prefix, the script's
 * arguments); `ping ADDRESS SECONDS`: ping's own status, 0 at the first reply, an echo request
 * every 200 ms until then, for at most SECONDS (-w), so one lost packet is not "unreachable"
 * (one request with -W was, and a lossy link made a primary think itself cut off). Arguments
 * are data, always quoted.
 * When the supervisor goes away its end of stdin closes, and the loop ends.
 */
const helperScript = [
  'while read -r id verb a b; do',
  '  case $verb in',
  '    held) { "$@" ip -o addr show dev "$a" 2>/dev/null | grep -qF " $b/"; echo "$id $?"; } & ;;',
  '    ping) { ping -n -q -c 1 -i 0.2 -w "$b" "$a" >/dev/null 2>&1; echo "$id $?"; } & ;;',
  '    *) echo "$id 127" ;;',
  '  esac',
  'done',
].join('\n');

/** Words the line protocol carries unchanged: config-validated names and addresses. */
const plainWord = /^[A-Za-z0-9_.:%-]{1,64}$/;

export class ProbeHelper {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<string, (status: number | undefined) => void>();
  private nextId = 0;
  private buffered = '';

  /** `commandPrefix` goes in front of `ip` (vip.command_prefix), as for every other ip run. */
  constructor(private readonly commandPrefix: readonly string[]) {}

  /** The address is on the interface (as `ip -o addr show dev` lists it). */
  async addressOnInterface(iface: string, address: string, timeoutMs: number): Promise<boolean> {
    return (await this.ask('held', iface, address, timeoutMs)) === 0;
  }

  /** An echo request to address answered within `seconds` (one every 200 ms until one is). */
  async pingAnswers(address: string, seconds: number, timeoutMs: number): Promise<boolean> {
    return (await this.ask('ping', address, String(seconds), timeoutMs)) === 0;
  }

  /** The shell's PID while one runs (tests, and the bench that counts its CPU). */
  get pid(): number | undefined {
    const child = this.child;
    return child?.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  /** Ends the shell (its jobs finish on their own, within their timeouts). */
  stop(): void {
    this.child?.stdin?.end();
    this.child = undefined;
    this.failPending();
  }

  /** The exit status of the question's program, or undefined when there was no answer. */
  private ask(verb: string, a: string, b: string, timeoutMs: number): Promise<number | undefined> {
    if (!plainWord.test(a) || !plainWord.test(b)) {
      return Promise.reject(new Error(`probe helper: not a plain word: ${a} ${b}`));
    }
    const child = this.running();
    const id = String((this.nextId += 1));
    return new Promise((resolve) => {
      // The verdict waits one turn of the event loop after the timer: a supervisor that was
      // stalled (paused, starved) runs its due timers before it reads the answers that came
      // meanwhile, and an answer already in the pipe must win over the timeout.
      const timer = setTimeout(() => {
        setImmediate(() => {
          if (!this.pending.delete(id)) return;
          resolve(undefined);
        });
      }, timeoutMs);
      this.pending.set(id, (status) => {
        clearTimeout(timer);
        resolve(status);
      });
      child.stdin?.write(`${id} ${verb} ${a} ${b}\n`);
    });
  }

  private running(): ChildProcess {
    if (this.child !== undefined && this.pid !== undefined) return this.child;
    const child = spawn('sh', ['-c', helperScript, 'skypg-probe', ...this.commandPrefix], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      this.answer(chunk);
    });
    // A shell that failed to start or died: the questions it held get no answer, the next
    // question starts a new one.
    const gone = (): void => {
      if (this.child === child) this.child = undefined;
      this.failPending();
    };
    child.on('error', gone);
    child.on('exit', gone);
    child.stdin.on('error', () => undefined);
    // The supervisor's exit must not wait for the helper.
    child.unref();
    for (const stream of [child.stdin, child.stdout] as const) {
      (stream as unknown as { unref?: () => void }).unref?.();
    }
    this.child = child;
    this.buffered = '';
    return child;
  }

  private answer(chunk: string): void {
    this.buffered += chunk;
    let end = this.buffered.indexOf('\n');
    while (end >= 0) {
      const [id = '', status = ''] = this.buffered.slice(0, end).split(' ');
      this.buffered = this.buffered.slice(end + 1);
      const settle = this.pending.get(id);
      this.pending.delete(id);
      settle?.(Number.parseInt(status, 10));
      end = this.buffered.indexOf('\n');
    }
  }

  private failPending(): void {
    for (const settle of this.pending.values()) settle(undefined);
    this.pending.clear();
  }
}

const helpers = new Map<string, ProbeHelper>();

/** The process's helper for this command prefix, started at its first question. */
export function probeHelper(commandPrefix: readonly string[] = []): ProbeHelper {
  const key = JSON.stringify(commandPrefix);
  let helper = helpers.get(key);
  if (helper === undefined) {
    helper = new ProbeHelper(commandPrefix);
    helpers.set(key, helper);
  }
  return helper;
}
