// pg_promote() itself, for every caller (skypg promote, the switchover and its rollback): what
// it returns and how long it may take are decided here once.
import { setTimeout as sleep } from 'node:timers/promises';
import { SkypgError } from '../common/errors.js';
import { withConnection, type ConnectTarget } from './connect.js';
import { readServerStatus } from './server-status.js';

/** How long a promotion may take before it is reported as unfinished. */
export const promoteWaitSeconds = 60;

/**
 * Promotes the standby at `target` and returns its new timeline. `wait: 'server'` lets
 * pg_promote wait (it looks every 100 ms); `wait: 'poll'` asks every few ms instead, for a
 * switchover's shortest write pause. `onSignal` runs just before the promotion is asked for.
 */
export async function promoteServer(
  target: ConnectTarget,
  name: string,
  options: { wait: 'server' | 'poll'; onSignal?: () => void },
): Promise<number> {
  const unfinished = (): SkypgError =>
    new SkypgError(
      'PARTIAL',
      `pg_promote() on ${name} did not finish within ${promoteWaitSeconds}s`,
      {
        hint: "check the server's log; it may still be promoting",
      },
    );
  const session = { ...target, statementTimeoutMs: (promoteWaitSeconds + 5) * 1000 };
  return withConnection(session, async (db) => {
    options.onSignal?.();
    if (options.wait === 'server') {
      const [row] = await db.query<{ promoted: boolean }>(
        `select pg_promote(true, ${promoteWaitSeconds}) as promoted`,
      );
      if (row?.promoted !== true) throw unfinished();
      return (await readServerStatus(db)).timeline;
    }
    await db.query('select pg_promote(false)');
    const deadline = Date.now() + promoteWaitSeconds * 1000;
    while (Date.now() < deadline) {
      const status = await readServerStatus(db);
      if (status.role === 'primary') return status.timeline;
      await sleep(5);
    }
    throw unfinished();
  });
}
