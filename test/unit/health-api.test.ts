// The health API's routes, /cluster and /metrics (src/lib/api): pure answers from a view that a
// real ViewRecorder kept from loop reports, as the supervisor loop gives them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { answerRequest } from '../../src/lib/api/routes.js';
import { ViewRecorder, type ViewSources } from '../../src/lib/api/view.js';
import { exampleConfig } from '../../src/lib/config/example.js';
import { checkConfigText } from '../../src/lib/config/load.js';
import type { ClusterConfig } from '../../src/lib/config/types.js';
import type { ActionOutcome } from '../../src/lib/supervisor/act.js';
import type {
  Action,
  Decision,
  Observation,
  SupervisorStateName,
} from '../../src/lib/supervisor/types.js';
import { loopOverrunMs } from '../../src/lib/supervisor/watchdog.js';
import { NOW, primaryView, standbyView } from '../support/observations.js';

async function configFrom(text: string): Promise<ClusterConfig> {
  const loaded = await checkConfigText(text, 'example.yaml');
  if (loaded.config === undefined) throw new Error('example config invalid');
  return loaded.config;
}
const asyncConfig = await configFrom(exampleConfig);
const syncConfig = await configFrom(
  exampleConfig.replace(
    'replication: { user: replica, mode: async }',
    'replication: { user: replica, mode: sync }',
  ),
);

const decision = (
  state: SupervisorStateName,
  memory: Partial<Decision['memory']> = {},
): Decision => ({
  state,
  actions: [],
  reason: `the node is ${state}`,
  rule: `${state}-rule`,
  memory: { state, misses: 0, ...memory },
});

/** A recorder that heard one loop: this observation, decided as state, ending at NOW. */
function viewAfter(
  observation: Observation,
  state: SupervisorStateName,
  config = asyncConfig,
): ViewRecorder {
  const node = config.nodes.find((n) => n.name === observation.node);
  if (node === undefined) throw new Error(`no node ${observation.node}`);
  const recorder = new ViewRecorder(config, node, NOW - 60_000);
  recorder.loopEnded({ startedAt: NOW - 40, endedAt: NOW, observation, decision: decision(state) });
  return recorder;
}

const statusOf = (
  recorder: ViewRecorder,
  target: string,
  config = asyncConfig,
  now = NOW + 100,
): number => answerRequest('GET', target, recorder.view(), config, now).status;

const MB = 1024 * 1024;

