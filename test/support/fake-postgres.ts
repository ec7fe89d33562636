// A fake PostgreSQL server on 127.0.0.x (or on a Unix socket in a test's own directory) for
// tests: the impostor at a peer's address, or behind a socket directory. It speaks
// the v3 startup, asks for the password the way a test chooses (cleartext, MD5, SCRAM with a
// known password, or none), records what the client sent, and answers queries with chosen rows.
import { createHmac, createHash, pbkdf2Sync, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

export type FakeAuth =
  | { method: 'cleartext' }
  | { method: 'md5' }
  | { method: 'trust' }
  /** SCRAM-SHA-256 with each user's password; `forge` breaks the server's side of the proof. */
  | {
      method: 'scram';
      passwords: Record<string, string>;
      forge?: 'bad-signature' | 'skip-final';
    };

export interface FakeColumn {
  name: string;
  /** PostgreSQL type OID: 16 bool, 23 int4, 25 text, 1184 timestamptz. */
  type: number;
}

export interface FakeResult {
  columns: FakeColumn[];
  /** Each value in PostgreSQL's text format; null for SQL NULL. */
  rows: (string | null)[][];
}

export interface FakePostgresOptions {
  /** A 127.0.0.x address (a free port is picked), or a directory for a Unix socket. */
  host: string;
  /** With a directory as host: the port in the socket's name (.s.PGSQL.PORT), as libpq builds it. */
  socketPort?: number;
  auth: FakeAuth;
  /** The answer to a query; undefined answers with an error. */
  answer?: (sql: string) => FakeResult | undefined;
}

export interface FakePostgres {
  host: string;
  port: number;
  /** The payload of every password message the client sent ('p'), decoded as UTF-8. */
  passwordMessages: string[];
  queries: string[];
  close(): Promise<void>;
}

export async function startFakePostgres(options: FakePostgresOptions): Promise<FakePostgres> {
  const sockets = new Set<Socket>();
  const fake = {
    host: options.host,
    port: 0,
    passwordMessages: [] as string[],
    queries: [] as string[],
  };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    serve(socket, options, fake);
  });
  const socketDir = options.host.startsWith('/');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const listening = (): void => {
      resolve();
    };
    if (socketDir) {
      server.listen(
        join(options.host, `.s.PGSQL.${String(options.socketPort ?? 5432)}`),
        listening,
      );
    } else {
      server.listen(0, options.host, listening);
    }
  });
  const address = server.address();
  fake.port = socketDir
    ? (options.socketPort ?? 5432)
    : typeof address === 'object' && address !== null
      ? address.port
      : 0;
  return {
    ...fake,
    get passwordMessages() {
      return fake.passwordMessages;
    },
    get queries() {
      return fake.queries;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

const cstring = (text: string): Buffer => Buffer.from(`${text}\0`, 'utf8');
const auth = (code: number, extra: Buffer = Buffer.alloc(0)): Buffer =>
  message('R', Buffer.concat([int32(code), extra]));

function serve(
  socket: Socket,
  options: FakePostgresOptions,
  record: { passwordMessages: string[]; queries: string[] },
): void {
  let buffer = Buffer.alloc(0);
  let started = false;
  let user = '';
  let scram: ScramState | undefined;
  const ready = (): void => {
    socket.write(
      Buffer.concat([
        auth(0),
        message('S', Buffer.concat([cstring('server_version'), cstring('15.0')])),
        message('K', Buffer.concat([int32(4242), int32(1)])),
        message('Z', Buffer.from('I')),
      ]),
    );
  };
  const fail = (text: string, code = '28P01'): void => {
    socket.end(
      message(
        'E',
        Buffer.concat([cstring('SFATAL'), cstring(`C${code}`), cstring(`M${text}`), cstring('')]),
      ),
    );
  };
  const onStartup = (body: Buffer): void => {
    const version = body.readInt32BE(0);
    if (version === 80877103) {
      socket.write('N'); // SSLRequest: no TLS here
      return;
    }
    started = true;
    const fields = body.subarray(4).toString('utf8').split('\0');
    user = fields[fields.indexOf('user') + 1] ?? '';
    const method = options.auth.method;
    if (method === 'trust') ready();
    else if (method === 'cleartext') socket.write(auth(3));
    else if (method === 'md5') socket.write(auth(5, randomBytes(4)));
    else socket.write(auth(10, Buffer.concat([cstring('SCRAM-SHA-256'), cstring('')])));
  };
  const onPassword = (body: Buffer): void => {
    record.passwordMessages.push(body.toString('utf8'));
    if (options.auth.method !== 'scram') {
      fail('password authentication failed');
      return;
    }
    if (scram === undefined) {
      const mechanismEnd = body.indexOf(0);
      const data = body.subarray(mechanismEnd + 5).toString('utf8');
      scram = scramFirst(data, options.auth.passwords[user] ?? '');
      socket.write(auth(11, Buffer.from(scram.serverFirst)));
      return;
    }
    const final = scramFinal(scram, body.toString('utf8'));
    if (final === undefined) {
      fail('password authentication failed');
      return;
    }
    const forge = options.auth.forge;
    if (forge === 'skip-final') {
      ready();
      return;
    }
    const signature = forge === 'bad-signature' ? randomBytes(32).toString('base64') : final;
    socket.write(auth(12, Buffer.from(`v=${signature}`)));
    ready();
  };
  const onQuery = (body: Buffer): void => {
    const sql = body.subarray(0, body.length - 1).toString('utf8');
    record.queries.push(sql);
    const result = options.answer?.(sql);
    if (result === undefined) {
      socket.write(
        Buffer.concat([
          message(
            'E',
            Buffer.concat([
              cstring('SERROR'),
              cstring('C42883'),
              cstring('Mthe fake server has no answer for that query'),
              cstring(''),
            ]),
          ),
          message('Z', Buffer.from('I')),
        ]),
      );
      return;
    }
    socket.write(Buffer.concat([...resultMessages(result), message('Z', Buffer.from('I'))]));
  };
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (!started) {
        if (buffer.length < 4) return;
        const length = buffer.readInt32BE(0);
        if (buffer.length < length) return;
        const body = buffer.subarray(4, length);
        buffer = buffer.subarray(length);
        onStartup(body);
        continue;
      }
      if (buffer.length < 5) return;
      const type = String.fromCharCode(buffer[0] ?? 0);
      const length = buffer.readInt32BE(1);
      if (buffer.length < length + 1) return;
      const body = buffer.subarray(5, length + 1);
      buffer = buffer.subarray(length + 1);
      if (type === 'p') onPassword(body);
      else if (type === 'Q') onQuery(body);
      else if (type === 'X') {
        socket.end();
        return;
      }
    }
  });
}

