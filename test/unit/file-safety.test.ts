// Pure checks behind the files skypg trusts: a state file dated in the future, a password file
// libpq would ignore.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { passfileModeProblem } from '../../src/lib/pg/passfile.js';
import { parseSupervisorState } from '../../src/lib/supervisor/state-file.js';

const now = Date.parse('2026-12-02T10:00:00.000Z');
const stateText = (updatedAt: string): string =>
  JSON.stringify({
    version: 1,
    cluster: 'c',
    node: 'host1',
    pid: 1,
    pidStartTicks: 1,
    startedAt: '2026-12-02T09:00:00.000Z',
    updatedAt,
    loops: 1,
    state: 'primary',
    reason: 'healthy',
    paused: false,
  });

describe('supervisor state file validation', () => {
  it('refuses an updatedAt in the future (a forged file would look fresh for ever)', () => {
    assert.throws(
      () => parseSupervisorState(stateText('2027-12-02T10:00:00.000Z'), '/run/x.json', now),
      (error: Error & { code?: string }) =>
        error.code === 'REFUSED' &&
        /^the supervisor state file \/run\/x\.json is invalid: updatedAt 2027-12-02T10:00:00\.000Z is in the future$/.test(
          error.message,
        ),
    );
  });

  it('refuses an updatedAt that is not a time', () => {
    assert.throws(
      () => parseSupervisorState(stateText('soon'), '/run/x.json', now),
      /updatedAt soon is not a time/,
    );
  });

  it('accepts a file a little ahead (clock rounding) or in the past', () => {
    for (const updatedAt of ['2026-12-02T10:00:04.000Z', '2026-12-02T09:59:00.000Z']) {
      assert.equal(
        parseSupervisorState(stateText(updatedAt), '/run/x.json', now).updatedAt,
        updatedAt,
      );
    }
  });
});

describe('password file mode, as libpq judges it', () => {
  it('ignores a file group or others can read or write', () => {
    for (const mode of [0o100644, 0o100640, 0o100602, 0o100660]) {
      assert.match(
        passfileModeProblem('/p', mode, true) ?? '',
        /^password file "\/p" has group or world access \(mode 06\d\d\); permissions should be u=rw \(0600\) or less: chmod 600 \/p$/,
      );
    }
  });

  it('reads 0600 and 0400, and refuses what is not a plain file', () => {
    assert.equal(passfileModeProblem('/p', 0o100600, true), undefined);
    assert.equal(passfileModeProblem('/p', 0o100400, true), undefined);
    assert.match(passfileModeProblem('/p', 0o020600, false) ?? '', /is not a plain file/);
  });
});
