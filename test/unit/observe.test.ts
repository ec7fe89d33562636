// observe() on recording fakes: how the outside reads become an Observation. Answers count only
// from this pair's servers, a part that fails or times out is silence (never an exception), the
// DAD probe runs only when the policy asks, and the beat is written only on an answering primary.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterConfig, NodeConfig } from '../../src/lib/config/types.js';
import { observe, type ObserveHints } from '../../src/lib/supervisor/observe.js';
import type { Observation } from '../../src/lib/supervisor/types.js';
import {
  ObserveFakes,
  PAIR_ID,
  exampleClusterConfig,
  heartbeatRow,
  primaryStatus,
  replicationRow,
  socketError,
  standbyStatus,
  timedOut,
  walReceiverRow,
  type LocalScript,
  type ObserveWorld,
} from '../support/observe-fakes.js';

const config = await exampleClusterConfig();
const [host1, host2] = config.nodes;
const GATEWAY = '10.231.0.1';
const NOW = 1_000_000;
const TIMEOUT = `${config.heartbeat.timeout}ms`;

/** host1 as a healthy primary holding the primary VIP; host2 its streaming standby. */
const primaryBase: ObserveWorld = {
  local: {
    postmasterPid: 4242,
    status: primaryStatus(),
    replication: [replicationRow()],
    syncStandbyNames: '',
    heartbeatRow: heartbeatRow(),
    beat: true,
  },
  peer: standbyStatus(),
  throughVip: primaryStatus(),
  vipHeld: { primary: true, standby: false },
  gateways: { [GATEWAY]: true },
};

/** host2 as the streaming standby holding the standby VIP; host1 the primary. */
const standbyBase: ObserveWorld = {
  local: {
    postmasterPid: 4343,
    status: standbyStatus(),
    walReceiver: walReceiverRow({ lastMessageAt: new Date(990_000) }),
    heartbeatRow: heartbeatRow(),
  },
  peer: primaryStatus(),
  throughVip: primaryStatus(),
  vipHeld: { primary: false, standby: true },
  gateways: { [GATEWAY]: true },
};

/** A base world changed by overlays (observe() only reads the scripted values, never edits). */
function changed(base: ObserveWorld, local: LocalScript, rest: Partial<ObserveWorld>) {
  return { ...base, local: { ...base.local, ...local }, ...rest };
}

const primaryWorld = (local: LocalScript = {}, rest: Partial<ObserveWorld> = {}) =>
  changed(primaryBase, local, rest);
const standbyWorld = (local: LocalScript = {}, rest: Partial<ObserveWorld> = {}) =>
  changed(standbyBase, local, rest);

/** host2 with its server down (a standby's data directory), looking at the primary. */
function downWorld(rest: Partial<ObserveWorld> = {}): ObserveWorld {
  return standbyWorld(
    { postmasterPid: undefined, standbySignal: true },
    { diskSystemIdentifier: PAIR_ID, ...rest },
  );
}

async function run(
  node: NodeConfig,
  world: ObserveWorld,
  cfg: ClusterConfig = config,
  hints: ObserveHints = {},
) {
  const fakes = new ObserveFakes(world);
  const obs = await observe(cfg, node, () => NOW, fakes.deps, hints);
  return { obs, fakes };
}

/** Both VIPs' facts of an observation, to compare in one go. */
const vipFacts = (obs: Observation) => ({ primaryVip: obs.primaryVip, standbyVip: obs.standbyVip });

/** Neither VIP held here nor seen elsewhere. */
function noVipHeld(configured: boolean) {
  return {
    primaryVip: {
      configured,
      heldHere: false,
      answeredByOtherPrimary: false,
      heldElsewhere: false,
    },
    standbyVip: { configured, heldHere: false },
  };
}

