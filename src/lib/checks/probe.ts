// `skypg probe`: is a TCP port open (the manual procedure's port_probe), and with --sql, does
// PostgreSQL answer there and in which role. Every step is bounded by the timeout.
import { isIP, Socket } from 'node:net';
import type { ClusterConfig, VipRole } from '../config/types.js';
import { didYouMean } from '../config/suggest.js';
import { SkypgError, messageOf } from '../common/errors.js';

export type ProbeTarget =
  | { kind: 'address'; host: string; port: number }
  | { kind: 'node'; name: string }
  | { kind: 'vip'; role: VipRole };

const targetForms = 'HOST:PORT, a node name from the configuration, vip:primary or vip:standby';

/** Parses HOST:PORT ([v6]:PORT), vip:primary|standby, or a bare node name. */
export function parseProbeTarget(text: string): ProbeTarget {
  if (text.trim() === '') {
    throw new SkypgError('USAGE', 'TARGET is empty', {
      hint: 'give HOST:PORT, a node name, vip:primary or vip:standby',
    });
  }
  const vip = /^vip:(.*)$/.exec(text);
  if (vip) {
    const role = vip[1];
    if (role === 'primary' || role === 'standby') return { kind: 'vip', role };
    throw new SkypgError(
      'USAGE',
      `unknown VIP "${role ?? ''}"${didYouMean(role ?? '', ['primary', 'standby'])}`,
      {
        hint: 'write vip:primary or vip:standby',
      },
    );
  }
  const address = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (address?.[1] !== undefined && address[2] !== undefined) {
    const port = Number(address[2]);
    if (port < 1 || port > 65535) {
      throw new SkypgError('USAGE', `port ${address[2]} in "${text}" is out of range`, {
        hint: 'ports are 1 to 65535',
      });
    }
    if (/^[\d.]+$/.test(address[1]) && isIP(address[1]) !== 4) {
      throw new SkypgError('USAGE', `"${address[1]}" in "${text}" is not an IPv4 address`, {
        hint: 'write four numbers from 0 to 255 separated by dots, e.g. 127.0.0.1:5432',
      });
    }
    return { kind: 'address', host: address[1], port };
  }
  if (text.includes(':') && isIP(text) === 0) {
    throw new SkypgError('USAGE', `"${text}" is not a probe target`, {
      hint: `write ${targetForms}`,
    });
  }
  if (isIP(text) !== 0) {
    throw new SkypgError('USAGE', `"${text}" has no port`, {
      hint: `write ${text}:5432 (HOST:PORT)`,
    });
  }
  return { kind: 'node', name: text };
}

export interface ResolvedTarget {
  host: string;
  port: number;
}

/** Turns a node name or VIP into an address with the configuration. */
export function resolveProbeTarget(
  target: ProbeTarget,
  config: ClusterConfig | undefined,
): ResolvedTarget {
  if (target.kind === 'address') return { host: target.host, port: target.port };
  if (config === undefined) {
    throw new SkypgError(
      'CONFIG_NOT_FOUND',
      `a configuration is needed to resolve ${target.kind === 'vip' ? `vip:${target.role}` : `"${target.name}"`}`,
      {
        hint: 'pass --config FILE or set SKYPG_CONFIG, or probe HOST:PORT',
      },
    );
  }
  if (target.kind === 'vip') {
    const vip = config.vip[target.role];
    if (vip === undefined) {
      throw new SkypgError('USAGE', `vip.${target.role} is not configured`, {
        hint: 'add it to the configuration, or probe HOST:PORT',
      });
    }
    return { host: vip.host, port: config.nodes[0].postgres.port };
  }
  const node = config.nodes.find((candidate) => candidate.name === target.name);
  if (node === undefined) {
    const names = config.nodes.map((candidate) => candidate.name);
    throw new SkypgError(
      'USAGE',
      `unknown target "${target.name}"${didYouMean(target.name, names)}`,
      {
        hint: `write ${targetForms} (nodes: ${names.join(', ')})`,
      },
    );
  }
  return { host: node.address, port: node.postgres.port };
}

export interface TcpProbe {
  reachable: boolean;
  latencyMs: number;
  error: string | undefined;
}

/** One TCP connect, abandoned at the timeout (a dropped SYN never answers on its own). */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<TcpProbe> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = new Socket();
    const finish = (error: string | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({
        reachable: error === undefined,
        latencyMs: round(performance.now() - started),
        error,
      });
    };
    const timer = setTimeout(() => {
      finish(`no answer within ${timeoutMs}ms`);
    }, timeoutMs);
    socket.once('connect', () => {
      finish(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      finish(error.code === 'ECONNREFUSED' ? 'connection refused' : (error.code ?? error.message));
    });
    socket.connect({ host, port });
  });
}

export interface SqlProbeOptions {
  user: string;
  database: string;
  passfile: string | undefined;
  timeoutMs: number;
}

export interface ProbeResult {
  target: string;
  host: string;
  port: number;
  reachable: boolean;
  latencyMs: number;
  /** With --sql: how long the PostgreSQL login and query took. */
  sqlLatencyMs?: number;
  role?: 'primary' | 'standby';
  error?: string;
}

export async function probe(
  targetText: string,
  resolved: ResolvedTarget,
  timeoutMs: number,
  sql: SqlProbeOptions | undefined,
): Promise<ProbeResult> {
  const tcp = await probeTcp(resolved.host, resolved.port, timeoutMs);
  const base = {
    target: targetText,
    host: resolved.host,
    port: resolved.port,
    latencyMs: tcp.latencyMs,
  };
  if (!tcp.reachable) return { ...base, reachable: false, error: tcp.error ?? 'unreachable' };
  if (sql === undefined) return { ...base, reachable: true };
  const started = performance.now();
  try {
    // Loaded only for --sql: a plain TCP probe (cron, every minute) skips the pg import.
    const { withConnection } = await import('../pg/connect.js');
    const role = await withConnection(
      {
        host: resolved.host,
        port: resolved.port,
        user: sql.user,
        database: sql.database,
        passfile: sql.passfile,
        connectTimeoutMs: sql.timeoutMs,
        statementTimeoutMs: sql.timeoutMs,
      },
      async (session) => {
        const [row] = await session.query<{ standby: boolean }>(
          'select pg_is_in_recovery() as standby',
        );
        return row?.standby === true ? ('standby' as const) : ('primary' as const);
      },
    );
    return { ...base, reachable: true, sqlLatencyMs: round(performance.now() - started), role };
  } catch (error) {
    return {
      ...base,
      reachable: false,
      sqlLatencyMs: round(performance.now() - started),
      error: messageOf(error),
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
