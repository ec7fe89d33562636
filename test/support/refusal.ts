// The SkypgError a promise rejects with (fails the test when it resolves or throws anything else).
import assert from 'node:assert/strict';
import { SkypgError } from '../../src/lib/common/errors.js';

export async function refusal(promise: Promise<unknown>): Promise<SkypgError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SkypgError, `not a SkypgError: ${String(error)}`);
    return error;
  }
  assert.fail('expected an error');
}