describe('observe(): the peer counts only when it is this pair’s other server', () => {
  const pairAnswers = [
    {
      what: 'a standby peer answers with its role, timeline and replayed position',
      node: host1,
      world: primaryWorld(),
      expected: { answering: true, role: 'standby', timeline: 2, lsn: '0/3000000' },
    },
    {
      what: 'a primary peer reports its current position, not a replayed one',
      node: host2,
      world: standbyWorld({}, { peer: primaryStatus({ timeline: 3 }) }),
      expected: { answering: true, role: 'primary', timeline: 3, lsn: '0/3000100' },
    },
  ];
  for (const { what, node, world, expected } of pairAnswers) {
    it(what, async () => {
      const { obs } = await run(node, world);
      assert.deepEqual(obs.peerServer, expected);
    });
  }

  it('an impostor with another system identifier is not the peer: silence, with the reason', async () => {
    const impostor = primaryStatus({ systemIdentifier: '6999999999999999999' });
    const { obs } = await run(host2, standbyWorld({}, { peer: impostor }));
    assert.equal(obs.peerServer.answering, false);
    assert.equal(obs.peerServer.role, undefined);
    assert.match(obs.peerServer.notPeer ?? '', /6999999999999999999/);
    assert.match(obs.peerServer.notPeer ?? '', new RegExp(host1.address.replaceAll('.', '\\.')));
  });

  it('an answer that carries no system identifier is not the peer either', async () => {
    const { obs } = await run(
      host2,
      standbyWorld({}, { peer: primaryStatus({ systemIdentifier: undefined }) }),
    );
    assert.equal(obs.peerServer.answering, false);
    assert.match(obs.peerServer.notPeer ?? '', /system identifier none/);
  });

  it('with the local server down, the identifier comes from pg_control on disk', async () => {
    const { obs, fakes } = await run(host2, downWorld());
    assert.equal(obs.peerServer.answering, true);
    assert.equal(obs.peerServer.role, 'primary');
    assert.deepEqual(fakes.reads('diskSystemIdentifier'), [
      `diskSystemIdentifier ${host2.data_dir}`,
    ]);
  });

  it('with no identifier anywhere, no answer can be checked, so none counts', async () => {
    const { obs } = await run(host2, downWorld({ diskSystemIdentifier: new Error('EACCES') }));
    assert.equal(obs.peerServer.answering, false);
    assert.match(obs.peerServer.notPeer ?? '', /cannot be checked/);
  });

  it('an answering local server gives the identifier: pg_control on disk is not read', async () => {
    const { fakes } = await run(host2, standbyWorld());
    assert.deepEqual(fakes.reads('diskSystemIdentifier'), []);
  });

  it('the local server’s own identifier is the one compared, not the disk’s', async () => {
    // A data directory swapped under a running server: the live server's identifier decides.
    const { obs } = await run(
      host2,
      standbyWorld(
        { status: standbyStatus({ systemIdentifier: '1111' }) },
        { diskSystemIdentifier: PAIR_ID },
      ),
    );
    assert.equal(obs.peerServer.answering, false);
    assert.match(obs.peerServer.notPeer ?? '', /expected 1111/);
  });
});

