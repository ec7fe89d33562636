// The promotion judgement (failover/promotion.ts) as a table, and the property the supervisor
// depends on: when decide() chooses to promote, the promotion it runs does not refuse.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConfigText } from '../../src/lib/config/load.js';
import { exampleConfig } from '../../src/lib/config/example.js';
import type { ClusterConfig } from '../../src/lib/config/types.js';
import {
  compareWalPositions,
  judgePromotion,
  type OldPrimaryEvidence,
  type PromotionEvidence,
} from '../../src/lib/failover/promotion.js';
import type { ServerProof } from '../../src/lib/pg/connect.js';
import { decide } from '../../src/lib/supervisor/decide.js';
import type { Memory, Observation } from '../../src/lib/supervisor/types.js';
import { standbyView } from '../support/observations.js';

const MiB = 1024 * 1024;
const loaded = await checkConfigText(exampleConfig, 'example.yaml');
const config: ClusterConfig = loaded.config ?? assert.fail('example config invalid');
const scram = { scram: true, channelBinding: false, tls: 'none' as const };
const verified = { scram: true, channelBinding: true, tls: 'verified-full' as const };

function evidence(changes: Partial<PromotionEvidence> = {}): PromotionEvidence {
  return {
    node: 'host2',
    peer: 'host1',
    fencing: 'required',
    maxLag: 16 * MiB,
    lag: { bytes: 0, detail: '0B received but not replayed' },
    local: { timeline: 1, lsn: '0/3000000' },
    dataDir: { problems: [], fix: undefined, okDetail: 'writable by postgres' },
    oldPrimary: { kind: 'powered-off' },
    ...changes,
  };
}

interface Row {
  name: string;
  evidence: PromotionEvidence;
  ignoreLag?: boolean;
  /** undefined: promote. */
  refusal?: 'REFUSED' | 'FENCE_FAILED';
  fenceFirst?: boolean;
  message?: RegExp;
  warnings?: number;
}

const standbyAt = (
  lsn: string,
  timeline = 1,
  proof: ServerProof = verified,
): OldPrimaryEvidence => ({
  kind: 'standby',
  proof,
  position: { timeline, lsn },
});

const rows: Row[] = [
  { name: 'old primary powered off, no lag: promote', evidence: evidence() },
  {
    name: 'old primary powered on: fence it first, then promote',
    evidence: evidence({ oldPrimary: { kind: 'powered-on' } }),
    fenceFirst: true,
  },
  {
    name: 'no fence level answers (the only problem): FENCE_FAILED',
    evidence: evidence({
      oldPrimary: { kind: 'fence-unanswered', error: new Error('level 1 ipmi: timed out') },
    }),
    refusal: 'FENCE_FAILED',
    message: /^not promoting host2: level 1 ipmi: timed out$/,
  },
  {
    name: 'no fence level answers and the lag is too high: REFUSED naming both',
    evidence: evidence({
      oldPrimary: { kind: 'fence-unanswered', error: new Error('timed out') },
      lag: { bytes: 64 * MiB, detail: '64MB behind' },
    }),
    refusal: 'REFUSED',
    message: /lag within failover\.max_lag.*64MB behind.*no fence level answers/,
  },
  {
    name: 'lag beyond max_lag with the old primary off: REFUSED',
    evidence: evidence({ lag: { bytes: 64 * MiB, detail: '64MB behind' } }),
    refusal: 'REFUSED',
    message: /lag within failover\.max_lag/,
  },
  {
    name: 'lag beyond max_lag with --ignore-lag: promote, with a warning',
    evidence: evidence({ lag: { bytes: 64 * MiB, detail: '64MB behind' } }),
    ignoreLag: true,
    warnings: 1,
  },
  {
    name: 'lag beyond max_lag, the peer a standby behind this node: promote (it has every record)',
    evidence: evidence({
      lag: { bytes: 500 * MiB, detail: '500MB' },
      oldPrimary: standbyAt('0/2000000'),
    }),
  },
  {
    name: 'lag beyond max_lag, the peer a standby further ahead: REFUSED',
    evidence: evidence({
      lag: { bytes: 500 * MiB, detail: '500MB' },
      oldPrimary: standbyAt('0/4000000'),
    }),
    refusal: 'REFUSED',
  },
  {
    name: 'the peer a standby on a newer timeline counts as ahead: REFUSED on lag',
    evidence: evidence({
      lag: { bytes: 500 * MiB, detail: '500MB' },
      oldPrimary: standbyAt('0/1000000', 2),
    }),
    refusal: 'REFUSED',
  },
  {
    name: 'a standby answer without verified TLS, fencing required: promote with a warning',
    evidence: evidence({ oldPrimary: standbyAt('0/2000000', 1, scram) }),
    warnings: 1,
  },
  {
    name: 'a standby answer without verified TLS, fencing none: no warning',
    evidence: evidence({ fencing: 'none', oldPrimary: standbyAt('0/2000000', 1, scram) }),
    warnings: 0,
  },
  {
    name: 'fencing required but no device: REFUSED',
    evidence: evidence({ oldPrimary: { kind: 'no-fence-device' } }),
    refusal: 'REFUSED',
    message: /has no fence device/,
  },
  {
    name: 'fencing none, the peer still a primary: REFUSED',
    evidence: evidence({ fencing: 'none', oldPrimary: { kind: 'primary' } }),
    refusal: 'REFUSED',
    message: /still answers as a primary/,
  },
  {
    name: 'fencing none, the peer silent: promote',
    evidence: evidence({ fencing: 'none', oldPrimary: { kind: 'silent' } }),
  },
  {
    name: 'fencing none, the peer answers but refuses the login: REFUSED with the login fix',
    evidence: evidence({
      fencing: 'none',
      oldPrimary: { kind: 'unreadable', message: 'password', loginHint: 'fix the passfile' },
    }),
    refusal: 'REFUSED',
    message: /its role could not be read/,
  },
  {
    name: 'a data directory that cannot take the promotion: REFUSED with its fix',
    evidence: evidence({
      dataDir: { problems: ['pg_wal is full'], fix: 'free pg_wal', okDetail: '' },
    }),
    refusal: 'REFUSED',
    message: /pg_wal is full/,
  },
  {
    name: '--force: promote unverified, with a warning',
    evidence: evidence({ oldPrimary: { kind: 'forced' } }),
    warnings: 1,
  },
];

