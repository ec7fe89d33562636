// `api.listen` and `beacon.listen`: where a supervisor serves its HTTP health API (TCP) and
// hears its peer's beacon (UDP). "ADDRESS:PORT", "[IPv6]:PORT",
// or ":PORT" for the node's own address (the default, so one file serves both nodes).
import { isIP } from 'node:net';

export interface ListenAddress {
  /** undefined: the node's own address. */
  host: string | undefined;
  port: number;
}

export const defaultApiPort = 8008;

/** UDP: the beacon the two supervisors send each other (src/lib/beacon). */
export const defaultBeaconPort = 8009;

/** The parsed form, or undefined when the text is not one of the three shapes. */
export function parseListen(text: string): ListenAddress | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]*)):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const [, bracketed, plain, portText] = match;
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  if (bracketed !== undefined) return isIP(bracketed) === 6 ? { host: bracketed, port } : undefined;
  if (plain === undefined || plain === '') return { host: undefined, port };
  return isIP(plain) === 4 || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(plain)
    ? { host: plain, port }
    : undefined;
}

/** How a URL or log names it: 10.0.0.1:8008, [fd00::1]:8008. */
export function formatListen(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
