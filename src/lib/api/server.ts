// The health API's HTTP server (node:http: a handful of read-only routes need no framework).
// It answers from the view the loop keeps (view.ts) and never waits on PostgreSQL. Bounded
// against slow or greedy clients: short timeouts, small headers, a cap on connections, request
// bodies ignored. A port it cannot take is logged and retried; the supervisor goes on either way.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { ClusterConfig, NodeConfig } from '../config/types.js';
import { formatListen } from '../config/listen.js';
import { messageOf } from '../common/errors.js';
import type { LoopLog } from '../supervisor/loop.js';
import { answerRequest } from './routes.js';
import { ViewRecorder, type ViewSources } from './view.js';

/** How long a client may take to send its request, and how long an idle connection stays. */
const requestTimeoutMs = 5000;
const maxConnections = 256;
const maxHeaderBytes = 8192;
/** A port that is taken is tried again this often. */
export const listenRetryMs = 10_000;

export interface HealthApi {
  /** The loop watcher that keeps the view the routes answer from. */
  recorder: ViewRecorder;
  /** Resolves once listening (or after the first failure, which is logged and retried). */
  started: Promise<void>;
  close: () => Promise<void>;
}

export function startHealthApi(
  config: ClusterConfig,
  node: NodeConfig,
  listen: { host: string; port: number },
  log: LoopLog,
  sources: ViewSources = {},
  now: () => number = Date.now,
): HealthApi {
  const recorder = new ViewRecorder(config, node, now(), sources);
  const where = formatListen(listen.host, listen.port);
  const server = createServer(
    {
      maxHeaderSize: maxHeaderBytes,
      requestTimeout: requestTimeoutMs,
      headersTimeout: requestTimeoutMs,
      // Node enforces the two timeouts above only when it checks (every 30 s by default).
      connectionsCheckingInterval: 1000,
    },
    (request, response) => {
      serve(request, response, recorder, config, now);
    },
  );
  server.keepAliveTimeout = requestTimeoutMs;
  // A connection that sends nothing at all is not a request yet, so only an idle timeout ends it.
  server.timeout = requestTimeoutMs;
  server.maxConnections = maxConnections;
  server.maxHeadersCount = 64;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let lastError: string | undefined;

  const listenOnce = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const onError = (error: Error): void => {
        server.off('listening', onListening);
        const detail = `health API cannot listen on ${where}: ${messageOf(error)}; supervising without it, trying again every ${listenRetryMs / 1000}s`;
        // Said once per distinct failure, not every retry.
        if (detail !== lastError) log.write({ event: 'error', node: node.name, detail });
        lastError = detail;
        if (!closed) {
          retry = setTimeout(() => void listenOnce(), listenRetryMs);
          retry.unref();
        }
        resolve();
      };
      const onListening = (): void => {
        server.off('error', onError);
        lastError = undefined;
        log.write({ event: 'api', node: node.name, detail: `health API listening on ${where}` });
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen({ host: listen.host, port: listen.port, exclusive: true });
    });

  const started = listenOnce();
  return {
    recorder,
    started,
    close: async () => {
      closed = true;
      if (retry !== undefined) clearTimeout(retry);
      if (!server.listening) return;
      server.closeAllConnections();
      await new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      );
    },
  };
}

function serve(
  request: IncomingMessage,
  response: ServerResponse,
  recorder: ViewRecorder,
  config: ClusterConfig,
  now: () => number,
): void {
  // A body is never read: drain it so the connection can be reused or closed cleanly.
  request.resume();
  const answer = answerRequest(
    request.method ?? '',
    request.url ?? '',
    recorder.view(),
    config,
    now(),
  );
  response.writeHead(answer.status, answer.headers);
  response.end(answer.body);
}
