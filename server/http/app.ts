import type { IncomingMessage, ServerResponse } from 'node:http';
import { createExpressMiddleware } from '@trpc/server/adapters/express';
import express, { type ErrorRequestHandler, type Request } from 'express';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import helmet from 'helmet';
import swaggerUi from 'swagger-ui-express';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import type { Database, Db } from '../db/client.ts';
import type { Env } from '../env.ts';
import { databaseFailedWithin } from '../db/health.ts';
import { AppError, toAppError } from '../errors.ts';
import { describeError, type Logger } from '../logger.ts';
import { createApiRateLimit, createLoginThrottle } from '../auth/throttle.ts';
import type { FakeGraph } from '../graph/fake-graph.ts';
import { createMeta, type MetaClient } from '../instagrams/meta.ts';
import { oauthCallback } from '../instagrams/oauth.ts';
import { receiveDelivery, verifySubscription } from '../channels/intake.ts';
import { sandboxComment } from '../channels/sandbox.ts';
import { DEFAULT_SERVE_LIMITS, ROBOTS_TXT, serveMedia, type ServeLimits } from '../media/serve.ts';
import { postgresMediaStore, type MediaStore } from '../media/store.ts';
import { uploadHandler } from '../media/upload.ts';
import type { Resolver } from '../net/public-address.ts';
import type { WaitingCounts } from '../posts/publish-limit.ts';
import { appRouter } from '../router.ts';
import { createContextInner, tokenFromHeader } from '../trpc.ts';
import { installHooks } from '../hooks.ts';
import { assignRequestId, requestIdOf } from './request-id.ts';
import { createRestHandler } from './rest.ts';
import { restRoutes } from './routes.ts';

/** Largest JSON body accepted on either transport. */
const MAX_BODY_BYTES = 100 * 1024;

/** Meta batches up to 1,000 changes in a delivery (about 0.5 MB); the signature is checked over all of it. */
const MAX_WEBHOOK_BYTES = 2 * 1024 * 1024;

/** Seed 002 wrote `/intagram/…` and `/instagram/…` for channels: aliases, left out of openapi.json. */
const SEED_CHANNEL_PATH = /^\/(?:intagram|instagram)\/([^/]+\/channels(?:\/.*)?)$/;

/** Most calls in one tRPC batch (the SDK's client sets the same `maxItems`); larger batches get 400. */
const MAX_BATCH_SIZE = 50;

export interface AppDeps {
  database: Database;
  env: Env;
  logger: Logger;
  cipher: TokenCipher;
  /**
   * Where rate-limit counters are written; default the main pool. npm start
   * gives them a pool with synchronous_commit off: a counter lost in a crash
   * costs nothing, a disk flush on every request costs milliseconds.
   */
  counters?: Db;
  /** The OpenAPI document served at /openapi.json. */
  openApiDocument?: object;
  /** Meta's hosts; default from the environment (main.ts passes the sandbox's). */
  meta?: MetaClient;
  /** How host names are resolved for URL checks; tests inject one. */
  resolver?: Resolver;
  /** Where uploads are kept; default PostgreSQL (server/media/store.ts). */
  mediaStore?: MediaStore;
  /** GRAPH_API_URL=sandbox: the simulated Meta, whose sign-in pages are served under /sandbox/meta. */
  sandbox?: FakeGraph;
  /** How many downloads of /m/ run at once and how long idle readers are kept; tests lower them. */
  serveLimits?: Partial<ServeLimits>;
}

/** After an early 503: the handler still running later finds a response that ignores it. */
function abandon(res: ServerResponse): void {
  res.setHeader = () => res;
  res.writeHead = () => res;
  res.write = () => true;
  res.end = () => res;
}

function sendError(req: IncomingMessage, res: express.Response, error: AppError): void {
  if (error.retryAfter) res.setHeader('Retry-After', String(error.retryAfter));
  // Typed here: a handler may have set another type for the answer it meant (a file's image/jpeg).
  res
    .status(error.status)
    .type('application/json')
    .json(error.toBody(requestIdOf(req)));
}

/**
 * Callers of Meta's webhook URL whose signatures fail, counted per address:
 * past BAD_SIGNATURES a minute, their requests are refused before the body
 * is read or an HMAC computed, so a flood of large badly signed bodies costs
 * nothing. Meta signs every delivery, so Meta's own addresses never get here.
 * In memory: each process protects itself.
 */
const BAD_SIGNATURES = 20;

function refuseBadSigners(): express.RequestHandler {
  const failures = new RateLimiterMemory({ points: BAD_SIGNATURES, duration: 60 });
  return (req, res, next) => {
    const address = req.ip ?? 'unknown';
    void failures.get(address).then((state) => {
      if (state && state.consumedPoints >= BAD_SIGNATURES) {
        const retryAfter = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
        // The body is not read: the connection ends with the answer.
        res.setHeader('Connection', 'close');
        sendError(
          req,
          res,
          new AppError('TOO_MANY_REQUESTS', 'Too many badly signed deliveries from this address.', {
            retryAfter,
          }),
        );
        return;
      }
      res.once('finish', () => {
        if (res.statusCode === 401) failures.consume(address).catch(() => undefined);
      });
      next();
    }, next);
  };
}

