// HAProxy in the multi-host lab's client machine, with the shipped packaging/haproxy/haproxy.cfg
// as it is (its node addresses are the lab's): clients write to the client's own address, port
// 5000, and HAProxy forwards to the node whose health API says /primary 200. For the tests and
// bench:failover. It runs in its own process group and is stopped by its PID.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { SkypgError } from '../common/errors.js';
import { execIn } from './netns-network.js';
import { labAddresses, type NetnsLabState } from './netns-plan.js';

/** From src/lib/lab and dist/lib/lab alike: the package root is three levels up. */
export const shippedHaproxyConfig = fileURLToPath(
  new URL('../../../packaging/haproxy/haproxy.cfg', import.meta.url),
);

export interface LabHaproxy {
  /** Where clients connect for the primary: the client machine's address. */
  host: string;
  port: number;
  /** The lab's password file with its lines good for any port (HAProxy's is not 5432). */
  passfile: string;
  stop: () => void;
}

export async function startLabHaproxy(state: NetnsLabState): Promise<LabHaproxy> {
  const passfile = join(state.dir, 'pgpass-any-port');
  const lines = await readFile(state.passfile, 'utf8');
  await writeFile(passfile, lines.replaceAll(':5432:', ':*:'), { mode: 0o600 });
  const child = spawn(
    'ip',
    ['netns', 'exec', state.netns.client, 'haproxy', '-f', shippedHaproxyConfig, '-db'],
    { detached: true, stdio: 'ignore' },
  );
  child.unref();
  const stop = (): void => {
    if (child.pid === undefined || child.exitCode !== null) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
  const haproxy = { host: labAddresses.client, port: 5000, passfile, stop };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const answer = await execIn(
      state,
      'client',
      join(state.binDir, 'psql'),
      ['-X', '-At', '-h', haproxy.host, '-p', '5000', '-U', 'postgres', '-c', 'select 1'],
      { env: { PGPASSFILE: passfile }, allowFailure: true, timeoutMs: 5000 },
    );
    if (answer.stdout.trim() === '1') return haproxy;
    await sleep(250);
  }
  stop();
  throw new SkypgError(
    'LAB_FAILED',
    'HAProxy in the client machine routed no session to a primary within 20 s',
  );
}
