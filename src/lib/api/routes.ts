// The health API's routes: Patroni's names and meanings, so HAProxy configurations and
// Kubernetes probes written for Patroni work unchanged. 200 when the condition holds, else 503;
// GET carries a JSON body, HEAD and OPTIONS only the status (HAProxy's `option httpchk` sends
// OPTIONS). Nothing here changes the cluster. Pure: the server (server.ts) only transports.
import type { ClusterConfig } from '../config/types.js';
import { formatSize, parseSize } from '../config/units.js';
import { clusterView } from './cluster-view.js';
import { nodeHealth, type NodeHealth } from './health.js';
import { metricsContentType, renderMetrics } from './metrics.js';
import type { SupervisorView } from './view.js';

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  /** Empty for HEAD and OPTIONS (an error to another method carries its JSON). */
  body: string;
}

export const allowedMethods = ['GET', 'HEAD', 'OPTIONS'] as const;

/** Each health route: whether the node passes it, given the parsed `lag` (bytes) if any. */
type HealthCheck = (
  health: NodeHealth,
  config: ClusterConfig,
  maxLag: number | undefined,
) => boolean;

const withinLag = (health: NodeHealth, maxLag: number | undefined): boolean =>
  maxLag === undefined || (health.lagBytes !== undefined && health.lagBytes <= maxLag);

const replica: HealthCheck = (h, _c, lag) => h.streamingStandby && withinLag(h, lag);
const primary: HealthCheck = (h) => h.writablePrimary;

const healthRoutes: Record<string, { check: HealthCheck; takesLag: boolean }> = {
  '/': { check: primary, takesLag: false },
  '/primary': { check: primary, takesLag: false },
  '/read-write': { check: primary, takesLag: false },
  // Patroni's older names, still in many HAProxy configurations.
  '/master': { check: primary, takesLag: false },
  '/leader': { check: primary, takesLag: false },
  '/replica': { check: replica, takesLag: true },
  '/read-only': { check: (h, c, lag) => h.writablePrimary || replica(h, c, lag), takesLag: true },
  '/sync': { check: (h, c, lag) => h.syncStandby && replica(h, c, lag), takesLag: true },
  '/synchronous': { check: (h, c, lag) => h.syncStandby && replica(h, c, lag), takesLag: true },
  // In async mode every streaming standby is asynchronous, as Patroni answers it.
  '/async': { check: (h, c, lag) => !h.syncStandby && replica(h, c, lag), takesLag: true },
  '/asynchronous': { check: (h, c, lag) => !h.syncStandby && replica(h, c, lag), takesLag: true },
  '/health': { check: (h) => h.postgresUp, takesLag: false },
  '/liveness': { check: (h) => h.loopRecent, takesLag: false },
  '/readiness': {
    check: (h, c) => h.writablePrimary || replica(h, c, c.failover.max_lag),
    takesLag: false,
  },
};

const otherRoutes = ['/cluster', '/metrics'];

export const routeNames = [...Object.keys(healthRoutes), ...otherRoutes];

export function answerRequest(
  method: string,
  target: string,
  view: SupervisorView,
  config: ClusterConfig,
  now: number,
): ApiResponse {
  if (!(allowedMethods as readonly string[]).includes(method)) {
    return error(405, `method ${method} is not served: only GET, HEAD and OPTIONS exist`, method, {
      allow: allowedMethods.join(', '),
    });
  }
  const parsed = parseTarget(target);
  if (parsed === undefined) return error(400, `cannot read the request target ${target}`, method);
  const { path, query } = parsed;
  const health = nodeHealth(view, config, now);

  if (path === '/metrics' || path === '/cluster') {
    const unknown = [...query.keys()][0];
    if (unknown !== undefined) return error(400, `${path} takes no parameter "${unknown}"`, method);
    if (path === '/metrics')
      return respond(200, method, renderMetrics(view, health, config), metricsContentType);
    return json(200, method, clusterView(view, health, config, now));
  }
  const route = healthRoutes[path];
  if (route === undefined) {
    return error(404, `no route ${path}; the routes are ${routeNames.join(' ')}`, method);
  }
  let maxLag: number | undefined;
  for (const [key, value] of query) {
    if (key !== 'lag' || !route.takesLag) {
      return error(
        400,
        `${path} takes no parameter "${key}"${route.takesLag ? ' (only lag)' : ''}`,
        method,
      );
    }
    maxLag = parseSize(value);
    if (maxLag === undefined) {
      return error(
        400,
        `lag must be a size such as 16MB or a byte count such as 1048576, got "${value}"`,
        method,
      );
    }
  }
  const passes = route.check(health, config, maxLag);
  return json(passes ? 200 : 503, method, nodeBody(view, health, config, maxLag));
}

/** The GET body of a health route: this node as its supervisor last saw it. */
function nodeBody(
  view: SupervisorView,
  health: NodeHealth,
  config: ClusterConfig,
  maxLag: number | undefined,
): Record<string, unknown> {
  const local = health.fresh ? view.observation?.local : undefined;
  return {
    cluster: view.cluster,
    node: view.node,
    role: health.role,
    state: health.state ?? 'starting',
    reason: view.decision?.reason ?? 'no loop has decided yet',
    postgres: health.postgresUp ? 'running' : 'not answering',
    ...(local?.timeline === undefined ? {} : { timeline: local.timeline }),
    ...(local?.lsn === undefined ? {} : { lsn: local.lsn }),
    ...(local?.receiver === undefined ? {} : { receiver: local.receiver }),
    ...(health.lagBytes === undefined ? {} : { lagBytes: health.lagBytes }),
    ...(maxLag === undefined ? {} : { maxLag: formatSize(maxLag) }),
    replicationMode: config.replication.mode,
    paused: health.paused,
    primaryVipHeld: view.observation?.primaryVip.heldHere ?? false,
    ...(health.observedAgeMs === undefined
      ? {}
      : { observedSecondsAgo: Number((health.observedAgeMs / 1000).toFixed(3)) }),
  };
}

function parseTarget(target: string): { path: string; query: URLSearchParams } | undefined {
  // "//host/path" would parse as another authority: a request target here is a path.
  if (!target.startsWith('/') || target.startsWith('//')) return undefined;
  try {
    const url = new URL(target, 'http://api.invalid');
    return { path: url.pathname, query: url.searchParams };
  } catch {
    return undefined;
  }
}

function json(status: number, method: string, body: unknown): ApiResponse {
  return respond(status, method, `${JSON.stringify(body)}\n`, 'application/json');
}

function error(
  status: number,
  message: string,
  method: string,
  extra: Record<string, string> = {},
): ApiResponse {
  const response = json(status, method, { error: message });
  return { ...response, headers: { ...response.headers, ...extra } };
}

function respond(status: number, method: string, body: string, type: string): ApiResponse {
  const headers = { 'content-type': type, 'cache-control': 'no-store' };
  return { status, headers, body: method === 'HEAD' || method === 'OPTIONS' ? '' : body };
}