describe('observe(): a part that fails or times out is "not answering"', () => {
  it('a peer that times out is silent, neither refused nor an impostor', async () => {
    const { obs } = await run(host2, standbyWorld({}, { peer: timedOut(host1.address) }));
    assert.deepEqual(obs.peerServer, { answering: false });
  });

  it('a refused connection (ECONNREFUSED in the cause chain) says so', async () => {
    const { obs } = await run(
      host2,
      standbyWorld({}, { peer: socketError(host1.address, 'ECONNREFUSED') }),
    );
    assert.deepEqual(obs.peerServer, { answering: false, refused: true });
  });

  it('an unreachable host is not "refused": nothing proves the host is up', async () => {
    const { obs } = await run(
      host2,
      standbyWorld({}, { peer: socketError(host1.address, 'EHOSTUNREACH') }),
    );
    assert.deepEqual(obs.peerServer, { answering: false });
  });

  it('a local connection that times out leaves only "running, not answering"', async () => {
    const { obs, fakes } = await run(host1, primaryWorld({ connect: timedOut('socket') }));
    assert.deepEqual(obs.local, { running: true, pid: 4242, answering: false });
    assert.deepEqual(fakes.reads('heartbeatRow'), []);
  });

  it('a failing query on the local connection counts as not answering too', async () => {
    const { obs } = await run(host1, primaryWorld({ replication: timedOut('socket') }));
    assert.deepEqual(obs.local, { running: true, pid: 4242, answering: false });
  });

  it('everything timing out at once still yields an observation, never an exception', async () => {
    const silent = timedOut('anywhere');
    const { obs } = await run(
      host1,
      primaryWorld(
        { connect: silent },
        {
          peer: silent,
          throughVip: silent,
          gateways: { [GATEWAY]: silent },
          vipHeld: { primary: silent, standby: silent },
          otherHolders: silent,
          diskSystemIdentifier: silent,
        },
      ),
    );
    assert.deepEqual(obs.local, { running: true, pid: 4242, answering: false });
    assert.deepEqual(obs.peerServer, { answering: false });
    assert.deepEqual(vipFacts(obs), noVipHeld(true));
    assert.deepEqual(obs.gateway, { configured: true, reachable: false });
  });

  it('a read that throws before returning a promise is silence as well', async () => {
    const { obs } = await run(
      host1,
      primaryWorld(
        { beat: true },
        {
          throwAtOnce: [
            'peerStatus',
            'statusThroughPrimaryVip',
            'pingGateway',
            'vipHeldHere',
            'heartbeatRow',
            'writeBeat',
          ],
        },
      ),
    );
    assert.equal(obs.peerServer.answering, false);
    assert.equal(obs.gateway.reachable, false);
    assert.equal(obs.primaryVip.heldHere, false);
    assert.equal(obs.local.answering, true);
    assert.equal(obs.local.heartbeat, undefined);
    assert.equal(obs.local.beatCommitted, false);
  });

  it('whether a postmaster runs is never guessed: a failure to read it fails the observation', async () => {
    const world = primaryWorld({ postmasterPid: new Error('cannot read /proc') });
    await assert.rejects(run(host1, world), /cannot read \/proc/);
  });

  it('the reads start together: the peer is asked before the local server has answered', async () => {
    const { fakes } = await run(host2, standbyWorld());
    const peerAt = fakes.journal.findIndex((entry) => entry.startsWith('peerStatus'));
    const localAt = fakes.journal.findIndex((entry) => entry.startsWith('connect local'));
    assert.ok(peerAt >= 0 && localAt >= 0);
    assert.ok(peerAt < localAt, fakes.journal.join('\n'));
  });

  it('every connection is bounded by heartbeat.timeout', async () => {
    for (const [host, world] of [
      [host1, primaryWorld()],
      [host2, standbyWorld()],
    ] as const) {
      const { fakes } = await run(host, world);
      const peer = host === host1 ? 'host2' : 'host1';
      const expected = [
        `connect local ${host.name} ${TIMEOUT}`,
        `heartbeatRow ${host.name} ${TIMEOUT}`,
        `peerStatus ${peer} ${TIMEOUT}`,
        `ping ${GATEWAY} ${TIMEOUT}`,
        // The primary holds the VIP: through it, it would only reach itself.
        ...(host === host1 ? [] : [`throughVip ${TIMEOUT}`]),
      ];
      assert.deepEqual(
        fakes.journal.filter((entry) => entry.endsWith('ms')).sort(),
        expected.sort(),
      );
    }
  });
  it('after a beacon signal the peer, the VIP and the gateway get beacon.confirm_timeout', async () => {
    const confirm = `${config.beacon?.confirm_timeout ?? 0}ms`;
    assert.ok(
      config.beacon !== undefined && config.beacon.confirm_timeout < config.heartbeat.timeout,
    );
    const { fakes } = await run(host2, standbyWorld(), config, { peerSignal: true });
    assert.deepEqual(
      fakes.journal.filter((entry) => entry.endsWith('ms')).sort(),
      [
        `connect local host2 ${TIMEOUT}`,
        `heartbeatRow host2 ${TIMEOUT}`,
        `peerStatus host1 ${confirm}`,
        `ping ${GATEWAY} ${confirm}`,
        `throughVip ${confirm}`,
      ].sort(),
    );
  });
});

