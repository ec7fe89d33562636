// GET /cluster: both nodes in the shape `skypg status --json` prints, as this node's supervisor
// saw them in its latest loop (its own server directly, the peer over TCP). Pure.
import type { ClusterConfig, VipRole } from '../config/types.js';
import type { ClusterStatus, NodeRow, VipRow } from '../status/cluster-status.js';
import type { NodeHealth } from './health.js';
import type { SupervisorView } from './view.js';

export function clusterView(
  view: SupervisorView,
  health: NodeHealth,
  config: ClusterConfig,
  now: number,
): ClusterStatus {
  const observation = health.fresh ? view.observation : undefined;
  const nodes = config.nodes.map((node): NodeRow => {
    const base = { name: node.name, address: node.address, port: node.postgres.port };
    if (observation === undefined) {
      return { ...base, reachable: false, error: 'no recent observation', vips: [] };
    }
    if (node.name === view.node) {
      const local = observation.local;
      const vips: VipRole[] = [];
      if (observation.primaryVip.heldHere) vips.push('primary');
      if (observation.standbyVip.heldHere) vips.push('standby');
      return {
        ...base,
        reachable: local.running && local.answering,
        ...(local.role === undefined ? {} : { role: local.role }),
        ...(local.timeline === undefined ? {} : { timeline: local.timeline }),
        ...(local.lsn === undefined ? {} : { lsn: local.lsn }),
        ...(health.lagBytes === undefined ? {} : { lagBytes: health.lagBytes }),
        ...(local.receiver === undefined ? {} : { receiver: local.receiver }),
        vips,
        ...(local.heartbeat === undefined
          ? {}
          : { heartbeatAgeSeconds: round((observation.now - local.heartbeat.lastAlive) / 1000) }),
        supervisor: {
          state: view.decision?.state ?? 'starting',
          reason: view.decision?.reason ?? 'no loop has decided yet',
          paused: health.paused,
          running: true,
          ageSeconds: round((now - (view.lastLoop?.endedAt ?? now)) / 1000),
        },
      };
    }
    const peer = observation.peerServer;
    const peerHoldsPrimaryVip = observation.primaryVip.heldElsewhere && peer.role === 'primary';
    if (!peer.answering) {
      const error = peer.notPeer ?? (peer.refused === true ? 'connection refused' : 'no answer');
      return { ...base, reachable: false, error, vips: [] };
    }
    return {
      ...base,
      reachable: true,
      ...(peer.role === undefined ? {} : { role: peer.role }),
      ...(peer.timeline === undefined ? {} : { timeline: peer.timeline }),
      ...(peer.lsn === undefined ? {} : { lsn: peer.lsn }),
      vips: peerHoldsPrimaryVip ? ['primary'] : [],
    };
  });
  const vips: VipRow[] = [];
  for (const role of ['primary', 'standby'] as const) {
    const vip = config.vip[role];
    if (vip === undefined) continue;
    const holder = nodes.find((row) => row.vips.includes(role))?.name;
    vips.push({ role, address: vip.address, ...(holder === undefined ? {} : { holder }) });
  }
  return {
    cluster: config.cluster,
    checkedAt: new Date(observation?.now ?? now).toISOString(),
    nodes,
    vips,
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