describe('health routes: 200 when the condition holds, else 503', () => {
  const primary = viewAfter(primaryView(), 'primary');
  const standby = viewAfter(standbyView(), 'standby');
  const cases: {
    name: string;
    view: ViewRecorder;
    expect: Record<string, number>;
    config?: ClusterConfig;
    now?: number;
  }[] = [
    {
      name: 'a healthy primary holding the VIP',
      view: primary,
      expect: {
        '/': 200,
        '/primary': 200,
        '/read-write': 200,
        '/master': 200,
        '/leader': 200,
        '/replica': 503,
        '/read-only': 200,
        '/sync': 503,
        '/async': 503,
        '/health': 200,
        '/liveness': 200,
        '/readiness': 200,
      },
    },
    {
      name: 'a primary that does not hold the configured VIP',
      view: viewAfter(primaryView({ primaryVip: { heldHere: false } }), 'primary'),
      expect: { '/primary': 503, '/read-only': 503, '/health': 200, '/readiness': 503 },
    },
    {
      name: 'a primary without a VIP in its configuration',
      view: viewAfter(
        primaryView({ primaryVip: { configured: false, heldHere: false } }),
        'primary',
      ),
      expect: { '/primary': 200 },
    },
    {
      name: 'a primary whose beat does not commit (its writes hang)',
      view: viewAfter(primaryView({ local: { beatCommitted: false } }), 'primary'),
      expect: { '/primary': 503, '/health': 200 },
    },
    {
      name: 'a primary its supervisor is demoting (isolated, or yielding)',
      view: viewAfter(primaryView(), 'demoted'),
      expect: { '/primary': 503, '/read-only': 503, '/health': 200 },
    },
    {
      name: 'a primary while the cluster is paused, or a switchover is under way',
      view: viewAfter(primaryView({ local: { pausedBy: 'ops' } }), 'paused'),
      expect: { '/primary': 200 },
    },
    {
      name: 'a streaming standby 0 bytes behind',
      view: standby,
      expect: {
        '/': 503,
        '/primary': 503,
        '/replica': 200,
        '/replica?lag=1MB': 200,
        '/replica?lag=0': 200,
        '/read-only': 200,
        '/async': 200,
        '/sync': 503,
        '/health': 200,
        '/readiness': 200,
      },
    },
    {
      name: 'a streaming standby 20MB behind (failover.max_lag is 16MB)',
      view: viewAfter(standbyView({ local: { replayBacklog: 20 * MB } }), 'standby'),
      expect: {
        '/replica': 200,
        '/replica?lag=16MB': 503,
        '/replica?lag=32MB': 200,
        '/replica?lag=20971520': 200,
        '/read-only?lag=1MB': 503,
        '/readiness': 503,
      },
    },
    {
      name: 'a standby whose WAL receiver does not stream',
      view: viewAfter(standbyView({ local: { receiver: undefined } }), 'standby'),
      expect: { '/replica': 503, '/read-only': 503, '/health': 200, '/readiness': 503 },
    },
    {
      name: 'a node whose PostgreSQL is down',
      view: viewAfter(
        standbyView({ local: { running: false, answering: false, role: undefined } }),
        'starting',
      ),
      expect: { '/health': 503, '/liveness': 200, '/replica': 503, '/primary': 503 },
    },
    {
      name: 'an answer older than the loop overrun limit (the loop is stuck)',
      view: primary,
      now: NOW + loopOverrunMs(asyncConfig) + 1,
      expect: { '/primary': 503, '/health': 503, '/liveness': 503, '/readiness': 503 },
    },
    {
      name: 'sync mode: the synchronous standby',
      view: viewAfter(standbyView(), 'standby', syncConfig),
      config: syncConfig,
      expect: {
        '/sync': 200,
        '/synchronous': 200,
        '/async': 503,
        '/asynchronous': 503,
        '/replica': 200,
      },
    },
    {
      name: 'sync mode: the primary recorded a degrade to async',
      view: viewAfter(
        standbyView({
          local: {
            heartbeat: { lastAlive: NOW - 500, writer: 'host1', syncDegradedAt: NOW - 10_000 },
          },
        }),
        'standby',
        syncConfig,
      ),
      config: syncConfig,
      expect: { '/sync': 503, '/async': 200 },
    },
  ];
  for (const { name, view, expect, config, now } of cases) {
    it(name, () => {
      const got = Object.fromEntries(
        Object.keys(expect).map((target) => [target, statusOf(view, target, config, now)]),
      );
      assert.deepEqual(got, expect);
    });
  }

  it('before any loop, every route but /cluster and /metrics says 503', () => {
    const recorder = new ViewRecorder(asyncConfig, asyncConfig.nodes[0], NOW);
    for (const target of ['/', '/replica', '/health', '/liveness', '/readiness'])
      assert.equal(statusOf(recorder, target), 503, target);
    assert.equal(statusOf(recorder, '/metrics'), 200);
    assert.equal(statusOf(recorder, '/cluster'), 200);
  });

  it('a failed observation keeps /liveness up while the loop runs, but not the last answer forever', () => {
    const recorder = viewAfter(primaryView(), 'primary');
    recorder.loopEnded({
      startedAt: NOW + 900,
      endedAt: NOW + 1000,
      error: 'observation failed: boom',
    });
    const late = NOW + loopOverrunMs(asyncConfig) + 500;
    assert.equal(statusOf(recorder, '/liveness', asyncConfig, late), 200);
    assert.equal(statusOf(recorder, '/primary', asyncConfig, late), 503);
  });
});

