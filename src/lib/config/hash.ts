// A short fingerprint of the effective configuration: the supervisor records it in its state
// file, and `skypg doctor` compares both nodes' (the file must be identical on both).
import { createHash } from 'node:crypto';
import type { ClusterConfig } from './types.js';

/** sha256 of the validated configuration (defaults applied, comments and layout ignored), 12 hex digits. */
export function configHash(config: ClusterConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 12);
}