describe('observe(): the primary VIP, through the VIP and by DAD', () => {
  it('an answer through the VIP from our own server is not "another primary"', async () => {
    const { obs } = await run(host1, primaryWorld());
    assert.equal(obs.primaryVip.heldHere, true);
    assert.equal(obs.primaryVip.answeredByOtherPrimary, false);
    assert.equal(obs.primaryVip.heldElsewhere, false);
  });

  it('the pair’s other primary answering through the VIP held elsewhere is another primary', async () => {
    const { obs, fakes } = await run(host2, standbyWorld());
    assert.equal(obs.primaryVip.answeredByOtherPrimary, true);
    assert.equal(obs.primaryVip.heldElsewhere, true);
    assert.deepEqual(fakes.reads('dad'), []);
  });

  it('an impostor primary at the VIP is no other primary, but the VIP is held elsewhere', async () => {
    const impostor = primaryStatus({ systemIdentifier: '42' });
    const { obs } = await run(host2, standbyWorld({}, { throughVip: impostor }));
    assert.equal(obs.primaryVip.answeredByOtherPrimary, false);
    assert.equal(obs.primaryVip.heldElsewhere, true);
  });

  it('a standby of the pair answering through the VIP is not another primary', async () => {
    const { obs } = await run(host2, standbyWorld({}, { throughVip: standbyStatus() }));
    assert.equal(obs.primaryVip.answeredByOtherPrimary, false);
    assert.equal(obs.primaryVip.heldElsewhere, true);
  });

  it('silence through the VIP, held nowhere here: not held elsewhere either', async () => {
    const { obs } = await run(host2, standbyWorld({}, { throughVip: timedOut('vip') }));
    assert.equal(obs.primaryVip.answeredByOtherPrimary, false);
    assert.equal(obs.primaryVip.heldElsewhere, false);
  });

  it('a primary without the VIP probes by DAD, and another holder means held elsewhere', async () => {
    const { obs, fakes } = await run(
      host1,
      primaryWorld(
        {},
        { vipHeld: { primary: false }, throughVip: timedOut('vip'), otherHolders: ['aa:bb'] },
      ),
    );
    assert.deepEqual(fakes.reads('dad'), ['dad primary']);
    assert.equal(obs.primaryVip.heldElsewhere, true);
  });

  it('when DAD probes, its "nobody" outweighs an answer through the VIP', async () => {
    const { obs } = await run(
      host1,
      primaryWorld({}, { vipHeld: { primary: false }, otherHolders: [] }),
    );
    assert.equal(obs.primaryVip.heldElsewhere, false);
  });

  it('a DAD probe that fails counts as held elsewhere', async () => {
    const { obs } = await run(
      host1,
      primaryWorld(
        {},
        {
          vipHeld: { primary: false },
          throughVip: timedOut('vip'),
          otherHolders: new Error('arping'),
        },
      ),
    );
    assert.equal(obs.primaryVip.heldElsewhere, true);
  });

  it('no DAD probe for a primary that holds the VIP', async () => {
    const { fakes } = await run(host1, primaryWorld({}, { otherHolders: ['aa:bb'] }));
    assert.deepEqual(fakes.reads('dad'), []);
  });

  it('no DAD probe on a standby, nor with the local server down', async () => {
    const standby = await run(host2, standbyWorld({}, { otherHolders: [] }));
    const down = await run(host2, downWorld({ otherHolders: [] }));
    assert.deepEqual(standby.fakes.reads('dad'), []);
    assert.deepEqual(down.fakes.reads('dad'), []);
  });

  it('a failing "held here" check is "not held", for either VIP', async () => {
    const { obs } = await run(
      host2,
      standbyWorld(
        {},
        { vipHeld: { primary: new Error('ip addr'), standby: new Error('ip addr') } },
      ),
    );
    assert.equal(obs.primaryVip.heldHere, false);
    assert.equal(obs.standbyVip.heldHere, false);
  });

  it('without VIPs configured nothing about them is read, and nothing is held', async () => {
    const noVips: ClusterConfig = {
      ...config,
      vip: { ...config.vip, primary: undefined, standby: undefined },
    };
    const { obs, fakes } = await run(host1, primaryWorld({}, { otherHolders: ['aa:bb'] }), noVips);
    assert.deepEqual(
      fakes.journal.filter((entry) => /^(vipHeldHere|throughVip|dad)/.test(entry)),
      [],
    );
    assert.deepEqual(vipFacts(obs), noVipHeld(false));
  });
});

