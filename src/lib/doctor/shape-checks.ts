// Doctor checks of the pair's shape on this node: the replication slots (the standby's
// primary_slot_name against replication.slot, the primary's slot for its standby, and what
// bounds the WAL an absent standby's slot holds) and a Debian start.conf that would start the
// server at boot. The supervisor refuses to start on the same problems (supervisor/shape.ts).
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { peerOf } from '../config/local-node.js';
import { localTarget, withConnection } from '../pg/connect.js';
import { standbySlot } from '../pg/slots.js';
import { shapeProblems } from '../supervisor/shape.js';
import type { CheckResult } from './checklist.js';

/** What the local server says about slots: undefined when it does not answer. */
interface SlotFacts {
  primary: boolean;
  peerSlot: { active: boolean } | undefined;
  maxSlotWalKeepSize: string;
}

async function readSlotFacts(node: NodeConfig, slot: string): Promise<SlotFacts | undefined> {
  return withConnection(localTarget(node), async (session) => {
    const [row] = await session.query<{ primary: boolean; keep: string }>(
      "select not pg_is_in_recovery() as primary, current_setting('max_slot_wal_keep_size') as keep",
    );
    const slots = await session.query<{ active: boolean }>(
      "select active from pg_replication_slots where slot_name = $1 and slot_type = 'physical'",
      [slot],
    );
    return {
      primary: row?.primary === true,
      peerSlot: slots[0],
      maxSlotWalKeepSize: row?.keep ?? '-1',
    };
  }).catch(() => undefined);
}

export async function checkSlots(config: ClusterConfig, node: NodeConfig): Promise<CheckResult> {
  const base = { id: 'slots', node: node.name, scope: 'local' as const };
  const problem = (await shapeProblems(config, node)).find((found) => found.check === 'slots');
  if (problem !== undefined)
    return { ...base, status: 'fail', found: problem.found, fix: problem.fix };
  const peer = peerOf(config, node.name);
  const slot = standbySlot(config, peer);
  if (slot === undefined) {
    return { ...base, status: 'ok', found: 'no replication slots (replication.slot is not set)' };
  }
  const facts = await readSlotFacts(node, slot);
  if (facts === undefined) {
    return { ...base, status: 'skip', found: `PostgreSQL on ${node.name} does not answer` };
  }
  if (!facts.primary) {
    return facts.peerSlot === undefined
      ? { ...base, status: 'ok', found: `a standby keeping no slot for ${peer.name}` }
      : {
          ...base,
          status: 'warn',
          found: `a standby that keeps slot ${slot} (from when it was the primary): it holds WAL here`,
          fix: `select pg_drop_replication_slot('${slot}');   -- on ${node.name}`,
        };
  }
  if (facts.peerSlot === undefined) {
    return {
      ...base,
      status: 'fail',
      found: `the primary has no slot ${slot} for ${peer.name}, which replication.slot names: ${peer.name} cannot stream`,
      fix: `select pg_create_physical_replication_slot('${slot}', true);   -- on ${node.name}`,
    };
  }
  if (facts.maxSlotWalKeepSize === '-1') {
    return {
      ...base,
      status: 'warn',
      found: `slot ${slot} for ${peer.name} (${facts.peerSlot.active ? 'active' : 'inactive'}) may hold WAL without limit (max_slot_wal_keep_size = -1): a standby away for days fills pg_wal`,
      fix: "alter system set max_slot_wal_keep_size = '10GB'; select pg_reload_conf();   -- sized to the pg_wal disk",
    };
  }
  return {
    ...base,
    status: 'ok',
    found: `slot ${slot} for ${peer.name} (${facts.peerSlot.active ? 'active' : 'inactive'}), bounded by max_slot_wal_keep_size = ${facts.maxSlotWalKeepSize}`,
  };
}

export async function checkBootStart(
  config: ClusterConfig,
  node: NodeConfig,
): Promise<CheckResult> {
  const base = { id: 'boot-start', node: node.name, scope: 'local' as const };
  const problem = (await shapeProblems(config, node)).find((found) => found.check === 'boot-start');
  if (problem !== undefined)
    return { ...base, status: 'fail', found: problem.found, fix: problem.fix };
  return node.postgres.config_dir === undefined
    ? {
        ...base,
        status: 'ok',
        found: 'no postgres.config_dir: no Debian start.conf to start it at boot',
      }
    : { ...base, status: 'ok', found: `no start.conf of auto in ${node.postgres.config_dir}` };
}