describe('health routes: methods, bodies and bad requests', () => {
  const primary = viewAfter(primaryView(), 'primary');
  const ask = (method: string, target: string) =>
    answerRequest(method, target, primary.view(), asyncConfig, NOW + 100);

  it('GET carries the node as JSON; HEAD and OPTIONS only the status', () => {
    const got = ask('GET', '/primary');
    assert.equal(got.headers['content-type'], 'application/json');
    const body = JSON.parse(got.body) as Record<string, unknown>;
    assert.equal(body['node'], 'host1');
    assert.equal(body['role'], 'primary');
    assert.equal(body['state'], 'primary');
    assert.equal(body['timeline'], 1);
    assert.equal(body['primaryVipHeld'], true);
    for (const method of ['HEAD', 'OPTIONS']) {
      const bare = ask(method, '/primary');
      assert.deepEqual([bare.status, bare.body], [200, ''], method);
    }
    assert.deepEqual(
      [ask('OPTIONS', '/replica').status, ask('OPTIONS', '/replica').body],
      [503, ''],
    );
  });

  const bad: { method: string; target: string; status: number; error: string }[] = [
    {
      method: 'POST',
      target: '/primary',
      status: 405,
      error: 'method POST is not served: only GET, HEAD and OPTIONS exist',
    },
    {
      method: 'DELETE',
      target: '/cluster',
      status: 405,
      error: 'method DELETE is not served: only GET, HEAD and OPTIONS exist',
    },
    {
      method: 'GET',
      target: '/switchover',
      status: 404,
      error:
        'no route /switchover; the routes are / /primary /read-write /master /leader /replica /read-only /sync /synchronous /async /asynchronous /health /liveness /readiness /cluster /metrics',
    },
    {
      method: 'GET',
      target: '/replica?lag=abc',
      status: 400,
      error: 'lag must be a size such as 16MB or a byte count such as 1048576, got "abc"',
    },
    {
      method: 'GET',
      target: '/replica?lag=-1',
      status: 400,
      error: 'lag must be a size such as 16MB or a byte count such as 1048576, got "-1"',
    },
    {
      method: 'GET',
      target: '/replica?lagg=1MB',
      status: 400,
      error: '/replica takes no parameter "lagg" (only lag)',
    },
    {
      method: 'GET',
      target: '/primary?lag=1MB',
      status: 400,
      error: '/primary takes no parameter "lag"',
    },
    {
      method: 'GET',
      target: '/metrics?x=1',
      status: 400,
      error: '/metrics takes no parameter "x"',
    },
    {
      method: 'GET',
      target: '//other.host/primary',
      status: 400,
      error: 'cannot read the request target //other.host/primary',
    },
    { method: 'GET', target: '*', status: 400, error: 'cannot read the request target *' },
  ];
  for (const { method, target, status, error } of bad) {
    it(`${method} ${target}: ${status} with a one-line JSON error`, () => {
      const got = ask(method, target);
      assert.equal(got.status, status);
      assert.equal(got.body.trimEnd().split('\n').length, 1);
      assert.deepEqual(JSON.parse(got.body), { error });
      if (status === 405) assert.equal(got.headers['allow'], 'GET, HEAD, OPTIONS');
    });
  }
});

describe('/cluster', () => {
  it('shows both nodes as status --json does, from this node’s last loop', () => {
    const got = answerRequest(
      'GET',
      '/cluster',
      viewAfter(standbyView(), 'standby').view(),
      asyncConfig,
      NOW + 100,
    );
    const body = JSON.parse(got.body) as {
      cluster: string;
      nodes: {
        name: string;
        role?: string;
        reachable: boolean;
        vips: string[];
        lagBytes?: number;
        supervisor?: { state: string };
      }[];
      vips: { role: string; holder?: string }[];
    };
    assert.equal(body.cluster, 'demo');
    assert.deepEqual(
      body.nodes.map((n) => [n.name, n.role, n.reachable, n.vips, n.supervisor?.state]),
      [
        ['host1', 'primary', true, ['primary'], undefined],
        ['host2', 'standby', true, ['standby'], 'standby'],
      ],
    );
    assert.equal(body.nodes[1]?.lagBytes, 0);
    assert.deepEqual(body.vips, [
      { role: 'primary', address: '10.231.0.130/24', holder: 'host1' },
      { role: 'standby', address: '10.231.0.131/24', holder: 'host2' },
    ]);
  });

  it('says the peer is not reachable, and why, when it did not answer', () => {
    const view = viewAfter(
      standbyView({ peerServer: { answering: false, refused: true, role: undefined } }),
      'standby',
    );
    const body = JSON.parse(
      answerRequest('GET', '/cluster', view.view(), asyncConfig, NOW).body,
    ) as {
      nodes: { name: string; reachable: boolean; error?: string }[];
    };
    assert.deepEqual(body.nodes[0], {
      name: 'host1',
      address: '10.231.0.11',
      port: 5432,
      reachable: false,
      error: 'connection refused',
      vips: [],
    });
  });
});