describe('observe(): the gateway', () => {
  it('reachable when any one of the gateways answers', async () => {
    const two: ClusterConfig = { ...config, gateway: ['10.231.0.1', '10.231.0.2'] };
    const { obs, fakes } = await run(
      host1,
      primaryWorld({}, { gateways: { '10.231.0.1': new Error('ping'), '10.231.0.2': true } }),
      two,
    );
    assert.equal(obs.gateway.reachable, true);
    assert.equal(fakes.reads('ping').length, 2);
  });

  it('unreachable when none answers', async () => {
    const { obs } = await run(host1, primaryWorld({}, { gateways: { [GATEWAY]: false } }));
    assert.deepEqual(obs.gateway, { configured: true, reachable: false });
  });

  it('with no gateway configured, nothing is pinged', async () => {
    const { obs, fakes } = await run(host1, primaryWorld(), { ...config, gateway: [] });
    assert.deepEqual(fakes.reads('ping'), []);
    assert.deepEqual(obs.gateway, { configured: false, reachable: false });
  });
});

describe('observe(): the local server', () => {
  it('down: no connection is tried; standby.signal says what the data directory was', async () => {
    const { obs, fakes } = await run(host2, downWorld());
    assert.deepEqual(obs.local, { running: false, answering: false, dataIsStandby: true });
    assert.deepEqual(fakes.reads('connect local'), []);
  });

  it('down without standby.signal: the data directory was a primary', async () => {
    const { obs } = await run(
      host1,
      primaryWorld(
        { postmasterPid: undefined, standbySignal: false },
        { diskSystemIdentifier: PAIR_ID },
      ),
    );
    assert.equal(obs.local.dataIsStandby, false);
  });

  it('a streaming standby: receiver, last receipt and the bytes received but not replayed', async () => {
    const { obs, fakes } = await run(host2, standbyWorld());
    assert.equal(obs.local.role, 'standby');
    assert.equal(obs.local.lsn, '0/3000000');
    assert.equal(obs.local.receiver, 'streaming');
    assert.equal(obs.local.lastReceiptAt, 990_000);
    assert.equal(obs.local.replayBacklog, 0x100);
    assert.equal(obs.local.systemIdentifier, PAIR_ID);
    assert.deepEqual(fakes.reads('local walReceiver'), ['local walReceiver 150004']);
    assert.deepEqual(fakes.reads('local replication'), []);
  });

  it('a standby without a WAL receiver and no received position: no receipt, no backlog', async () => {
    const { obs } = await run(
      host2,
      standbyWorld({ walReceiver: undefined, status: standbyStatus({ receiveLsn: undefined }) }),
    );
    assert.equal(obs.local.receiver, undefined);
    assert.equal('lastReceiptAt' in obs.local, false);
    assert.equal('replayBacklog' in obs.local, false);
  });

  it('a primary picks the peer’s replication row by its application name', async () => {
    const rows = [
      replicationRow({ applicationName: 'pg_basebackup', state: 'backup' }),
      replicationRow({ applicationName: 'host2', state: 'streaming', syncState: 'sync' }),
    ];
    const { obs, fakes } = await run(
      host1,
      primaryWorld({ replication: rows, syncStandbyNames: 'host2' }),
    );
    assert.deepEqual(obs.local.peerReplication, { state: 'streaming', syncState: 'sync' });
    assert.equal(obs.local.syncStandbyNames, 'host2');
    assert.equal(obs.local.lsn, '0/3000100');
    assert.deepEqual(fakes.reads('local walReceiver'), []);
  });

  it('a single replication row under another name is taken as the peer’s', async () => {
    const rows = [replicationRow({ applicationName: 'walreceiver', state: 'catchup' })];
    const { obs } = await run(host1, primaryWorld({ replication: rows }));
    assert.deepEqual(obs.local.peerReplication, { state: 'catchup', syncState: 'async' });
  });

  it('several rows, none named for the peer: no peer replication is claimed', async () => {
    const rows = [
      replicationRow({ applicationName: 'a' }),
      replicationRow({ applicationName: 'b' }),
    ];
    const { obs } = await run(host1, primaryWorld({ replication: rows }));
    assert.equal(obs.local.peerReplication, undefined);
  });
});

