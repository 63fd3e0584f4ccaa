import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AnyRouter } from '@trpc/server';
import { createOpenApiNodeHttpHandler } from 'trpc-to-openapi';
import { AppError, toAppError } from '../errors.ts';
import { proceduresMeta, type Context } from '../trpc.ts';
import { requestIdOf } from './request-id.ts';

type Next = (err?: unknown) => void;

/** Query keys that would set an object's prototype instead of a field, and so slip past strict schemas. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Deeper JSON than any operation takes; the adapter re-serialises bodies recursively. */
const MAX_DEPTH = 32;

function tooDeep(value: unknown): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= MAX_DEPTH) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

/** What the REST adapter would mishandle: prototype keys in the query string, absurdly deep bodies. */
function requestProblem(req: IncomingMessage & { body?: unknown }): AppError | undefined {
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
  for (const key of query.keys()) {
    if (PROTOTYPE_KEYS.has(key))
      return new AppError('VALIDATION_FAILED', undefined, {
        issues: [{ path: key, message: `${key} is not a field of this operation` }],
      });
  }
  if (tooDeep(req.body))
    return new AppError('VALIDATION_FAILED', `The body is nested more than ${MAX_DEPTH} levels deep.`);
  return undefined;
}

/**
 * REST under /api/v1 through trpc-to-openapi. Its handler writes
 * `code: <tRPC code>` and "Input validation failed" into error bodies after
 * our error formatter has run, so this adapter remembers the error it saw in
 * `onError` and writes our own body (`{code, message, issues?, request_id}`) instead.
 */
export function createRestHandler(opts: {
  router: AnyRouter;
  createContext: (req: IncomingMessage, res: ServerResponse) => Context;
  onInternalError: (error: AppError, req: IncomingMessage) => void;
}) {
  const seen = new WeakMap<IncomingMessage, AppError>();
  const metas = proceduresMeta(opts.router);

  const handler = createOpenApiNodeHttpHandler({
    router: opts.router,
    // Node's http server: the response is a ServerResponse (trpc-to-openapi types it more widely).
    createContext: ({ req, res }) => opts.createContext(req, res as ServerResponse),
    onError: ({ error, req }) => {
      const appError = toAppError(error);
      seen.set(req, appError);
      if (appError.code === 'INTERNAL') opts.onInternalError(appError, req);
    },
    responseMeta: ({ paths, errors, ctx }) => {
      const [error] = errors;
      if (error) {
        const appError = toAppError(error);
        const headers: Record<string, string> = {};
        if (appError.retryAfter) headers['Retry-After'] = String(appError.retryAfter);
        return { status: appError.status, headers };
      }
      const path = paths?.[0];
      const chosen = (ctx as Context | undefined)?.successStatus.value;
      return { status: chosen ?? ((path && metas.get(path)?.successStatus) || 200) };
    },
  });

  return (req: IncomingMessage & { body?: unknown }, res: ServerResponse, next: Next) => {
    const problem = requestProblem(req);
    if (problem) return next(problem);
    // `curl -X POST .../logout` sends no body and no Content-Type; treat that as `{}`
    // rather than the adapter's 415.
    const hasBody =
      Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody && !req.headers['content-type'] && req.method !== 'GET' && req.method !== 'HEAD') {
      req.headers['content-type'] = 'application/json';
      req.body = {};
    }
    const end = res.end.bind(res) as (chunk?: unknown) => ServerResponse;
    res.end = ((chunk?: unknown) => {
      const appError = seen.get(req);
      return end(appError ? JSON.stringify(appError.toBody(requestIdOf(req))) : chunk);
    }) as ServerResponse['end'];
    handler(req, res, next).catch(next);
  };
}
