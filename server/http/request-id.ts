import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- express's own way to type res.locals
  namespace Express {
    interface Locals {
      /**
       * This request's id, for handlers outside http/ (OAuth callback, Meta's webhooks): they read
       * it here, from express's per-request context, instead of importing this module.
       */
      requestId: string;
    }
  }
}

/** What a proxy or client may send us as its own id: short, printable, no spaces. */
const WELL_FORMED = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

const ids = new WeakMap<IncomingMessage, string>();

/**
 * Gives every request an id: the incoming `X-Request-Id` when it is well
 * formed (so one id follows a request through a proxy), otherwise a new
 * UUID. It is sent back as `X-Request-Id`, logged with the request and put in
 * every error body, so a user can quote it.
 */
export function assignRequestId(req: Request, res: Response, next: NextFunction): void {
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && WELL_FORMED.test(incoming) ? incoming : randomUUID();
  ids.set(req, id);
  res.locals.requestId = id;
  res.setHeader('X-Request-Id', id);
  next();
}

export function requestIdOf(req: IncomingMessage): string {
  let id = ids.get(req);
  if (!id) {
    // Answered before the middleware ran (Node's own errors): still give it an id.
    id = randomUUID();
    ids.set(req, id);
  }
  return id;
}
