// Acting on a test lab's servers the way an operator would: SQL as the superuser through the
// node's socket, and pg_ctl stop/start as the OS user.
import type { NodeConfig } from '../../src/lib/config/types.js';
import { localTarget, withConnection } from '../../src/lib/pg/connect.js';
import { runPgProgram } from '../../src/lib/pg/programs.js';
import type { TestLab } from './lab.js';

export function sql<Row extends object = Record<string, unknown>>(
  node: NodeConfig,
  text: string,
  params: unknown[] = [],
  database = 'postgres',
): Promise<Row[]> {
  return withConnection(localTarget(node, { database }), (session) =>
    session.query<Row>(text, params),
  );
}

export function labNode(lab: TestLab, name: 'host1' | 'host2'): NodeConfig {
  const node = lab.config.nodes.find((candidate) => candidate.name === name);
  if (!node) throw new Error(`no ${name} in the lab`);
  return node;
}

function context(lab: TestLab) {
  return {
    binDir: lab.state.binDir,
    osUser: lab.state.osUser,
    cwd: lab.state.dir,
    env: { PGPASSFILE: lab.state.passfile },
  };
}

/** Whether `role` is a superuser on host1 now: what an attack by a lesser role aims at. */
export async function isSuperuserRole(lab: TestLab, role: string): Promise<boolean> {
  const [row] = await sql<{ rolsuper: boolean }>(
    labNode(lab, 'host1'),
    'select rolsuper from pg_roles where rolname = $1',
    [role],
  );
  return row?.rolsuper === true;
}

export async function stopServer(
  lab: TestLab,
  name: 'host1' | 'host2',
  mode: 'fast' | 'immediate' = 'fast',
): Promise<void> {
  const node = labNode(lab, name);
  await runPgProgram(context(lab), 'pg_ctl', ['-D', node.data_dir, '-m', mode, '-w', 'stop']);
}

export async function startServer(lab: TestLab, name: 'host1' | 'host2'): Promise<void> {
  const node = labNode(lab, name);
  const logFile =
    lab.state.nodes.find((candidate) => candidate.name === name)?.logFile ?? '/dev/null';
  await runPgProgram(context(lab), 'pg_ctl', ['-D', node.data_dir, '-l', logFile, '-w', 'start']);
}

/** Generates roughly `bytes` of WAL on the primary. */
export async function writeWal(primary: NodeConfig, bytes: number): Promise<void> {
  await sql(primary, 'create table if not exists wal_filler (id bigserial, pad text)');
  // Each row of ~1 kB costs a little over 1 kB of WAL.
  const rows = Math.ceil(bytes / 1100);
  await sql(
    primary,
    "insert into wal_filler (pad) select repeat('x', 1000) from generate_series(1, $1)",
    [rows],
  );
}
