// bench:switchover's independent client, run inside the lab's client namespace (spawned by
// persistent-writer.ts): an application the way one is usually written, not tuned to the
// switchover. One connection to PERSISTENT_HOST that it keeps; an insert every
// PERSISTENT_WRITE_MS; after any error it drops that connection and opens a new one, with a
// PERSISTENT_CONNECT_TIMEOUT_MS connect timeout. Prints one JSON line per acknowledged write
// and per error (with what failed, after how long), so the bench can tell an error that came
// at once (a reset, a server that said FATAL) from one that waited out a timeout. Stops on
// SIGTERM.
import pg from 'pg';
import { lookupPassword } from '../../src/lib/pg/passfile.js';

const host = process.env['PERSISTENT_HOST'] ?? '';
const port = Number(process.env['PERSISTENT_PORT'] ?? '5432');
const table = process.env['PERSISTENT_TABLE'] ?? 'persistent_writes';
const writeMs = Number(process.env['PERSISTENT_WRITE_MS'] ?? '50');
const connectTimeoutMs = Number(process.env['PERSISTENT_CONNECT_TIMEOUT_MS'] ?? '1000');
// Not part of the client's behaviour: only so that a write sent into a dead TCP connection
// cannot hang the benchmark for the minutes TCP takes to give up.
const guardMs = 10_000;

// An object, so that the loop reads what the handler wrote.
const stop = { requested: false };
process.on('SIGTERM', () => {
  stop.requested = true;
});

const emit = (record: object): void => {
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ...record })}\n`);
};

let tableMade = false;

async function connect(): Promise<pg.Client> {
  const passfile = process.env['PGPASSFILE'] ?? '';
  const connection = new pg.Client({
    host,
    port,
    user: 'postgres',
    database: 'postgres',
    password: async () =>
      (await lookupPassword(passfile, { host, port, database: 'postgres', user: 'postgres' })) ??
      '',
    connectionTimeoutMillis: connectTimeoutMs,
    query_timeout: guardMs,
    application_name: 'skypg-bench-persistent',
  });
  // A server that ends the session between two writes: the next query fails and says so.
  connection.on('error', () => undefined);
  await connection.connect();
  if (!tableMade) {
    await connection.query(`create table if not exists ${table} (id int primary key)`);
    tableMade = true;
  }
  return connection;
}

let id = 0;
let connection: pg.Client | undefined;
while (!stop.requested) {
  const started = Date.now();
  try {
    connection ??= await connect();
    id += 1;
    await connection.query(`insert into ${table} (id) values ($1)`, [id]);
    emit({ kind: 'ack', id });
  } catch (error) {
    emit({
      kind: 'error',
      phase: connection === undefined ? 'connect' : 'insert',
      tookMs: Date.now() - started,
      message: error instanceof Error ? error.message : String(error),
    });
    // Never waits for the close: a socket into silence would hold the loop.
    connection?.end().catch(() => undefined);
    connection = undefined;
  }
  await new Promise((resolve) =>
    setTimeout(resolve, Math.max(0, writeMs - (Date.now() - started))),
  );
}
connection?.end().catch(() => undefined);
process.exit(0);