describe('observe(): the heartbeat row and the beat', () => {
  it('the replicated row carries liveness, lag, degrade record, pause and switchover', async () => {
    const switchover = {
      to: 'host2',
      by: 'admin',
      startedAt: 900_000,
      timeoutMs: 30_000,
      phase: 'prepare' as const,
    };
    const row = heartbeatRow({
      repLag: 512,
      syncDegradedAt: 800_000,
      pausedBy: 'admin',
      switchover,
    });
    const { obs } = await run(host2, standbyWorld({ heartbeatRow: row }));
    assert.deepEqual(obs.local.heartbeat, {
      lastAlive: 500_000,
      writer: 'host1',
      repLag: 512,
      syncDegradedAt: 800_000,
    });
    assert.equal(obs.local.pausedBy, 'admin');
    assert.deepEqual(obs.local.switchover, switchover);
  });

  it('no trusted row: no heartbeat, no pause, and the server still answers', async () => {
    const { obs } = await run(host2, standbyWorld({ heartbeatRow: undefined }));
    assert.equal(obs.local.answering, true);
    assert.equal('heartbeat' in obs.local, false);
    assert.equal('pausedBy' in obs.local, false);
  });

  it('a failing row read does not stop the primary’s beat', async () => {
    const { obs, fakes } = await run(host1, primaryWorld({ heartbeatRow: timedOut('socket') }));
    assert.equal(obs.local.heartbeat, undefined);
    assert.deepEqual(fakes.reads('writeBeat'), ['writeBeat host1']);
    assert.equal(obs.local.beatCommitted, true);
  });

  it('an answering primary writes the beat once, after reading the row', async () => {
    const { fakes } = await run(host1, primaryWorld());
    const rowAt = fakes.journal.findIndex((entry) => entry.startsWith('heartbeatRow'));
    assert.deepEqual(fakes.reads('writeBeat'), ['writeBeat host1']);
    assert.ok(rowAt >= 0 && rowAt < fakes.journal.indexOf('writeBeat host1'));
  });

  it('a standby writes no beat', async () => {
    const { obs, fakes } = await run(host2, standbyWorld({ beat: true }));
    assert.deepEqual(fakes.reads('writeBeat'), []);
    assert.equal('beatCommitted' in obs.local, false);
  });

  it('a primary whose local read failed writes no beat', async () => {
    const { fakes } = await run(host1, primaryWorld({ status: timedOut('socket') }));
    assert.deepEqual(fakes.reads('writeBeat'), []);
  });

  it('a beat that fails (or is not written) is "not committed", never an exception', async () => {
    const failed = await run(host1, primaryWorld({ beat: timedOut('socket') }));
    const refusedByStandby = await run(host1, primaryWorld({ beat: false }));
    assert.equal(failed.obs.local.beatCommitted, false);
    assert.equal(refusedByStandby.obs.local.beatCommitted, false);
  });
});

describe('observe(): the frame of the observation', () => {
  it('names this node and its peer, and takes the time from the given clock', async () => {
    const { obs } = await run(host2, standbyWorld());
    assert.equal(obs.now, NOW);
    assert.equal(obs.node, 'host2');
    assert.equal(obs.peer, 'host1');
  });
});

