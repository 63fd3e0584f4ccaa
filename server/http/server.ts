import http from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';
import { AppError, type ErrorCode } from '../errors.ts';
import { requestIdOf } from './request-id.ts';

/** How long a connection may stay silent, and how long request headers may take to arrive. */
export const IDLE_TIMEOUT_MS = 30_000;

/**
 * Node answers requests it cannot parse itself (oversized headers, garbage,
 * headers that never finish) before express sees them, with a bare status
 * line. These answers carry our JSON error body instead.
 */
function clientErrorCode(error: NodeJS.ErrnoException): ErrorCode {
  if (error.code === 'HPE_HEADER_OVERFLOW') return 'HEADERS_TOO_LARGE';
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'REQUEST_TIMEOUT';
  return 'MALFORMED_REQUEST';
}

function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  // A reset or a socket already written to: nothing can be said any more.
  if (
    error.code === 'ECONNRESET' ||
    !socket.writable ||
    (socket as { _httpMessage?: unknown })._httpMessage
  ) {
    socket.destroy();
    return;
  }
  const appError = new AppError(clientErrorCode(error));
  // No request object exists yet: a fresh id (requestIdOf makes one for a request it has not seen).
  const body = JSON.stringify(appError.toBody(requestIdOf(new http.IncomingMessage(socket))));
  socket.end(
    `HTTP/1.1 ${appError.status} ${http.STATUS_CODES[appError.status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}

/**
 * The HTTP server for the app: a silent connection or a stalled body is cut
 * after 30 s without traffic, headers must be complete within 30 s, and a
 * long upload that keeps moving is never cut (no total request timeout).
 */
export function createHttpServer(
  app: Express,
  opts: {
    /** Default IDLE_TIMEOUT_MS (30 s); tests shorten it. */
    idleTimeoutMs?: number;
  } = {},
): http.Server {
  const idle = opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  const server = http.createServer(
    {
      headersTimeout: idle,
      requestTimeout: 0,
      connectionsCheckingInterval: Math.min(1_000, idle / 2),
    },
    app,
  );
  server.setTimeout(idle, (socket) => socket.destroy());
  server.on('clientError', answerClientError);
  return server;
}

/** Starts `server` on `port` and `host`; resolves once it listens. */
export function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