/** The samples of one metric: label set (without cluster and node) → value. */
function samplesOf(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = new RegExp(`^${name}\\{cluster="demo",node="host[12]"(?:,(.*))?\\} (\\S+)$`).exec(
      line,
    );
    if (match !== null) out[match[1] ?? ''] = Number(match[2]);
  }
  return out;
}

/** /metrics of a supervisor that has run no loop yet, reading what `sources` give. */
function metricsBefore(sources?: ViewSources): string {
  const recorder = new ViewRecorder(asyncConfig, asyncConfig.nodes[0], NOW, sources);
  return answerRequest('GET', '/metrics', recorder.view(), asyncConfig, NOW).body;
}

describe('/metrics', () => {
  const outcome = (action: Action, ok = true): ActionOutcome => ({
    action,
    ok,
    ms: 10,
    detail: 'd',
  });

  it('is the Prometheus text format: HELP and TYPE for each, skypg_ names, counters end in _total', () => {
    const got = answerRequest(
      'GET',
      '/metrics',
      viewAfter(primaryView(), 'primary').view(),
      asyncConfig,
      NOW,
    );
    assert.equal(got.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    const lines = got.body.trimEnd().split('\n');
    const types = new Map<string, string>();
    for (const line of lines) {
      const typed = /^# TYPE (\S+) (gauge|counter)$/.exec(line);
      if (typed?.[1] !== undefined && typed[2] !== undefined) types.set(typed[1], typed[2]);
    }
    assert.ok(types.size >= 20, `${types.size} metrics`);
    for (const [name, type] of types) {
      assert.match(name, /^skypg_[a-z_]+$/);
      assert.equal(name.endsWith('_total'), type === 'counter', name);
      assert.ok(
        lines.includes(
          `# HELP ${name} ${lines.find((l) => l.startsWith(`# HELP ${name} `))?.slice(`# HELP ${name} `.length) ?? ''}`,
        ),
      );
    }
    for (const line of lines.filter((l) => !l.startsWith('#')))
      assert.match(
        line,
        /^skypg_[a-z_]+\{cluster="demo",node="host1"(,[a-z_]+="[a-z]+")*\} -?[\d.e+]+$/,
        line,
      );
  });

  it('says what the node is: role, state, positions, VIP', () => {
    const text = answerRequest(
      'GET',
      '/metrics',
      viewAfter(primaryView(), 'primary').view(),
      asyncConfig,
      NOW,
    ).body;
    assert.deepEqual(samplesOf(text, 'skypg_role'), {
      'role="primary"': 1,
      'role="standby"': 0,
      'role="unknown"': 0,
    });
    assert.equal(samplesOf(text, 'skypg_supervisor_state')['state="primary"'], 1);
    assert.deepEqual(samplesOf(text, 'skypg_timeline'), { '': 1 });
    assert.deepEqual(samplesOf(text, 'skypg_wal_position_bytes'), { '': 0x3000100 });
    assert.deepEqual(samplesOf(text, 'skypg_peer_wal_position_bytes'), { '': 0x3000000 });
    assert.deepEqual(samplesOf(text, 'skypg_primary_vip_held'), { '': 1 });
    assert.deepEqual(samplesOf(text, 'skypg_writable_primary'), { '': 1 });
    assert.deepEqual(
      samplesOf(text, 'skypg_replication_lag_bytes'),
      {},
      'no lag sample on a primary',
    );
    assert.deepEqual(samplesOf(text, 'skypg_supervisor_loop_duration_seconds'), { '': 0.04 });
  });

  it('a standby: lag in bytes and seconds, failed checks in a row', () => {
    const recorder = viewAfter(
      standbyView({
        local: { replayBacklog: 4096, heartbeat: { lastAlive: NOW - 1500, writer: 'host1' } },
      }),
      'standby',
    );
    recorder.loopEnded({
      startedAt: NOW,
      endedAt: NOW + 10,
      observation: standbyView({
        now: NOW + 10,
        local: { replayBacklog: 4096, heartbeat: { lastAlive: NOW - 1500, writer: 'host1' } },
      }),
      decision: decision('standby', { misses: 2 }),
    });
    const text = answerRequest('GET', '/metrics', recorder.view(), asyncConfig, NOW + 20).body;
    assert.deepEqual(samplesOf(text, 'skypg_replication_lag_bytes'), { '': 4096 });
    assert.deepEqual(samplesOf(text, 'skypg_replication_lag_seconds'), { '': 1.51 });
    assert.deepEqual(samplesOf(text, 'skypg_primary_failed_checks'), { '': 2 });
    assert.deepEqual(samplesOf(text, 'skypg_supervisor_loops_total'), { '': 2 });
  });

  it('counts fences, promotions, demotions and failures, and times the last failover', () => {
    const recorder = viewAfter(standbyView(), 'standby');
    const promoting = decision('promoting', { primaryLastAliveAt: NOW - 3000 });
    recorder.actionsEnded({
      decision: promoting,
      startedAt: NOW,
      endedAt: NOW + 400,
      outcomes: [
        { ...outcome({ kind: 'fence-peer' }), fence: 'powered-off' },
        outcome({ kind: 'promote' }),
        outcome({ kind: 'take-vip', role: 'primary' }, false),
      ],
    });
    // A second promotion attempt that found the peer already off: cleared, not fenced.
    recorder.actionsEnded({
      decision: promoting,
      startedAt: NOW,
      endedAt: NOW + 400,
      outcomes: [{ ...outcome({ kind: 'fence-peer' }), fence: 'already-off' }],
    });
    recorder.actionsEnded({
      decision: decision('demoted'),
      startedAt: NOW,
      endedAt: NOW,
      outcomes: [outcome({ kind: 'demote', mode: 'fast' })],
    });
    recorder.loopEnded({
      startedAt: NOW + 400,
      endedAt: NOW + 450,
      error: 'observation failed: x',
    });
    const text = answerRequest('GET', '/metrics', recorder.view(), asyncConfig, NOW + 500).body;
    assert.deepEqual(samplesOf(text, 'skypg_fences_total'), { '': 1 });
    assert.deepEqual(samplesOf(text, 'skypg_peer_clearances_total'), { '': 2 });
    assert.deepEqual(samplesOf(text, 'skypg_promotions_total'), { '': 1 });
    assert.deepEqual(samplesOf(text, 'skypg_demotions_total'), { '': 1 });
    assert.deepEqual(samplesOf(text, 'skypg_failed_actions_total'), { '': 1 });
    assert.deepEqual(samplesOf(text, 'skypg_supervisor_failed_observations_total'), { '': 1 });
    assert.deepEqual(samplesOf(text, 'skypg_last_failover_duration_seconds'), { '': 3.4 });
  });
});

describe('/metrics: the event hooks', () => {
  it('counts hook runs by result, drops, and what runs or waits now', () => {
    const stats = {
      started: 7,
      succeeded: 4,
      failed: 1,
      timedOut: 1,
      dropped: 2,
      running: 1,
      queued: 3,
    };
    const text = metricsBefore({ hookStats: () => stats });
    assert.deepEqual(samplesOf(text, 'skypg_hook_runs_total'), {
      'result="succeeded"': 4,
      'result="failed"': 1,
      'result="timed_out"': 1,
    });
    assert.deepEqual(samplesOf(text, 'skypg_hook_events_dropped_total'), { '': 2 });
    assert.deepEqual(samplesOf(text, 'skypg_hooks_running'), { '': 1 });
    assert.deepEqual(samplesOf(text, 'skypg_hooks_queued'), { '': 3 });
    assert.doesNotMatch(metricsBefore(), /skypg_hook/);
  });
});

describe('/metrics: the beacon', () => {
  it('shows whether the socket is bound, the counts, the silence and what the peer said', () => {
    const stats = {
      bound: true,
      sent: 120,
      received: 118,
      peerSilentForMs: 250,
      peerServer: 'not-answering' as const,
      wakes: { silence: 2, notAnswering: 1 },
    };
    const text = metricsBefore({ beaconStats: () => stats });
    assert.deepEqual(samplesOf(text, 'skypg_beacon_up'), { '': 1 });
    assert.deepEqual(samplesOf(text, 'skypg_beacon_sent_total'), { '': 120 });
    assert.deepEqual(samplesOf(text, 'skypg_beacon_received_total'), { '': 118 });
    assert.deepEqual(samplesOf(text, 'skypg_peer_beacon_silence_seconds'), { '': 0.25 });
    assert.deepEqual(samplesOf(text, 'skypg_peer_beacon_server'), {
      'state="answering"': 0,
      'state="not-answering"': 1,
      'state="restarting"': 0,
    });
    assert.deepEqual(samplesOf(text, 'skypg_beacon_wakes_total'), {
      'reason="silence"': 2,
      'reason="not_answering"': 1,
    });
  });

  it('leaves out what is not known yet, and every beacon metric when the beacon is off', () => {
    const unbound = {
      bound: false,
      sent: 0,
      received: 0,
      wakes: { silence: 0, notAnswering: 0 },
    };
    const text = metricsBefore({ beaconStats: () => unbound });
    assert.deepEqual(samplesOf(text, 'skypg_beacon_up'), { '': 0 });
    assert.deepEqual(samplesOf(text, 'skypg_peer_beacon_silence_seconds'), {});
    assert.deepEqual(samplesOf(text, 'skypg_peer_beacon_server'), {});
    assert.doesNotMatch(metricsBefore(), /skypg_(peer_)?beacon/);
  });
});

describe('health routes right after this node promoted itself', () => {
  const promotion: Action[] = [
    { kind: 'fence-peer' },
    { kind: 'promote' },
    { kind: 'drop-vip', role: 'standby' },
    { kind: 'take-vip', role: 'primary' },
  ];
  const promoted = (vipOk = true): ViewRecorder => {
    const recorder = viewAfter(standbyView(), 'standby');
    recorder.actionsEnded({
      decision: { ...decision('promoting'), actions: promotion },
      startedAt: NOW + 100,
      endedAt: NOW + 600,
      outcomes: promotion.map((action) => ({
        action,
        ok: vipOk || action.kind !== 'take-vip',
        ms: 100,
        detail: 'd',
      })),
    });
    return recorder;
  };

  it('answers /primary 200 once pg_promote() returned and the VIP is taken, before the next loop shows it', () => {
    const recorder = promoted();
    assert.deepEqual(
      ['/primary', '/replica', '/health', '/read-only'].map((target) =>
        statusOf(recorder, target, asyncConfig, NOW + 700),
      ),
      [200, 503, 200, 200],
    );
    assert.equal(
      (
        JSON.parse(
          answerRequest('GET', '/primary', recorder.view(), asyncConfig, NOW + 700).body,
        ) as { role: string }
      ).role,
      'primary',
    );
  });

  it('not when taking the VIP failed', () => {
    assert.equal(statusOf(promoted(false), '/primary', asyncConfig, NOW + 700), 503);
  });

  it('the next observation decides again, and the promotion alone goes stale like one', () => {
    const recorder = promoted();
    recorder.loopEnded({
      startedAt: NOW + 700,
      endedAt: NOW + 900,
      observation: primaryView({
        now: NOW + 900,
        node: 'host2',
        peer: 'host1',
        primaryVip: { heldHere: false },
      }),
      decision: decision('primary'),
    });
    assert.equal(statusOf(recorder, '/primary', asyncConfig, NOW + 950), 503);
    assert.equal(
      statusOf(promoted(), '/primary', asyncConfig, NOW + 600 + loopOverrunMs(asyncConfig) + 1),
      503,
    );
  });
});
