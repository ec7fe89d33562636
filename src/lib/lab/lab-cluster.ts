// Supervisors and a client in the multi-host lab: a real supervisor in each host namespace
// (started the way boot would start it), and a writer + sampler in the client namespace, with
// what they saw collected for `skypg lab demo` and the failover tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execIn, setBootHook, type LabHostName, type NetnsLabState } from './netns-lab.js';

// Both src/lib/lab (tests, through tsx) and dist/lib/lab (the built CLI) sit three levels
// below the repository, beside src/lab-agent.ts or dist/lab-agent.js.
const skypgBin = fileURLToPath(new URL('../../../bin/run.js', import.meta.url));
const fromSources = import.meta.url.endsWith('.ts');
const agentCommand = fromSources
  ? ['--import', 'tsx', fileURLToPath(new URL('../../lab-agent.ts', import.meta.url))]
  : [fileURLToPath(new URL('../../lab-agent.js', import.meta.url))];

export function supervisorLog(state: NetnsLabState, host: LabHostName): string {
  return join(state.dir, `supervisor-${host}.log`);
}

/** What systemd would run at boot: the supervisor, detached, which then starts PostgreSQL. */
export function supervisorBootScript(state: NetnsLabState, host: LabHostName): string {
  return [
    '#!/bin/bash',
    // As the systemd unit of docs/failover.md runs it: a small young generation keeps RSS down.
    // A pair built by hand names no password file: skypg finds the OS user's ~/.pgpass itself.
    `export SKYPG_CONFIG=${state.configPath}${state.shape === 'by-hand' ? '' : ` PGPASSFILE=${state.passfile}`} NODE_OPTIONS=--max-semi-space-size=1`,
    `exec setsid ${process.execPath} ${skypgBin} supervisor --log-file ${supervisorLog(state, host)} </dev/null >>${supervisorLog(state, host)}.out 2>&1`,
    '',
  ].join('\n');
}

/** Starts both supervisors the way boot would, and makes power-on start them again. */
export async function startSupervisors(state: NetnsLabState): Promise<void> {
  for (const host of ['host1', 'host2'] as const) {
    const script = supervisorBootScript(state, host);
    await setBootHook(state, host, script);
    const child = spawn('ip', ['netns', 'exec', state.netns[host], 'bash', '-c', script], {
      detached: true,
      stdio: 'ignore',
    });
    child.unref();
  }
}

export interface LogLine {
  time: string;
  event: string;
  node: string;
  state?: string;
  rule?: string;
  reason?: string;
  action?: string;
  result?: string;
  detail?: string;
  durationMs?: number;
}

export async function readSupervisorLog(
  state: NetnsLabState,
  host: LabHostName,
): Promise<LogLine[]> {
  const text = await readFile(supervisorLog(state, host), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LogLine);
}

/**
 * The supervisor state of a host, if its supervisor wrote it in the last 5 s: a powered-off or
 * frozen host leaves its last file behind, which must not count as its current state.
 */
export async function supervisorState(
  state: NetnsLabState,
  host: LabHostName,
): Promise<{ state: string; reason: string } | undefined> {
  const file = join(state.dir, host, 'supervisor-state.json');
  const parsed = await readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as { state: string; reason: string; updatedAt: string },
    () => undefined,
  );
  if (parsed === undefined || Date.now() - Date.parse(parsed.updatedAt) > 5000) return undefined;
  return parsed;
}

export interface AgentReport {
  acked: number[];
  /** Per sample: time and the role each host answered with (new connection). */
  samples: { t: number; roles: Record<string, 'primary' | 'standby' | 'down'> }[];
  ackTimes: Map<number, number>;
}

export class ClientAgent {
  private output = '';
  private constructor(private readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString();
    });
  }

  /**
   * Creates the table through the VIP, then starts writing and sampling. By default it writes
   * through the primary VIP into agent_writes and samples both hosts; `via` sends the writes to
   * another address and port of the client machine (HAProxy), into another table.
   */
  static async start(
    state: NetnsLabState,
    via?: { host: string; port: number; table: string; passfile: string },
  ): Promise<ClientAgent> {
    const table = via?.table ?? 'agent_writes';
    if (!/^[a-z_]+$/.test(table)) throw new Error(`agent table ${table}: letters and _ only`);
    const psql = join(state.binDir, 'psql');
    await execIn(
      state,
      'client',
      psql,
      [
        '-X',
        '-q',
        '-c',
        `create table if not exists ${table} (id int primary key, at timestamptz default now())`,
        'host=10.231.0.130 user=postgres dbname=postgres connect_timeout=3',
      ],
      { env: { PGPASSFILE: state.passfile } },
    );
    const child = spawn(
      'ip',
      ['netns', 'exec', state.netns.client, process.execPath, ...agentCommand],
      {
        env: {
          ...process.env,
          PGPASSFILE: via?.passfile ?? state.passfile,
          AGENT_VIP: via?.host ?? '10.231.0.130',
          AGENT_TABLE: table,
          // One agent samples the hosts; a second one only writes.
          AGENT_HOSTS:
            via === undefined ? `${state.hosts[0].address},${state.hosts[1].address}` : '',
          ...(via === undefined ? {} : { AGENT_WRITE_PORT: String(via.port) }),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await sleep(500);
    return new ClientAgent(child);
  }

  report(): AgentReport {
    const acked: number[] = [];
    const ackTimes = new Map<number, number>();
    const samples: AgentReport['samples'] = [];
    for (const line of this.output.split('\n')) {
      if (line.trim() === '') continue;
      const record = JSON.parse(line) as {
        t: number;
        kind: string;
        id?: number;
        roles?: Record<string, 'primary' | 'standby' | 'down'>;
      };
      if (record.kind === 'ack' && record.id !== undefined) {
        acked.push(record.id);
        ackTimes.set(record.id, record.t);
      }
      if (record.kind === 'sample' && record.roles)
        samples.push({ t: record.t, roles: record.roles });
    }
    return { acked, samples, ackTimes };
  }

  async stop(): Promise<AgentReport> {
    const exited = new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) resolve(undefined);
      else this.child.once('exit', resolve);
    });
    this.child.kill('SIGTERM');
    // It finishes its current write and sample; if that hangs, it is killed.
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
    return this.report();
  }
}

/** Samples where more than one host accepted a new connection as a primary. */
export function splitBrainSamples(report: AgentReport): AgentReport['samples'] {
  return report.samples.filter(
    (sample) => Object.values(sample.roles).filter((role) => role === 'primary').length > 1,
  );
}

/** psql on a lab host, through its own socket as the superuser: one value per line. */
export async function labPsql(
  state: NetnsLabState,
  host: LabHostName,
  sql: string,
  database = 'postgres',
): Promise<string> {
  const socketDir = state.hosts[host === 'host1' ? 0 : 1].socketDir;
  const out = await execIn(
    state,
    host,
    join(state.binDir, 'psql'),
    ['-X', '-At', '-h', socketDir, '-U', 'postgres', '-d', database, '-c', sql],
    { asUser: state.osUser, allowFailure: true },
  );
  return out.stdout.trim();
}
