// `skypg connstring`: a libpq multi-host URI that reaches the pair without a VIP. libpq tries
// the hosts in order and keeps the first whose session matches target_session_attrs, so a
// client that reconnects after a failover finds the new primary by itself. Pure.
import { isIP } from 'node:net';
import type { ClusterConfig } from './types.js';

/** libpq's target_session_attrs: read-write and any since PostgreSQL 10, the rest since 14. */
export const sessionTargets = [
  'read-write',
  'read-only',
  'primary',
  'standby',
  'prefer-standby',
  'any',
] as const;
export type SessionTarget = (typeof sessionTargets)[number];

export interface ConnstringOptions {
  target: SessionTarget;
  database: string;
  user: string | undefined;
}

export interface Connstring {
  uri: string;
  hosts: string[];
  target: SessionTarget;
  /** The oldest libpq that understands the target (its client programs and drivers). */
  needsLibpq: 10 | 14;
}

export function buildConnstring(config: ClusterConfig, options: ConnstringOptions): Connstring {
  const hosts = config.nodes.map((node) => {
    const host = isIP(node.address) === 6 ? `[${node.address}]` : node.address;
    return `${host}:${node.postgres.port}`;
  });
  const user = options.user === undefined ? '' : `${encodeURIComponent(options.user)}@`;
  // libpq's connect_timeout is per host, in whole seconds (and below 2 it takes 2).
  const connectSeconds = Math.max(2, Math.ceil(config.nodes[0].postgres.connect_timeout / 1000));
  const params = new URLSearchParams({
    target_session_attrs: options.target,
    connect_timeout: String(connectSeconds),
  });
  const sslmode = config.nodes[0].postgres.sslmode;
  if (sslmode !== 'disable') params.set('sslmode', sslmode);
  return {
    uri: `postgresql://${user}${hosts.join(',')}/${encodeURIComponent(options.database)}?${params.toString()}`,
    hosts,
    target: options.target,
    needsLibpq: options.target === 'read-write' || options.target === 'any' ? 10 : 14,
  };
}
