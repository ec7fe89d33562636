// Runs inside the lab's client namespace (spawned by src/lib/lab/lab-cluster.ts): writes a
// numbered row through the primary VIP (or AGENT_WRITE_PORT there: HAProxy) every WRITE_MS
// into AGENT_TABLE and samples every host's role every SAMPLE_MS, printing one JSON line per
// acknowledged write and per sample. Stops on SIGTERM.
import pg from 'pg';
import { lookupPassword } from './lib/pg/passfile.js';

const vip = process.env['AGENT_VIP'] ?? '';
const hosts = (process.env['AGENT_HOSTS'] ?? '').split(',').filter(Boolean);
const port = Number(process.env['AGENT_PORT'] ?? '5432');
const writeMs = Number(process.env['AGENT_WRITE_MS'] ?? '20');
const sampleMs = Number(process.env['AGENT_SAMPLE_MS'] ?? '200');
const user = process.env['AGENT_USER'] ?? 'postgres';
const writePort = Number(process.env['AGENT_WRITE_PORT'] ?? String(port));
// The test names it; only letters and "_" get here (lab-cluster.ts checks).
const table = process.env['AGENT_TABLE'] ?? 'agent_writes';

let running = true;
process.on('SIGTERM', () => {
  running = false;
});

const emit = (record: object): void => {
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ...record })}\n`);
};

function client(host: string, hostPort = port): pg.Client {
  const passfile = process.env['PGPASSFILE'] ?? '';
  const password = async (): Promise<string> =>
    (await lookupPassword(passfile, { host, port: hostPort, database: 'postgres', user })) ?? '';
  const connection = new pg.Client({
    host,
    port: hostPort,
    user,
    password,
    database: 'postgres',
    connectionTimeoutMillis: 500,
    query_timeout: 1000,
    application_name: 'skypg-test-agent',
  });
  connection.on('error', () => undefined);
  return connection;
}

/**
 * Never waits for a close: ending a connection to a host that lost power waits for TCP to
 * give up (minutes), which would stall the loops and keep this process from stopping.
 */
function closeQuietly(connection: pg.Client | undefined): void {
  connection?.end().catch(() => undefined);
}

async function writer(): Promise<void> {
  let id = 0;
  let connection: pg.Client | undefined;
  while (running) {
    const started = Date.now();
    id += 1;
    try {
      if (connection === undefined) {
        connection = client(vip, writePort);
        await connection.connect();
      }
      await connection.query(`insert into ${table} (id) values ($1)`, [id]);
      emit({ kind: 'ack', id });
    } catch {
      closeQuietly(connection);
      connection = undefined;
    }
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, writeMs - (Date.now() - started))),
    );
  }
  closeQuietly(connection);
}

/** A new connection per sample: a frozen server keeps old sessions but refuses new clients. */
async function sampleOne(host: string): Promise<'primary' | 'standby' | 'down'> {
  const connection = client(host);
  try {
    await connection.connect();
    const result = await connection.query<{ standby: boolean }>(
      'select pg_is_in_recovery() as standby',
    );
    return result.rows[0]?.standby === false ? 'primary' : 'standby';
  } catch {
    return 'down';
  } finally {
    closeQuietly(connection);
  }
}

async function sampler(): Promise<void> {
  while (running) {
    const started = Date.now();
    const roles = await Promise.all(hosts.map(sampleOne));
    emit({
      kind: 'sample',
      roles: Object.fromEntries(hosts.map((host, index) => [host, roles[index]])),
    });
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, sampleMs - (Date.now() - started))),
    );
  }
}

await Promise.all([writer(), ...(hosts.length > 0 ? [sampler()] : [])]);
// Sockets to dead hosts may still be open: leave without waiting for them.
process.exit(0);