function resultMessages(result: FakeResult): Buffer[] {
  const description = Buffer.concat([
    int32(result.columns.length).subarray(2),
    ...result.columns.map((column) =>
      Buffer.concat([
        cstring(column.name),
        int32(0),
        Buffer.alloc(2),
        int32(column.type),
        Buffer.from([0xff, 0xff]), // type size -1
        int32(-1),
        Buffer.alloc(2), // text format
      ]),
    ),
  ]);
  const rows = result.rows.map((row) =>
    message(
      'D',
      Buffer.concat([
        int32(row.length).subarray(2),
        ...row.map((value) =>
          value === null
            ? int32(-1)
            : Buffer.concat([int32(Buffer.byteLength(value)), Buffer.from(value, 'utf8')]),
        ),
      ]),
    ),
  );
  return [
    message('T', description),
    ...rows,
    message('C', cstring(`SELECT ${String(result.rows.length)}`)),
  ];
}

interface ScramState {
  clientFirstBare: string;
  serverFirst: string;
  nonce: string;
  saltedPassword: Buffer;
}

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();

// RFC 5802, the server's side, with a password the fake knows (no SASLprep: tests use ASCII).
function scramFirst(clientFirst: string, password: string): ScramState {
  const clientFirstBare = clientFirst.slice(
    clientFirst.indexOf(',', clientFirst.indexOf(',') + 1) + 1,
  );
  const clientNonce = /r=([^,]+)/.exec(clientFirstBare)?.[1] ?? '';
  const nonce = clientNonce + randomBytes(18).toString('base64');
  const salt = randomBytes(16);
  const iterations = 4096;
  return {
    clientFirstBare,
    nonce,
    serverFirst: `r=${nonce},s=${salt.toString('base64')},i=${String(iterations)}`,
    saltedPassword: pbkdf2Sync(password, salt, iterations, 32, 'sha256'),
  };
}

/** The server signature (base64) when the client's proof is right, else undefined. */
function scramFinal(state: ScramState, clientFinal: string): string | undefined {
  const proofAt = clientFinal.lastIndexOf(',p=');
  const withoutProof = clientFinal.slice(0, proofAt);
  const proof = Buffer.from(clientFinal.slice(proofAt + 3), 'base64');
  const authMessage = `${state.clientFirstBare},${state.serverFirst},${withoutProof}`;
  const clientKey = hmac(state.saltedPassword, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const signature = hmac(storedKey, authMessage);
  const recovered = Buffer.from(proof.map((byte, index) => byte ^ (signature[index] ?? 0)));
  if (!createHash('sha256').update(recovered).digest().equals(storedKey)) return undefined;
  return hmac(hmac(state.saltedPassword, 'Server Key'), authMessage).toString('base64');
}

/** The columns skypg's status query reads (src/lib/pg/server-status.ts), as a fake answers them. */
export function statusAnswer(server: {
  role: 'primary' | 'standby';
  timeline: number;
  lsn: string;
  systemIdentifier?: string;
}): (sql: string) => FakeResult | undefined {
  const primary = server.role === 'primary';
  const columns: [string, number, string | null][] = [
    ['version_num', 23, '150000'],
    ['version', 25, '15.0'],
    ['in_recovery', 16, primary ? 'f' : 't'],
    ['current_lsn', 25, primary ? server.lsn : null],
    ['current_tli', 23, primary ? String(server.timeline) : null],
    ['receive_lsn', 25, primary ? null : server.lsn],
    ['replay_lsn', 25, primary ? null : server.lsn],
    ['last_replay_at', 1184, null],
    ['received_tli', 23, primary ? null : String(server.timeline)],
    ['checkpoint_tli', 23, String(server.timeline)],
    ['replay_paused', 16, 'f'],
    ['system_identifier', 25, server.systemIdentifier ?? null],
  ];
  return (sql) =>
    /pg_is_in_recovery\(\) as in_recovery/.test(sql)
      ? {
          columns: columns.map(([name, type]) => ({ name, type })),
          rows: [columns.map(([, , value]) => value)],
        }
      : undefined;
}
