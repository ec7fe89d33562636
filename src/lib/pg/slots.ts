// Physical replication slots across a failover (replication.slot): the primary keeps one for
// its standby, a standby keeps none. A slot left on a node from the time it was the primary
// would hold WAL there for good, so it goes when the node becomes a standby.
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { peerOf } from '../config/local-node.js';
import { messageOf } from '../common/errors.js';
import { localTarget, withConnection, type PgSession } from './connect.js';

/** The slot name for a standby node: {node} becomes its name, lowercased, "-" as "_" (pure). */
export function slotNameFor(template: string, nodeName: string): string {
  return template.replaceAll('{node}', nodeName.toLowerCase().replaceAll('-', '_'));
}

/** The slot `standby` streams through, or undefined when the pair uses none. */
export function standbySlot(config: ClusterConfig, standby: NodeConfig): string | undefined {
  return config.replication.slot === undefined
    ? undefined
    : slotNameFor(config.replication.slot, standby.name);
}

/**
 * On a new primary: makes the physical slot its standby will stream through, reserving WAL
 * from now, so the old primary can rejoin without a base backup. Returns whether it was made.
 */
export async function ensureSlot(session: PgSession, slot: string): Promise<boolean> {
  const rows = await session.query<{ made: boolean }>(
    `select (pg_create_physical_replication_slot($1, true)).slot_name is not null as made
       where not exists (select 1 from pg_replication_slots where slot_name = $1)`,
    [slot],
  );
  return rows.length > 0;
}

/**
 * On a node that is now a standby: drops the inactive physical slots it kept as the primary
 * (named for the peer), which would otherwise hold its WAL until its disk fills. Returns them.
 */
export async function dropStaleSlots(session: PgSession, slots: string[]): Promise<string[]> {
  if (slots.length === 0) return [];
  const rows = await session.query<{ slot_name: string }>(
    `select slot_name from pg_replication_slots
       where slot_type = 'physical' and not active and slot_name = any($1::text[])`,
    [slots],
  );
  for (const row of rows) {
    await session.query('select pg_drop_replication_slot($1)', [row.slot_name]);
  }
  return rows.map((row) => row.slot_name);
}

/**
 * After `node` started as a standby: drops the slot it kept for its peer while it was the
 * primary. Says what it did, in words for the action's log line; never throws (a slot left
 * behind is reported, and doctor's slots check names it).
 */
export async function releaseSlotsAsStandby(
  config: ClusterConfig,
  node: NodeConfig,
): Promise<string> {
  const stale = standbySlot(config, peerOf(config, node.name));
  if (stale === undefined) return '';
  try {
    const dropped = await withConnection(localTarget(node), (session) =>
      dropStaleSlots(session, [stale]),
    );
    return dropped.length > 0 ? `; dropped its stale replication slot ${stale}` : '';
  } catch (error) {
    return `; could not drop its stale replication slot ${stale} (${messageOf(error)})`;
  }
}
