// Observations for the pure policy tests: a healthy standby's and a healthy primary's view of
// the pair, each changed by a partial overlay.
import type { Observation } from '../../src/lib/supervisor/types.js';

export const NOW = 1_000_000;

export type ObsChanges = {
  [K in keyof Observation]?: Observation[K] extends object
    ? Partial<Observation[K]>
    : Observation[K];
};

/** host2's view of a healthy pair: it is the streaming standby, host1 the primary. */
export function standbyView(changes: ObsChanges = {}): Observation {
  const obs: Observation = {
    now: NOW,
    node: 'host2',
    peer: 'host1',
    local: {
      running: true,
      answering: true,
      role: 'standby',
      timeline: 1,
      lsn: '0/3000000',
      receiver: 'streaming',
      replayBacklog: 0,
      heartbeat: { lastAlive: 500_000, writer: 'host1', repLag: 0 },
    },
    peerServer: { answering: true, role: 'primary', timeline: 1, lsn: '0/3000100' },
    primaryVip: {
      configured: true,
      heldHere: false,
      answeredByOtherPrimary: true,
      heldElsewhere: true,
    },
    standbyVip: { configured: true, heldHere: true },
    gateway: { configured: true, reachable: true },
  };
  return merge(obs, changes);
}

/** host1's view of a healthy pair: it is the primary, holding the primary VIP. */
export function primaryView(changes: ObsChanges = {}): Observation {
  const obs: Observation = {
    now: NOW,
    node: 'host1',
    peer: 'host2',
    local: {
      running: true,
      answering: true,
      role: 'primary',
      timeline: 1,
      lsn: '0/3000100',
      beatCommitted: true,
      peerReplication: { state: 'streaming', syncState: 'async' },
      syncStandbyNames: '',
    },
    peerServer: { answering: true, role: 'standby', timeline: 1, lsn: '0/3000000' },
    primaryVip: {
      configured: true,
      heldHere: true,
      answeredByOtherPrimary: false,
      heldElsewhere: false,
    },
    standbyVip: { configured: true, heldHere: false },
    gateway: { configured: true, reachable: true },
  };
  return merge(obs, changes);
}

export function merge(obs: Observation, changes: ObsChanges): Observation {
  const out = { ...obs } as Record<string, unknown>;
  for (const [key, value] of Object.entries(changes)) {
    const current = out[key];
    out[key] =
      typeof value === 'object' && value !== null && typeof current === 'object' && current !== null
        ? { ...current, ...value }
        : value;
  }
  return out as unknown as Observation;
}