export function createApp(deps: AppDeps): express.Express {
  const { database, env, logger } = deps;
  installHooks();
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', env.TRUST_PROXY);
  app.use(assignRequestId);
  app.use(helmet());
  // One line per request with method, path, status and duration. Never headers (tokens),
  // query strings or bodies. Plain rather than pino-http: its per-request child loggers
  // cost a measurable share of each request (bench/REPORT.md).
  app.use((req, res, next) => {
    // Read now: inside a mounted router express strips the mount path from req.path.
    const path = req.path;
    if (path === '/healthz' || path === '/readyz') return next();
    const started = performance.now();
    res.once('close', () => {
      const line = {
        method: req.method,
        path,
        status: res.statusCode,
        ms: Math.round(performance.now() - started),
        requestId: requestIdOf(req),
      };
      // The connection closed before the answer was sent (the client gave up, or we never answered).
      if (!res.writableFinished) logger.warn({ ...line, status: null }, 'request ended without an answer');
      else logger.info(line, 'request completed');
    });
    next();
  });

  // Bounded waits (docs/operations.md, "Database faults"): a request still unanswered after
  // DATABASE_TIMEOUT while the database is failing gets its 503 now; whatever it was waiting for
  // finishes or fails in the background, and what it would then send is dropped. Uploads stream
  // for as long as their body takes, and are left alone.
  const timeoutMs = env.DATABASE_TIMEOUT * 1000;
  app.use((req, res, next) => {
    if (req.method === 'POST' && /^\/api\/v1\/media\/?$/.test(req.path)) return next();
    const timer = setTimeout(() => {
      if (res.headersSent || !databaseFailedWithin(timeoutMs)) return;
      sendError(
        req,
        res,
        new AppError('SERVICE_UNAVAILABLE', 'The database is not answering; try again shortly.', {
          retryAfter: 5,
        }),
      );
      abandon(res);
    }, timeoutMs + 250);
    res.once('close', () => clearTimeout(timer));
    next();
  });

  const counters = deps.counters ?? database.db;
  const loginThrottle = createLoginThrottle(counters);
  const apiRateLimit = env.API_RATE_LIMIT > 0 ? createApiRateLimit(counters, env.API_RATE_LIMIT) : null;
  const waitingCounts: WaitingCounts = new Map();
  const meta = deps.meta ?? createMeta(env);
  const createContext = (req: IncomingMessage, res: ServerResponse) => {
    return createContextInner({
      apiRateLimit,
      waitingCounts,
      meta,
      ...(deps.resolver ? { resolver: deps.resolver } : {}),
      setHeader: (name, value) => {
        if (!res.headersSent) res.setHeader(name, value);
      },
      db: database.db,
      env,
      cipher: deps.cipher,
      logger,
      loginThrottle,
      requestId: requestIdOf(req),
      token: tokenFromHeader(req.headers.authorization),
      idempotencyKey: req.headers['idempotency-key'],
      ip: (req as Request).ip,
    });
  };
  const logInternal = (error: AppError, req: IncomingMessage) =>
    logger.error(
      {
        method: req.method,
        path: req.url?.split('?')[0],
        requestId: requestIdOf(req),
        ...describeError(error.cause ?? error),
      },
      'unexpected error',
    );

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (req, res) => {
    try {
      await database.sql`select 1`;
      res.json({ status: 'ok' });
    } catch {
      sendError(
        req,
        res,
        new AppError('SERVICE_UNAVAILABLE', 'The database is not reachable.', { retryAfter: 5 }),
      );
    }
  });
  if (deps.openApiDocument) {
    const document = deps.openApiDocument;
    app.get('/openapi.json', (_req, res) => {
      res.json(document);
    });
    // An interactive reference; its assets come from the swagger-ui-dist package, not a CDN.
    app.use(
      '/docs',
      swaggerUi.serve,
      swaggerUi.setup(document, { customSiteTitle: 'Instagram autopost API' }),
    );
  }

  // A batch runs its calls at once on the shared pool: unbounded, a few big ones starve everyone.
  // Checked here rather than with tRPC's maxBatchSize so the refusal is our error body.
  app.use('/trpc', (req, res, next) => {
    if (req.query.batch !== undefined && req.path.split(',').length > MAX_BATCH_SIZE) {
      return sendError(
        req,
        res,
        new AppError('VALIDATION_FAILED', `A batch may hold at most ${MAX_BATCH_SIZE} calls.`),
      );
    }
    next();
  });
  app.use(
    '/trpc',
    createExpressMiddleware({
      router: appRouter,
      createContext: ({ req, res }) => createContext(req, res),
      maxBodySize: MAX_BODY_BYTES,
      onError: ({ error, req }) => {
        const appError = toAppError(error);
        if (appError.code === 'INTERNAL') logInternal(appError, req);
      },
    }),
  );

  if (deps.sandbox) {
    const fake = deps.sandbox;
    app.post(
      '/sandbox/comments',
      express.json({ limit: MAX_BODY_BYTES }),
      sandboxComment({ fake, createContext }),
    );
    app.use('/sandbox/meta', (req, res) => {
      void fake.handle(req, res);
    });
  }

  const mediaStore = deps.mediaStore ?? postgresMediaStore(database);
  app.get('/robots.txt', (_req, res) => {
    res.type('text/plain').send(ROBOTS_TXT);
  });
  // Public, no token: Meta's fetcher downloads the files of the posts it publishes from here.
  app.get('/m/:name', serveMedia(database.db, mediaStore, { ...DEFAULT_SERVE_LIMITS, ...deps.serveLimits }));
  // A file is read (GET, HEAD), never written here: another method is told so.
  app.all('/m/:name', (req, res) => {
    res.setHeader('Allow', 'GET, HEAD');
    sendError(
      req,
      res,
      new AppError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on a file: use GET or HEAD.`),
    );
  });
  // A file body, not JSON: outside tRPC (documented in openapi.json by scripts/openapi.ts).
  app.post(
    /^\/api\/v1\/media\/?$/,
    uploadHandler({ db: database.db, env, store: mediaStore, logger, createContext }),
  );

  // Meta's webhooks (comments for channels): the signature covers the raw bytes, so no JSON parser runs first.
  const intake = {
    db: database.db,
    logger,
    verifyToken: env.WEBHOOK_VERIFY_TOKEN,
    secrets: [meta.apps.instagram?.secret, meta.apps.facebook?.secret].filter((s): s is string => !!s),
  };
  app.get('/webhooks/instagram', verifySubscription(intake));
  app.post(
    '/webhooks/instagram',
    refuseBadSigners(),
    express.raw({ type: () => true, limit: MAX_WEBHOOK_BYTES }),
    (req, res, next) => {
      receiveDelivery(intake)(req, res).catch(next);
    },
  );

  // Meta's redirect after sign-in: a browser, not an API client, so a redirect or an HTML page.
  app.get(/^\/api\/v1\/oauth\/(?<loginType>instagram|facebook)\/callback\/?$/, (req, res, next) => {
    oauthCallback({ db: database.db, meta, cipher: deps.cipher, logger })(req, res).catch(next);
  });

  const routes = restRoutes(appRouter, [{ method: 'POST', path: '/media' }]);
  app.use(
    '/api/v1',
    (req, _res, next) => {
      const seed = SEED_CHANNEL_PATH.exec(req.path);
      if (seed) req.url = `/instagrams/${seed[1]}${req.url.slice(req.path.length)}`;
      // HEAD is GET without the body (Node leaves the body out of a HEAD response by itself).
      if (req.method === 'HEAD' && routes.methodsFor(req.path).includes('GET')) req.method = 'GET';
      next();
    },
    express.json({ limit: MAX_BODY_BYTES }),
    createRestHandler({ router: appRouter, createContext, onInternalError: logInternal }),
  );

  app.use('/api/v1', (req, res, next) => {
    const allowed = routes.methodsFor(req.path);
    if (allowed.length === 0) return next();
    res.setHeader('Allow', [...allowed, ...(allowed.includes('GET') ? ['HEAD'] : [])].join(', '));
    sendError(
      req,
      res,
      new AppError('METHOD_NOT_ALLOWED', `${req.method} is not allowed here; use ${allowed.join(' or ')}.`),
    );
  });
  app.use((req, res) => {
    sendError(req, res, new AppError('NOT_FOUND'));
  });

  const onError: ErrorRequestHandler = (error: unknown, req, res, _next) => {
    const type = (error as { type?: string }).type;
    let appError: AppError;
    if (type === 'entity.parse.failed') appError = new AppError('MALFORMED_JSON');
    else if (type === 'entity.too.large')
      appError = new AppError(
        'PAYLOAD_TOO_LARGE',
        `The request body is larger than ${((error as { limit?: number }).limit ?? MAX_BODY_BYTES) / 1024} KiB.`,
      );
    else if (type === 'encoding.unsupported' || type === 'charset.unsupported')
      appError = new AppError('UNSUPPORTED_MEDIA_TYPE');
    // body-parser's other 400s: a compressed body that does not decode, a body cut short.
    else if (!(error instanceof AppError) && (error as { status?: unknown }).status === 400)
      appError = new AppError(
        'MALFORMED_JSON',
        'The request body could not be read; check its Content-Encoding.',
      );
    else appError = toAppError(error);
    if (appError.code === 'INTERNAL') logInternal(appError, req);
    if (res.headersSent) return;
    sendError(req, res, appError);
  };
  app.use(onError);
  return app;
}
