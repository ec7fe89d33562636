// The one judgement of whether a standby may be promoted, as pure rules over gathered evidence:
// `skypg promote` and the supervisor's promotion (decide's rows, then act → promote) both use
// it, so the policy that chooses to promote and the code that promotes cannot disagree.
import { formatSize } from '../config/units.js';
import { parseLsn } from '../pg/lsn.js';
import type { ServerProof } from '../pg/connect.js';

export interface Precondition {
  check: string;
  ok: boolean;
  detail: string;
}

/** A server's place in the WAL history: its timeline, then its replayed position. */
export interface WalPosition {
  timeline: number;
  lsn: string | undefined;
}

/** What is known about the old primary, gathered by promote.ts (I/O) and judged here. */
export type OldPrimaryEvidence =
  | { kind: 'forced' }
  /** It answered as a standby of this pair (SCRAM, system identifier checked). */
  | { kind: 'standby'; proof: ServerProof; position: WalPosition }
  | { kind: 'powered-off' }
  | { kind: 'powered-on' }
  | { kind: 'fence-unanswered'; error: Error }
  | { kind: 'no-fence-device' }
  | { kind: 'primary' }
  /** It answered, but its role could not be read (a refused login, a failed query). */
  | { kind: 'unreadable'; message: string; loginHint?: string }
  /** Nobody answers at its address (refused or timed out). */
  | { kind: 'silent' };

export interface PromotionEvidence {
  node: string;
  peer: string;
  fencing: 'required' | 'none';
  maxLag: number;
  lag: { bytes: number; detail: string };
  local: WalPosition;
  dataDir: { problems: string[]; fix: string | undefined; okDetail: string };
  oldPrimary: OldPrimaryEvidence;
}

export interface PromotionJudgement {
  preconditions: Precondition[];
  /** Power the old primary off (verified) before pg_promote(). */
  fenceFirst: boolean;
  /** The fence device said OFF: nobody else can answer for the primary VIP. */
  oldPrimaryOff: boolean;
  warnings: string[];
  /** Why not, when the promotion must not happen (nothing has been changed yet). */
  refusal?: { code: 'REFUSED' | 'FENCE_FAILED'; message: string; hint: string };
}

/** Higher timeline first, then further WAL position (pure). */
export function compareWalPositions(a: WalPosition, b: WalPosition): number {
  if (a.timeline !== b.timeline) return a.timeline > b.timeline ? 1 : -1;
  const lsn = (text: string | undefined): bigint => (text === undefined ? 0n : parseLsn(text));
  const [x, y] = [lsn(a.lsn), lsn(b.lsn)];
  return x === y ? 0 : x > y ? 1 : -1;
}

/**
 * How far a standby is behind, in bytes, from its own observation: the WAL it received but has
 * not replayed, or the lag the primary last recorded in the heartbeat row, whichever is more.
 */
export function standbyLagBytes(local: {
  replayBacklog?: number;
  heartbeat?: { repLag?: number };
}): number {
  return Math.max(local.replayBacklog ?? 0, local.heartbeat?.repLag ?? 0);
}

/**
 * The lag rule, for decide and promote alike: within failover.max_lag, or the peer answers as
 * a standby no further ahead (then this node has every record either node has, and refusing
 * would leave the pair without a primary).
 */
export function lagAllowsPromotion(
  lagBytes: number,
  maxLag: number,
  peerStandbyNotAhead: boolean,
): boolean {
  return peerStandbyNotAhead || lagBytes <= maxLag;
}

/** Whether a standby answer rests on TLS that no relay can rewrite (pure). */
function relayProof(proof: ServerProof): boolean {
  return proof.tls === 'verified-full' || proof.channelBinding;
}

interface OldPrimaryVerdict {
  precondition: Precondition;
  fenceFirst: boolean;
  oldPrimaryOff: boolean;
  warnings: string[];
  hint?: string;
  fenceError?: Error;
}

