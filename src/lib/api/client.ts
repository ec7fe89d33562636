// Asks a supervisor's health API (skypg doctor's api check): one GET, bounded by a deadline.
import { request } from 'node:http';

export interface ApiAnswer {
  status: number;
  body: string;
  ms: number;
}

export function getFromApi(
  host: string,
  port: number,
  path: string,
  timeoutMs: number,
): Promise<ApiAnswer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const asked = request({ host, port, path, method: 'GET', timeout: timeoutMs }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        // A health answer is a few hundred bytes: anything much larger is not skypg's.
        if (body.length < 65_536) body += chunk;
      });
      response.on('end', () => {
        resolve({
          status: response.statusCode ?? 0,
          body,
          ms: Math.round(performance.now() - started),
        });
      });
    });
    asked.on('timeout', () => asked.destroy(new Error(`no answer within ${timeoutMs}ms`)));
    asked.on('error', reject);
    asked.end();
  });
}
