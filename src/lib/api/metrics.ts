// GET /metrics: the Prometheus text format (version 0.0.4), every name prefixed skypg_ and
// labelled with cluster and node. A sample whose value is unknown (no timeline yet, no failover
// yet) is left out rather than written as 0. `promtool check metrics` passes it with no
// warnings (test/integration/health-api). Pure.
import type { BeaconStats } from '../beacon/beacon.js';
import type { ClusterConfig } from '../config/types.js';
import type { HookStats } from '../hooks/runner.js';
import { parseLsn } from '../pg/lsn.js';
import type { SupervisorStateName } from '../supervisor/types.js';
import type { NodeHealth } from './health.js';
import type { SupervisorView } from './view.js';

export const metricsContentType = 'text/plain; version=0.0.4; charset=utf-8';

type MetricType = 'gauge' | 'counter';

interface Sample {
  labels?: Record<string, string>;
  value: number;
}

interface Metric {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

const supervisorStates: readonly SupervisorStateName[] = [
  'starting',
  'standby',
  'primary',
  'promoting',
  'demoted',
  'rejoining',
  'blocked',
  'paused',
  'switchover',
];

export function renderMetrics(
  view: SupervisorView,
  health: NodeHealth,
  config: ClusterConfig,
): string {
  const base = { cluster: view.cluster, node: view.node };
  const observation = health.fresh ? view.observation : undefined;
  const local = observation?.local;
  const peer = observation?.peerServer;
  const one = (value: number | undefined): Sample[] => (value === undefined ? [] : [{ value }]);
  const flag = (value: boolean): Sample[] => [{ value: value ? 1 : 0 }];
  const seconds = (ms: number | undefined): number | undefined =>
    ms === undefined ? undefined : ms / 1000;
  const lsnBytes = (lsn: string | undefined): number | undefined =>
    lsn === undefined ? undefined : Number(parseLsn(lsn));
  const heartbeatAgeMs =
    local?.heartbeat === undefined || observation === undefined
      ? undefined
      : Math.max(0, observation.now - local.heartbeat.lastAlive);
  const loop = view.lastLoop;
  const counters = view.counters;

  const metrics: Metric[] = [
    {
      name: 'skypg_postgres_up',
      type: 'gauge',
      help: 'PostgreSQL runs on this node and accepted a new connection in the last loop.',
      samples: flag(health.postgresUp),
    },
    {
      name: 'skypg_role',
      type: 'gauge',
      help: "This node's PostgreSQL role: 1 for the role it has (unknown when it does not answer).",
      samples: (['primary', 'standby', 'unknown'] as const).map((role) => ({
        labels: { role },
        value: health.role === role ? 1 : 0,
      })),
    },
    {
      name: 'skypg_supervisor_state',
      type: 'gauge',
      help: "The supervisor's state (docs/failover.md): 1 for the state it is in.",
      samples: supervisorStates.map((state) => ({
        labels: { state },
        value: health.state === state ? 1 : 0,
      })),
    },
    {
      name: 'skypg_writable_primary',
      type: 'gauge',
      help: 'This node passes /primary: a healthy primary holding the primary VIP when one is configured.',
      samples: flag(health.writablePrimary),
    },
    {
      name: 'skypg_timeline',
      type: 'gauge',
      help: "This node's PostgreSQL timeline.",
      samples: one(local?.timeline),
    },
    {
      name: 'skypg_wal_position_bytes',
      type: 'gauge',
      help: 'WAL position as a byte offset: current on a primary, replayed on a standby.',
      samples: one(lsnBytes(local?.lsn)),
    },
    {
      name: 'skypg_peer_wal_position_bytes',
      type: 'gauge',
      help: "The peer's WAL position as a byte offset, when it answered the last loop.",
      samples: one(peer?.answering === true ? lsnBytes(peer.lsn) : undefined),
    },
    {
      name: 'skypg_replication_lag_bytes',
      type: 'gauge',
      help: 'Standby: bytes behind the primary (received but not replayed, or as the primary recorded).',
      samples: one(health.lagBytes),
    },
    {
      name: 'skypg_replication_lag_seconds',
      type: 'gauge',
      help: 'Standby: age of the newest heartbeat it replayed (the primary beats every heartbeat.interval).',
      samples: one(health.role === 'standby' ? seconds(heartbeatAgeMs) : undefined),
    },
    {
      name: 'skypg_heartbeat_age_seconds',
      type: 'gauge',
      help: "Age of the heartbeat row as this node sees it (the writer's clock against this node's).",
      samples: one(seconds(heartbeatAgeMs)),
    },
    {
      name: 'skypg_replication_sync_standby',
      type: 'gauge',
      help: 'This standby is the synchronous standby the primary waits for (replication.mode sync, no degrade recorded).',
      samples: flag(health.syncStandby),
    },
    {
      name: 'skypg_replication_sync_degraded',
      type: 'gauge',
      help: 'replication.mode is sync but the primary has degraded to async (recorded in the heartbeat row).',
      samples: flag(
        config.replication.mode === 'sync' && local?.heartbeat?.syncDegradedAt !== undefined,
      ),
    },
    {
      name: 'skypg_paused',
      type: 'gauge',
      help: 'The cluster-wide pause flag is set (skypg pause): no automatic failover.',
      samples: flag(health.paused),
    },
    {
      name: 'skypg_primary_vip_held',
      type: 'gauge',
      help: 'This node holds the primary VIP.',
      samples: flag(observation?.primaryVip.heldHere === true),
    },
    {
      name: 'skypg_primary_failed_checks',
      type: 'gauge',
      help: 'Standby: loops in a row in which nothing showed the primary alive (failover at heartbeat.misses).',
      samples: one(view.decision?.memory.misses ?? 0),
    },
    {
      name: 'skypg_supervisor_loop_duration_seconds',
      type: 'gauge',
      help: "Duration of the supervisor's last loop (observe and decide).",
      samples: one(loop === undefined ? undefined : seconds(loop.endedAt - loop.startedAt)),
    },
    {
      name: 'skypg_supervisor_last_loop_timestamp_seconds',
      type: 'gauge',
      help: "When the supervisor's last loop ended, in seconds since the epoch.",
      samples: one(loop === undefined ? undefined : seconds(loop.endedAt)),
    },
    {
      name: 'skypg_supervisor_start_time_seconds',
      type: 'gauge',
      help: 'When this supervisor started, in seconds since the epoch.',
      samples: one(seconds(view.startedAt)),
    },
    {
      name: 'skypg_last_failover_duration_seconds',
      type: 'gauge',
      help: "From the old primary's last sign of life to the end of this node's promotion, for the last failover this supervisor made.",
      samples: one(seconds(view.lastFailoverMs)),
    },
    {
      name: 'skypg_supervisor_loops_total',
      type: 'counter',
      help: 'Loops the supervisor ran.',
      samples: one(counters.loops),
    },
    {
      name: 'skypg_supervisor_failed_observations_total',
      type: 'counter',
      help: 'Loops whose observation failed or passed its deadline.',
      samples: one(counters.failedObservations),
    },
    {
      name: 'skypg_fences_total',
      type: 'counter',
      help: 'Times this node powered its peer off (verified) before promoting.',
      samples: one(counters.fences),
    },
    {
      name: 'skypg_peer_clearances_total',
      type: 'counter',
      help: 'Times this node proved the old primary cannot write before promoting: fenced, found powered off, or answering as a standby.',
      samples: one(counters.peerClearances),
    },
    {
      name: 'skypg_promotions_total',
      type: 'counter',
      help: 'Promotions of this node by its supervisor.',
      samples: one(counters.promotions),
    },
    {
      name: 'skypg_demotions_total',
      type: 'counter',
      help: 'Demotions of this node by its supervisor (self-demotion, yielding, switchover hand-over).',
      samples: one(counters.demotions),
    },
    {
      name: 'skypg_failed_actions_total',
      type: 'counter',
      help: 'Supervisor actions that failed (fence, promote, VIP, demote, rebuild...).',
      samples: one(counters.failedActions),
    },
    ...hookMetrics(view.hooks),
    ...beaconMetrics(view.beacon),
  ];
  return metrics.map((metric) => renderMetric(metric, base)).join('');
}

/** The event hooks' counters (docs/hooks.md); none when the supervisor runs no hooks. */
function hookMetrics(stats: HookStats | undefined): Metric[] {
  if (stats === undefined) return [];
  return [
    {
      name: 'skypg_hook_runs_total',
      type: 'counter',
      help: 'Event hook runs that ended, by result: succeeded (exit 0), failed (other status, or could not start), timed_out (killed at hooks.timeout).',
      samples: [
        { labels: { result: 'succeeded' }, value: stats.succeeded },
        { labels: { result: 'failed' }, value: stats.failed },
        { labels: { result: 'timed_out' }, value: stats.timedOut },
      ],
    },
    {
      name: 'skypg_hook_events_dropped_total',
      type: 'counter',
      help: "Events no hook ran for: dropped from a hook's full queue.",
      samples: [{ value: stats.dropped }],
    },
    {
      name: 'skypg_hooks_running',
      type: 'gauge',
      help: 'Event hooks running now.',
      samples: [{ value: stats.running }],
    },
    {
      name: 'skypg_hooks_queued',
      type: 'gauge',
      help: 'Events waiting for their hook now.',
      samples: [{ value: stats.queued }],
    },
  ];
}

/** The beacon between the supervisors (docs/failover.md); none when beacon is false. */
function beaconMetrics(stats: BeaconStats | undefined): Metric[] {
  if (stats === undefined) return [];
  return [
    {
      name: 'skypg_beacon_up',
      type: 'gauge',
      help: "This node's beacon socket is bound: it sends beacons and hears the peer's (0: failures take heartbeat.misses loops).",
      samples: [{ value: stats.bound ? 1 : 0 }],
    },
    {
      name: 'skypg_beacon_sent_total',
      type: 'counter',
      help: 'Beacons sent to the peer.',
      samples: [{ value: stats.sent }],
    },
    {
      name: 'skypg_beacon_received_total',
      type: 'counter',
      help: "The peer's beacons received (from its address, for this cluster).",
      samples: [{ value: stats.received }],
    },
    {
      name: 'skypg_peer_beacon_silence_seconds',
      type: 'gauge',
      help: "Since the peer's last beacon arrived (left out until one has).",
      samples: stats.peerSilentForMs === undefined ? [] : [{ value: stats.peerSilentForMs / 1000 }],
    },
    {
      name: 'skypg_peer_beacon_server',
      type: 'gauge',
      help: "What the peer's last beacon said of its server: 1 for that state.",
      samples:
        stats.peerServer === undefined
          ? []
          : (['answering', 'not-answering', 'restarting'] as const).map((state) => ({
              labels: { state },
              value: stats.peerServer === state ? 1 : 0,
            })),
    },
    {
      name: 'skypg_beacon_wakes_total',
      type: 'counter',
      help: "Times the peer's beacon woke the loop to check at once: its silence for beacon.timeout (silence), or its word that its server stopped answering (not_answering).",
      samples: [
        { labels: { reason: 'silence' }, value: stats.wakes.silence },
        { labels: { reason: 'not_answering' }, value: stats.wakes.notAnswering },
      ],
    },
  ];
}

function renderMetric(metric: Metric, base: Record<string, string>): string {
  const lines = [
    `# HELP ${metric.name} ${escapeHelp(metric.help)}`,
    `# TYPE ${metric.name} ${metric.type}`,
  ];
  for (const sample of metric.samples) {
    const labels = Object.entries({ ...base, ...sample.labels })
      .map(([key, value]) => `${key}="${escapeLabel(value)}"`)
      .join(',');
    lines.push(`${metric.name}{${labels}} ${formatValue(sample.value)}`);
  }
  return `${lines.join('\n')}\n`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function escapeHelp(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
}

function escapeLabel(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}