describe('judgePromotion', () => {
  for (const row of rows) {
    it(row.name, () => {
      const judgement = judgePromotion(row.evidence, { ignoreLag: row.ignoreLag ?? false });
      assert.equal(judgement.refusal?.code, row.refusal, JSON.stringify(judgement));
      assert.equal(judgement.fenceFirst, row.fenceFirst ?? false);
      if (row.message) assert.match(judgement.refusal?.message ?? '', row.message);
      if (row.warnings !== undefined) assert.equal(judgement.warnings.length, row.warnings);
      if (row.refusal !== undefined)
        assert.match(judgement.refusal?.hint ?? '', /^nothing was changed; /);
    });
  }
  it('orders positions by timeline, then LSN', () => {
    assert.equal(compareWalPositions({ timeline: 2, lsn: '0/1' }, { timeline: 1, lsn: '9/0' }), 1);
    assert.equal(compareWalPositions({ timeline: 1, lsn: '0/10' }, { timeline: 1, lsn: '0/9' }), 1);
    assert.equal(compareWalPositions({ timeline: 1, lsn: '0/9' }, { timeline: 1, lsn: '0/9' }), 0);
  });
});

/** host2 after its primary host1 is gone; host1 may answer again as a standby. */
function standbyAfterPrimaryGone(
  repLag: number,
  peerServer: Observation['peerServer'],
): Observation {
  return standbyView({
    local: { receiver: undefined, heartbeat: { lastAlive: 500_000, writer: 'host1', repLag } },
    peerServer,
    primaryVip: { answeredByOtherPrimary: false, heldElsewhere: false },
  });
}

/** The evidence promote gathers in the same situation decide saw. */
function evidenceFor(obs: Observation): PromotionEvidence {
  const peer = obs.peerServer;
  return evidence({
    lag: {
      bytes: Math.max(obs.local.replayBacklog ?? 0, obs.local.heartbeat?.repLag ?? 0),
      detail: 'as decide saw it',
    },
    local: { timeline: obs.local.timeline ?? 0, lsn: obs.local.lsn },
    oldPrimary:
      peer.answering && peer.role === 'standby'
        ? standbyAt(peer.lsn ?? '0/0', peer.timeline ?? 0)
        : { kind: 'powered-off' },
  });
}

describe('decide() and the promotion it runs agree', () => {
  const memory: Memory = {
    state: 'standby',
    misses: 5,
    lastHeartbeatValue: 500_000,
    primaryLastAliveAt: 990_000,
    electionPositions: '1:0/3000000|1:0/2000000',
  };
  const gone = { answering: false } as const;
  const behind = { answering: true, role: 'standby', timeline: 1, lsn: '0/2000000' } as const;
  const situations: { name: string; obs: Observation }[] = [
    { name: 'primary gone, lag 0', obs: standbyAfterPrimaryGone(0, gone) },
    { name: 'primary gone, lag beyond max_lag', obs: standbyAfterPrimaryGone(500 * MiB, gone) },
    {
      name: 'both standbys, this one ahead, its recorded rep_lag beyond max_lag',
      obs: standbyAfterPrimaryGone(500 * MiB, behind),
    },
    { name: 'both standbys, this one ahead, lag 0', obs: standbyAfterPrimaryGone(0, behind) },
  ];
  for (const { name, obs } of situations) {
    it(name, () => {
      const decision = decide(obs, memory, config);
      const judgement = judgePromotion(evidenceFor(obs), { ignoreLag: false });
      const decidesToPromote = decision.actions.some((action) => action.kind === 'promote');
      assert.equal(
        judgement.refusal === undefined,
        decidesToPromote,
        `decide: ${decision.rule} (${decision.reason}); promote: ${judgement.refusal?.message ?? 'promotes'}`,
      );
    });
  }
});
