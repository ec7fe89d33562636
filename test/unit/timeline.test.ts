// Timeline ancestry, control data and standby configuration text: the pure parts of rebuild.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isCleanShutdown, parseControlData } from '../../src/lib/pg/controldata.js';
import { formatConninfo, withPrimaryConninfo } from '../../src/lib/pg/standby-config.js';
import {
  classifyDivergence,
  parseHistory,
  type DivergenceInput,
} from '../../src/lib/pg/timeline.js';

const history2 = parseHistory('1\t0/3000160\tno recovery target specified\n');
const history3 = parseHistory(
  '1\t0/3000160\tno recovery target specified\n2\t0/5000000\tno recovery target specified\n',
);

describe('parseHistory', () => {
  it('reads timeline and switchpoint per line, skipping blanks and comments', () => {
    assert.deepEqual(history3, [
      { timeline: 1, switchpoint: '0/3000160' },
      { timeline: 2, switchpoint: '0/5000000' },
    ]);
    assert.deepEqual(parseHistory('# comment\n\n'), []);
  });
});

describe('classifyDivergence', () => {
  const base: DivergenceInput = {
    localTimeline: 1,
    localCheckpointLsn: '0/3000028',
    cleanShutdown: true,
    sourceTimeline: 2,
    sourceLsn: '0/4000000',
    sourceHistory: history2,
  };
  const cases: { name: string; input: Partial<DivergenceInput>; verdict: string; why: RegExp }[] = [
    {
      name: 'clean stop before the fork follows',
      input: {},
      verdict: 'follow',
      why: /before timeline 1 forked at 0\/3000160/,
    },
    {
      name: 'clean stop past the fork is diverged',
      input: { localCheckpointLsn: '0/3100000' },
      verdict: 'rewind',
      why: /past the fork .* diverged/,
    },
    {
      name: 'checkpoint exactly at the fork is diverged',
      input: { localCheckpointLsn: '0/3000160' },
      verdict: 'rewind',
      why: /diverged/,
    },
    {
      name: 'a crash before the fork still needs pg_rewind to look',
      input: { cleanShutdown: false },
      verdict: 'rewind',
      why: /not shut down cleanly/,
    },
    {
      name: 'a timeline missing from the history is unrelated',
      input: { localTimeline: 5, sourceTimeline: 6 },
      verdict: 'basebackup',
      why: /not in the source's history/,
    },
    {
      name: 'an older ancestor two promotions back',
      input: { sourceTimeline: 3, sourceHistory: history3 },
      verdict: 'follow',
      why: /forked at 0\/3000160/,
    },
    {
      name: 'same timeline, behind, clean',
      input: { localTimeline: 2, localCheckpointLsn: '0/3800000' },
      verdict: 'follow',
      why: /behind the source/,
    },
    {
      name: 'same timeline but ahead of the source',
      input: { localTimeline: 2, localCheckpointLsn: '0/4800000' },
      verdict: 'basebackup',
      why: /ahead of the source/,
    },
    {
      name: 'same timeline after a crash',
      input: { localTimeline: 2, localCheckpointLsn: '0/3800000', cleanShutdown: false },
      verdict: 'rewind',
      why: /not shut down cleanly/,
    },
    {
      // Seen in CI: an old primary killed with -9 restarted as a standby, replayed its own WAL
      // past the fork, and was stopped; its checkpoint is before the fork, its data is not.
      name: 'a standby stopped in recovery past the fork is diverged, though its checkpoint is before it',
      input: { localMinRecovery: { timeline: 1, lsn: '0/3000200' } },
      verdict: 'rewind',
      why: /minimum recovery point 0\/3000200 is past the fork .* diverged/,
    },
    {
      name: 'a standby stopped in recovery exactly at the fork follows',
      input: { localMinRecovery: { timeline: 1, lsn: '0/3000160' } },
      verdict: 'follow',
      why: /minimum recovery point 0\/3000160, not past timeline 1's fork/,
    },
    {
      name: 'a standby that replayed onto the newer timeline is judged there',
      input: { localMinRecovery: { timeline: 2, lsn: '0/3800000' } },
      verdict: 'follow',
      why: /same timeline 2 and behind the source/,
    },
    {
      name: "a minimum recovery point of 0/0 (a primary's stop) changes nothing",
      input: { localMinRecovery: { timeline: 0, lsn: '0/0' } },
      verdict: 'follow',
      why: /before timeline 1 forked/,
    },
    {
      name: 'a newer timeline than the source is refused',
      input: { localTimeline: 3 },
      verdict: 'refuse',
      why: /newer than the source's 2/,
    },
  ];
  for (const { name, input, verdict, why } of cases) {
    it(name, () => {
      const result = classifyDivergence({ ...base, ...input });
      assert.equal(result.verdict, verdict);
      assert.match(result.why, why);
    });
  }
});

describe('parseControlData', () => {
  const text = [
    'pg_control version number:            1300',
    'Database system identifier:           7312345678901234567',
    'Database cluster state:               shut down',
    'Latest checkpoint location:           0/3000028',
    "Latest checkpoint's TimeLineID:       1",
    'Minimum recovery ending location:     0/0',
    "Min recovery ending loc's timeline:   0",
    'wal_log_hints setting:                on',
    'Data page checksum version:           0',
  ].join('\n');
  it('reads the fields rebuild needs', () => {
    const data = parseControlData(text);
    assert.equal(data.clusterState, 'shut down');
    assert.equal(data.checkpointLsn, '0/3000028');
    assert.equal(data.checkpointTimeline, 1);
    assert.equal(data.walLogHints, true);
    assert.equal(data.dataChecksums, false);
    assert.equal(isCleanShutdown(data), true);
    assert.equal(isCleanShutdown({ ...data, clusterState: 'in production' }), false);
  });
  it('says which field is missing', () => {
    assert.throws(() => parseControlData('nothing'), /printed no "Database system identifier"/);
  });
});

describe('standby configuration text', () => {
  it('formats primary_conninfo with a passfile and quotes what needs quoting', () => {
    const text = formatConninfo({
      host: '10.0.0.130',
      port: 5432,
      user: 'replica',
      applicationName: 'host1',
      passfile: "/etc/sky pg/it's",
    });
    assert.match(
      text,
      /^host=10\.0\.0\.130 port=5432 user=replica application_name=host1 connect_timeout=5 /,
    );
    assert.match(text, / passfile='\/etc\/sky pg\/it\\'s'$/);
    assert.doesNotMatch(text, /password/);
  });
  it('replaces primary_conninfo and drops primary_slot_name in postgresql.auto.conf', () => {
    const before =
      "# Do not edit\nprimary_conninfo = 'host=old'\nprimary_slot_name = 'x'\nwork_mem = '8MB'\n";
    const after = withPrimaryConninfo(before, "host=new user=o'brien");
    assert.equal(
      after,
      "# Do not edit\nwork_mem = '8MB'\nprimary_conninfo = 'host=new user=o''brien'\n",
    );
  });
});