describe('observe(): after a beacon signal, the fence device is asked beside the checks', () => {
  it('an OFF ends the wait for a peer that never answers: not answering, powered off', async () => {
    const { obs, fakes } = await run(
      host2,
      standbyWorld({}, { peerHangs: true, peerPoweredOff: true }),
      config,
      { peerSignal: true },
    );
    assert.deepEqual(obs.peerServer, { answering: false, poweredOff: true });
    assert.equal(obs.primaryVip.answeredByOtherPrimary, false);
    assert.ok(fakes.journal.includes('peerPoweredOff host1'));
  });

  it('ON changes nothing: the peer’s answer is awaited and counts as usual', async () => {
    const { obs } = await run(host2, standbyWorld({}, { peerPoweredOff: false }), config, {
      peerSignal: true,
    });
    assert.equal(obs.peerServer.answering, true);
    assert.equal(obs.peerServer.poweredOff, undefined);
  });

  it('without a signal, or with fencing none, the fence device is not asked', async () => {
    const none = { ...config, failover: { ...config.failover, fencing: 'none' as const } };
    for (const [cfg, hints] of [
      [config, {}],
      [none, { peerSignal: true }],
    ] as const) {
      const { fakes } = await run(host2, standbyWorld(), cfg, hints);
      assert.equal(fakes.journal.filter((entry) => entry.startsWith('peerPoweredOff')).length, 0);
    }
  });
});

describe('observe(): a signal while the look is under way starts the peer’s checks again', () => {
  const confirm = `${config.beacon?.confirm_timeout ?? 0}ms`;
  const signalled = { signalDuringLook: Promise.resolve() };

  it('reads made before a cut hang; the fresh ones decide, bounded by confirm_timeout', async () => {
    const cutOff = standbyWorld(
      {},
      { firstReadsHang: true, peer: timedOut('host1'), throughVip: timedOut('vip') },
    );
    const { obs, fakes } = await run(host2, cutOff, config, signalled);
    assert.equal(obs.peerServer.answering, false);
    assert.equal(obs.primaryVip.answeredByOtherPrimary, false);
    assert.equal(obs.gateway.reachable, true);
    for (const read of [`peerStatus host1 ${TIMEOUT} (hangs)`, `peerStatus host1 ${confirm}`])
      assert.ok(fakes.journal.includes(read), `${read} in ${fakes.journal.join(', ')}`);
    assert.ok(fakes.journal.includes(`throughVip ${confirm}`));
  });

  it('a live peer’s fresh answer counts: it is answering', async () => {
    const slowFirst = standbyWorld({}, { firstReadsHang: true });
    const { obs } = await run(host2, slowFirst, config, signalled);
    assert.equal(obs.peerServer.answering, true);
    assert.equal(obs.peerServer.role, 'primary');
  });

  it('the primary cut off: its fresh ping fails too, so it reaches neither', async () => {
    const isolated = primaryWorld(
      {},
      { firstReadsHang: true, peer: timedOut('host2'), gateways: { [GATEWAY]: false } },
    );
    const { obs, fakes } = await run(host1, isolated, config, signalled);
    assert.equal(obs.peerServer.answering, false);
    assert.equal(obs.gateway.reachable, false);
    assert.ok(fakes.journal.includes(`ping ${GATEWAY} ${confirm}`), fakes.journal.join(', '));
  });

  it('with fencing required the fence device is asked at the signal; an OFF ends the wait', async () => {
    const off = standbyWorld({}, { peerHangs: true, peerPoweredOff: true });
    const { obs, fakes } = await run(host2, off, config, signalled);
    assert.deepEqual(obs.peerServer, { answering: false, poweredOff: true });
    assert.ok(fakes.journal.includes('peerPoweredOff host1'));
  });

  it('no signal during the look: each check is read once, and the fence device is not asked', async () => {
    const never = { signalDuringLook: new Promise<void>(() => undefined) };
    const { obs, fakes } = await run(host2, standbyWorld(), config, never);
    assert.equal(obs.peerServer.answering, true);
    assert.equal(fakes.journal.filter((entry) => entry.startsWith('peerStatus')).length, 1);
    assert.equal(fakes.journal.filter((entry) => entry.startsWith('peerPoweredOff')).length, 0);
  });

  it('a read that answered before the signal is not read again', async () => {
    let signal: () => void = () => undefined;
    const later = new Promise<void>((resolve) => {
      signal = resolve;
    });
    const { fakes } = await run(host2, standbyWorld(), config, { signalDuringLook: later });
    signal();
    await later;
    assert.equal(fakes.journal.filter((entry) => entry.startsWith('peerStatus')).length, 1);
  });
});
