// Deployment shapes the supervisor cannot drive safely, found before its first loop: doctor
// reports the same problems as failed checks, and `skypg supervisor` refuses to start on them.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { SkypgError } from '../common/errors.js';
import { slotNameFor, standbySlot } from '../pg/slots.js';
import { readStandbySetup } from '../pg/standby-config.js';

export interface ShapeProblem {
  /** The doctor check it belongs to. */
  check: 'slots' | 'boot-start';
  found: string;
  fix: string;
}

/** Each problem of this node's shape; empty when the supervisor can drive it. */
export async function shapeProblems(
  config: ClusterConfig,
  node: NodeConfig,
): Promise<ShapeProblem[]> {
  const problems: ShapeProblem[] = [];
  const setup = await readStandbySetup(node.data_dir).catch(() => undefined);
  const expected = standbySlot(config, node);
  if (setup?.standby === true && setup.slot !== undefined && setup.slot !== expected) {
    const autoConf = join(node.data_dir, 'postgresql.auto.conf');
    problems.push({
      check: 'slots',
      found:
        expected === undefined
          ? `${node.name} streams through replication slot ${setup.slot} (primary_slot_name in ${autoConf}) but replication.slot is not set: the first failover would leave that slot holding WAL on the old primary`
          : `${node.name} streams through replication slot ${setup.slot} (primary_slot_name in ${autoConf}) but replication.slot names ${expected} for it`,
      fix: `set replication.slot to ${setup.slot === slotNameFor('{node}', node.name) ? "'{node}'" : setup.slot} in the configuration on both nodes (each standby's slot is made by the primary at promotion)`,
    });
  }
  const configDir = node.postgres.config_dir;
  if (configDir !== undefined) {
    const startConf = join(configDir, 'start.conf');
    const mode = await readFile(startConf, 'utf8')
      .then((text) => startConfMode(text))
      .catch(() => undefined);
    if (mode === 'auto') {
      problems.push({
        check: 'boot-start',
        found: `${startConf} says auto: the postgresql@ unit would start this server at boot as whatever it was (an old primary too) before skypg decides`,
        fix: `write manual into ${startConf} (pg_ctlcluster still works by hand) and let the skypg unit start PostgreSQL`,
      });
    }
  }
  return problems;
}

/** Debian's start.conf: the first word that is not a comment (auto, manual or disabled). */
export function startConfMode(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const word = line.replace(/#.*/, '').trim();
    if (word !== '') return word;
  }
  return undefined;
}

/** Throws REFUSED, in one line naming each problem and its fix, when the shape cannot be driven. */
export async function assertDrivableShape(config: ClusterConfig, node: NodeConfig): Promise<void> {
  const problems = await shapeProblems(config, node);
  if (problems.length === 0) return;
  throw new SkypgError(
    'REFUSED',
    `not supervising ${node.name}: ${problems.map((problem) => problem.found).join('; ')}`,
    { hint: problems.map((problem) => problem.fix).join('; ') },
  );
}
