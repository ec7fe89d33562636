// HTTP requests made from inside one of the lab's namespaces (the client machine, a host), by a
// child node process: the test process itself lives outside the lab's network.
import { execIn } from '../../src/lib/lab/netns-lab.js';
import type { LabNamespaceKey, NetnsLabState } from '../../src/lib/lab/netns-plan.js';

export interface HttpAnswer {
  status?: number;
  headers?: Record<string, string>;
  body: string;
  /** Why no status came back (connection refused, timed out). */
  error?: string;
  ms: number;
}

const requestScript = `
const http = require('node:http');
const [method, url, timeout] = process.argv.slice(1);
const started = Date.now();
const done = (answer) => process.stdout.write(JSON.stringify({ ...answer, ms: Date.now() - started }));
const request = http.request(url, { method, timeout: Number(timeout) }, (response) => {
  let body = '';
  response.setEncoding('utf8');
  response.on('data', (chunk) => { body += chunk; });
  response.on('end', () => done({ status: response.statusCode, headers: response.headers, body }));
});
request.on('timeout', () => request.destroy(new Error('timed out')));
request.on('error', (error) => done({ error: error.message, body: '' }));
request.end();
`;

export async function httpFrom(
  state: NetnsLabState,
  member: LabNamespaceKey,
  method: string,
  url: string,
  timeoutMs = 3000,
): Promise<HttpAnswer> {
  const result = await execIn(
    state,
    member,
    process.execPath,
    ['-e', requestScript, method, url, String(timeoutMs)],
    { timeoutMs: timeoutMs + 10_000 },
  );
  return JSON.parse(result.stdout) as HttpAnswer;
}

/** The health API's URL of a lab host (each host's own address, port 8008). */
export function apiUrl(state: NetnsLabState, host: 'host1' | 'host2', path: string): string {
  const address = state.hosts.find((entry) => entry.name === host)?.address ?? '';
  return `http://${address}:8008${path}`;
}
