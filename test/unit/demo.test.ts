import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { promoteSteps } from '../../src/lib/lab/demo.js';

describe('lab demo: reading the promote action back from the supervisor log', () => {
  it('splits the step list, names with parentheses included', () => {
    const detail =
      "promoted host2 to timeline 2 (query host1's fence device 87ms, fence host1 (power off, verified) 2367ms, pg_promote() on host2 116ms, take the primary VIP here 1018ms)";
    assert.deepEqual(promoteSteps(detail), [
      { name: "query host1's fence device", ms: 87 },
      { name: 'fence host1 (power off, verified)', ms: 2367 },
      { name: 'pg_promote() on host2', ms: 116 },
      { name: 'take the primary VIP here', ms: 1018 },
    ]);
  });
  it('is empty for a detail without steps', () => {
    assert.deepEqual(promoteSteps('promoted host2'), []);
  });
});
