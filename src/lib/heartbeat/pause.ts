// `skypg pause` and `resume`: the cluster-wide pause flag in the heartbeat row.
import type { ClusterConfig } from '../config/types.js';
import { SkypgError, messageOf } from '../common/errors.js';
import { writePauseFlag } from './table.js';
import { withSuperuserSession } from './targets.js';

export interface PauseResult {
  paused: boolean;
  /** The primary the flag was written on; the standby gets it by replication. */
  writtenOn: string;
  by: string | undefined;
}

/**
 * Sets or clears the pause flag on whichever node is the primary (the standby reads it from its
 * replicated copy), as the operator (postgres.superuser, over TCP): the heartbeat role may not
 * write it.
 */
export async function setPause(
  config: ClusterConfig,
  by: string | undefined,
): Promise<PauseResult> {
  const errors: string[] = [];
  for (const node of config.nodes) {
    try {
      const written = await withSuperuserSession(config, node, 'tcp', async (session) => {
        const [role] = await session.query<{ standby: boolean }>(
          'select pg_is_in_recovery() as standby',
        );
        if (role?.standby !== false) return false;
        await writePauseFlag(session, by);
        return true;
      });
      if (written) return { paused: by !== undefined, writtenOn: node.name, by };
      errors.push(`${node.name} is a standby`);
    } catch (error) {
      if (error instanceof SkypgError && error.code === 'REFUSED') throw error;
      errors.push(`${node.name}: ${messageOf(error)}`);
    }
  }
  throw new SkypgError(
    'REFUSED',
    `no primary answered, so the pause flag could not be ${by === undefined ? 'cleared' : 'set'} (${errors.join('; ')})`,
    {
      hint: 'the flag lives in the heartbeat table on the primary; with no primary, stop the supervisors instead (systemctl stop skypg)',
    },
  );
}
