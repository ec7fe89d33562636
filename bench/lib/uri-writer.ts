// The benchmark's second client: psql with `skypg connstring`'s multi-host URI, run in the lab's
// client namespace, one new connection per write as a libpq application makes after an error.
// It needs no VIP: libpq tries both hosts and keeps the one that accepts read-write sessions.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { buildConnstring } from '../../src/lib/config/connstring.js';
import { loadConfigFile } from '../../src/lib/config/load.js';
import { execIn, type NetnsLabState } from '../../src/lib/lab/netns-lab.js';

export const uriTable = 'uri_writes';

/** One write acknowledged through the URI: when psql returned, the row id and which server. */
export interface UriAck {
  at: number;
  id: number;
  server: string;
}

/** The writer's output lines (`<epoch ms> <id>|<server address>`) as acknowledgements. */
export function parseUriAcks(output: string): UriAck[] {
  const acks: UriAck[] = [];
  for (const line of output.split('\n')) {
    const match = /^(\d+) (\d+)\|(\S+)$/.exec(line.trim());
    if (match === null) continue;
    acks.push({ at: Number(match[1]), id: Number(match[2]), server: match[3] ?? '' });
  }
  return acks;
}

/** The URI the writer uses: the read-write one, exactly as `skypg connstring` prints it. */
export async function labReadWriteUri(state: NetnsLabState): Promise<string> {
  const { config } = await loadConfigFile(state.configPath);
  return buildConnstring(config, { target: 'read-write', database: 'postgres', user: 'postgres' })
    .uri;
}

export class UriWriter {
  private output = '';
  private constructor(
    private readonly child: ChildProcess,
    readonly uri: string,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
  }

  /** Creates the table through the URI, then writes a row every `pauseSeconds` plus a psql run. */
  static async start(state: NetnsLabState, pauseSeconds = 0.05): Promise<UriWriter> {
    const uri = await labReadWriteUri(state);
    const psql = join(state.binDir, 'psql');
    const createTable = `create table if not exists ${uriTable} (id serial primary key, at timestamptz default now())`;
    await execIn(state, 'client', psql, ['-X', '-q', '-c', createTable, uri], {
      env: { PGPASSFILE: state.passfile },
    });
    // `timeout` is the client's own guard: a write sent to a host that loses power at that
    // moment would otherwise wait for TCP to give up (minutes), and the loop with it.
    const loop =
      `while :; do out=$(timeout -k 1 5 ${psql} -X -qAt "$0" ` +
      `-c 'insert into ${uriTable} default values returning id, inet_server_addr()' 2>/dev/null) ` +
      `&& echo "$(date +%s%3N) $out"; sleep ${String(pauseSeconds)}; done`;
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        state.netns.client,
        'env',
        `PGPASSFILE=${state.passfile}`,
        'bash',
        '-c',
        loop,
        uri,
      ],
      // Its own process group, so that stop() ends the loop and the psql it is running.
      { detached: true, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    return new UriWriter(child, uri);
  }

  acks(): UriAck[] {
    return parseUriAcks(this.output);
  }

  async stop(): Promise<UriAck[]> {
    const pid = this.child.pid;
    if (pid !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      const signal = (name: NodeJS.Signals): void => {
        try {
          process.kill(-pid, name);
        } catch {
          // already gone
        }
      };
      signal('SIGTERM');
      const timer = setTimeout(() => {
        signal('SIGKILL');
      }, 3000);
      await exited;
      clearTimeout(timer);
    }
    return this.acks();
  }
}
