// Fence levels, the pure parts: order, the message when none is left, the agent's stdin.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FenceConfig } from '../../src/lib/config/types.js';
import { SkypgError } from '../../src/lib/common/errors.js';
import {
  agentInput,
  describeLevel,
  fenceFailureMessage,
  ipmitoolArgs,
  tryLevels,
} from '../../src/lib/fence/fence.js';

function level(label: string, extra: Partial<FenceConfig> = {}): FenceConfig {
  return {
    label,
    agent: 'ipmitool',
    ip: undefined,
    ipport: undefined,
    username: undefined,
    password_file: undefined,
    command: undefined,
    options: {},
    connect_timeout: 2000,
    timeout: 20_000,
    ...extra,
  };
}

const bmc = level('ipmi', { ip: '10.231.0.101', username: 'fence', password_file: '/etc/p' });
const pdu = level('pdu', { agent: 'command', command: '/usr/local/sbin/pdu-fence' });

describe('fence levels', () => {
  it('tries the levels in order and stops at the first that succeeds', async () => {
    const asked: string[] = [];
    const done = await tryLevels('host1', 'off', [bmc, pdu, level('spare')], (fence) => {
      asked.push(fence.label);
      if (fence.label === 'ipmi')
        return Promise.reject(new Error('status did not answer within 2000ms'));
      return Promise.resolve(`${fence.label} off`);
    });
    assert.deepEqual(asked, ['ipmi', 'pdu']);
    assert.equal(done.value, 'pdu off');
    assert.equal(done.level, 2);
    assert.deepEqual(
      done.tried.map((attempt) => [attempt.level, attempt.ok, attempt.detail]),
      [
        [1, false, 'status did not answer within 2000ms'],
        [2, true, 'done'],
      ],
    );
  });

  it('with no level left: FENCE_FAILED naming the node and each level with its failure', async () => {
    const failure = await tryLevels('host1', 'off', [bmc, pdu], (fence) =>
      Promise.reject(
        new Error(
          fence.label === 'ipmi' ? 'status did not answer within 2000ms' : 'outlet 3 is not wired',
        ),
      ),
    ).catch((error: unknown) => error);
    assert.ok(failure instanceof SkypgError);
    assert.equal(failure.code, 'FENCE_FAILED');
    assert.equal(
      failure.message,
      'cannot fence host1 (off): level 1 ipmi (10.231.0.101): status did not answer within 2000ms; level 2 pdu (/usr/local/sbin/pdu-fence): outlet 3 is not wired',
    );
    assert.equal(failure.message.includes('\n'), false);
    assert.match(failure.hint ?? '', /may still run/);
  });

  it('names levels by label and address, and a status failure as a query', () => {
    assert.equal(describeLevel(level('ipmitool'), 1), 'level 1 ipmitool');
    assert.equal(
      fenceFailureMessage('host2', 'status', [
        { level: 1, device: 'level 1 ipmi (10.231.0.102)', ok: false, detail: 'x', ms: 1 },
      ]),
      'cannot query the power of host2: level 1 ipmi (10.231.0.102): x',
    );
  });
});

describe("a fence agent's stdin", () => {
  it('is one name=value line per option', () => {
    assert.equal(
      agentInput([
        ['action', 'status'],
        ['username', 'fence'],
      ]),
      'action=status\nusername=fence\n',
    );
  });

  const injections: [string, [string, string]][] = [
    ['a newline in a value', ['username', 'fence\naction=off']],
    ['a carriage return in a value', ['cipher', '3\raction=off']],
    ['an "=" in a name', ['action=off x', '1']],
    ['a newline in a name', ['x\naction', 'off']],
  ];
  for (const [name, line] of injections) {
    it(`refuses ${name} (it would add a line such as action=off)`, () => {
      assert.throws(
        () => agentInput([['action', 'status'], line]),
        (error: unknown) => error instanceof SkypgError && error.code === 'REFUSED',
      );
    });
  }
});

describe('ipmitool arguments', () => {
  it('fail fast on a vanished BMC (-R 1, -N from connect_timeout) and carry no password', () => {
    const args = ipmitoolArgs(bmc, 'status');
    assert.deepEqual(args.slice(args.indexOf('-N'), args.indexOf('-N') + 4), [
      '-N',
      '1',
      '-R',
      '1',
    ]);
    assert.deepEqual(args.slice(args.indexOf('-f'), args.indexOf('-f') + 2), ['-f', '/etc/p']);
    assert.equal(args.includes('-P'), false);
    assert.deepEqual(args.slice(-3), ['chassis', 'power', 'status']);
    const slower = ipmitoolArgs({ ...bmc, connect_timeout: 6000 }, 'off');
    assert.equal(slower[slower.indexOf('-N') + 1], '3');
  });
});
