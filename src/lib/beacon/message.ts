// The beacon's datagram: who sends it and what it says about its own server, as one line of
// JSON. Pure: encoding, and decoding that refuses anything not from this pair's peer. A
// beacon is never evidence that the peer is healthy (docs/failover.md, "The beacon"): its
// silence, or its word that its server stopped answering, only makes the receiver check now.

/** What the sender's last observation said of its own PostgreSQL. */
export type BeaconServerState =
  /** It answered a new connection. */
  | 'answering'
  /** It is down, hung, or did not answer in time. */
  | 'not-answering'
  /** Its postmaster died and the sender restarts it in place as the primary: no signal. */
  | 'restarting';

export interface BeaconMessage {
  cluster: string;
  /** The sender's node name. */
  node: string;
  /** Counts up from 1 each time the sender's supervisor starts. */
  seq: number;
  server: BeaconServerState;
}

const version = 1;
const serverStates: readonly BeaconServerState[] = ['answering', 'not-answering', 'restarting'];
/** A real beacon is well under 200 bytes: anything bigger is not one, and is not parsed. */
export const maxBeaconBytes = 512;

export function encodeBeacon(message: BeaconMessage): Buffer {
  return Buffer.from(
    JSON.stringify({
      v: version,
      cluster: message.cluster,
      node: message.node,
      seq: message.seq,
      server: message.server,
    }),
  );
}

/**
 * The message, when the datagram is a beacon of this cluster sent by the expected peer;
 * undefined for anything else (another cluster, this node's own name, junk, a newer version).
 */
export function decodeBeacon(
  datagram: Buffer,
  expected: { cluster: string; peer: string },
): BeaconMessage | undefined {
  if (datagram.length > maxBeaconBytes) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(datagram.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const fields = parsed as Record<string, unknown>;
  const { v, cluster, node, seq, server } = fields;
  if (v !== version || cluster !== expected.cluster || node !== expected.peer) return undefined;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  if (typeof server !== 'string' || !serverStates.includes(server as BeaconServerState))
    return undefined;
  return { cluster, node, seq, server: server as BeaconServerState };
}