function judgeOldPrimary(e: PromotionEvidence): OldPrimaryVerdict {
  const check = `the old primary ${e.peer} cannot write`;
  const verdict = (ok: boolean, detail: string, more: Partial<OldPrimaryVerdict> = {}) => ({
    precondition: { check, ok, detail },
    fenceFirst: false,
    oldPrimaryOff: false,
    warnings: [],
    ...more,
  });
  const evidence = e.oldPrimary;
  switch (evidence.kind) {
    case 'forced':
      return verdict(true, 'NOT VERIFIED: --force', {
        warnings: [
          `--force: promoting without proof that ${e.peer} is down; if it is still running there will be two primaries`,
        ],
      });
    case 'standby': {
      const proven = relayProof(evidence.proof);
      const how = `SCRAM, this pair's system identifier${proven ? `, TLS ${evidence.proof.channelBinding ? 'with channel binding' : 'verify-full'}` : ''}`;
      // With fencing: none the answer replaces no fence, so its weakness needs no warning.
      const warn = !proven && e.fencing === 'required';
      return verdict(true, `${e.peer} answers as a standby (${how})`, {
        warnings: warn
          ? [
              `${e.peer}'s "standby" answer came without verified TLS: an on-path relay could have rewritten it; set postgres.sslmode: verify-full`,
            ]
          : [],
      });
    }
    case 'powered-off':
      return verdict(true, `${e.peer} is powered off (fence status OFF)`, { oldPrimaryOff: true });
    case 'powered-on':
      return verdict(true, `${e.peer} is powered on: it will be fenced first`, {
        fenceFirst: true,
      });
    case 'fence-unanswered':
      return verdict(false, `no fence level answers: ${evidence.error.message}`, {
        fenceError: evidence.error,
      });
    case 'no-fence-device':
      return verdict(false, `fencing is required but ${e.peer} has no fence device`);
    case 'primary':
      return verdict(
        false,
        `${e.peer} still answers as a primary: promoting now would make two primaries`,
      );
    case 'unreadable':
      // Only silence proves anything without fencing: a server that answers but refuses the
      // login or the query (pg_hba, password, permissions) may well be a running primary.
      return verdict(
        false,
        `${e.peer} answered but its role could not be read (${evidence.message}), so it may still be a primary`,
        evidence.loginHint === undefined
          ? {}
          : { hint: `${evidence.loginHint}; or make sure ${e.peer} is down, then --force` },
      );
    case 'silent':
      return verdict(true, `${e.peer} does not answer (fencing: none)`);
  }
}

/** Whether the standby may be promoted now, and how; pure. */
export function judgePromotion(
  e: PromotionEvidence,
  options: { ignoreLag: boolean },
): PromotionJudgement {
  const peerAnswer = e.oldPrimary;
  const peerStandbyNotAhead =
    peerAnswer.kind === 'standby' && compareWalPositions(peerAnswer.position, e.local) <= 0;
  const lagOk = lagAllowsPromotion(e.lag.bytes, e.maxLag, peerStandbyNotAhead);
  const withinMaxLag = e.lag.bytes <= e.maxLag;
  const lagNote = withinMaxLag
    ? ''
    : lagOk
      ? ` (${e.peer} answers as a standby no further ahead: this node has every record either has)`
      : options.ignoreLag
        ? ' (ignored: --ignore-lag)'
        : '';
  const lagCheck: Precondition = {
    check: `lag within failover.max_lag (${formatSize(e.maxLag)})`,
    ok: lagOk || options.ignoreLag,
    detail: `${e.lag.detail}${lagNote}`,
  };
  const warnings: string[] = [];
  if (!lagOk && options.ignoreLag)
    warnings.push(
      `promoting ${e.node} ${formatSize(e.lag.bytes)} behind: writes the old primary acknowledged may be lost`,
    );
  const dataDirCheck: Precondition = {
    check: `${e.node}'s data directory can take the promotion`,
    ok: e.dataDir.problems.length === 0,
    detail: e.dataDir.problems.length === 0 ? e.dataDir.okDetail : e.dataDir.problems.join('; '),
  };
  const old = judgeOldPrimary(e);
  const preconditions = [lagCheck, dataDirCheck, old.precondition];
  warnings.push(...old.warnings);
  const judgement: PromotionJudgement = {
    preconditions,
    fenceFirst: old.fenceFirst,
    oldPrimaryOff: old.oldPrimaryOff,
    warnings,
  };
  const failed = preconditions.filter((condition) => !condition.ok);
  if (failed.length === 0) return judgement;
  if (old.fenceError !== undefined && failed.length === 1) {
    // No fence level answered: the supervisor reports this loudly (state fence-failed).
    const ownHint =
      'hint' in old.fenceError && typeof old.fenceError.hint === 'string'
        ? old.fenceError.hint
        : undefined;
    judgement.refusal = {
      code: 'FENCE_FAILED',
      message: `not promoting ${e.node}: ${old.fenceError.message}`,
      hint: `nothing was changed; no fence level of ${e.peer} answers, so ${e.peer} may still run: ${ownHint ?? "repair a level ('skypg doctor')"}, or --force once you know it is off`,
    };
    return judgement;
  }
  const fixes: string[] = [];
  if (!lagCheck.ok)
    fixes.push('wait for the standby to catch up, or --ignore-lag to accept losing the difference');
  if (!dataDirCheck.ok && e.dataDir.fix !== undefined) fixes.push(e.dataDir.fix);
  if (!old.precondition.ok)
    fixes.push(
      old.hint ?? 'make sure the old primary is down (fence it), or --force if you are certain',
    );
  judgement.refusal = {
    code: 'REFUSED',
    message: `not promoting ${e.node}: ${failed.map((condition) => `${condition.check}: ${condition.detail}`).join('; ')}`,
    hint: `nothing was changed; ${fixes.join('; ')}`,
  };
  return judgement;
}
