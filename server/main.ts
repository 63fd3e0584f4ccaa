import { tokenCipherFromEnv } from './crypto/token-cipher.ts';
import { FakeGraph } from './graph/fake-graph.ts';
import { createMeta } from './instagrams/meta.ts';
import { startWorker, webhooksConfigured } from './worker/worker.ts';
import { connect } from './db/client.ts';
import { isDatabaseUnavailable } from './db/unavailable.ts';
import { migrateDatabase } from './db/migrate.ts';
import { resolveDatabaseUrl } from './db/resolve.ts';
import { ConfigError, parseEnv, type Env } from './env.ts';
import { createApp } from './http/app.ts';
import { createHttpServer, listen } from './http/server.ts';
import { createLogger, describeError } from './logger.ts';
import { buildOpenApiDocument } from './openapi.ts';

/** How long running requests and jobs get to finish after SIGTERM/SIGINT. */
const SHUTDOWN_GRACE_MS = 10_000;

function loadEnv(): Env {
  try {
    return parseEnv();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const env = loadEnv();
  const logger = createLogger(env.LOG_LEVEL);
  const stops: (() => Promise<void>)[] = [];
  let stopping = false;
  /** Stops everything in order; exits with `code` (1 when a part failed on its own). */
  const shutdown = (reason: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      logger.warn('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS + 5_000);
    timer.unref();
    void (async () => {
      for (const stop of stops) {
        try {
          await stop();
        } catch (error) {
          logger.error(describeError(error), 'error during shutdown');
        }
      }
      logger.info('stopped');
      process.exit(code);
    })();
  };

  const dbHandle = await resolveDatabaseUrl(env, logger);
  stops.unshift(dbHandle.stop);
  await migrateDatabase(dbHandle.url);
  const timeoutMs = env.DATABASE_TIMEOUT * 1000;
  // The API and the worker each have their own pool: a burst of publishing (or a database that is
  // failing under it) never leaves API requests waiting in line behind publishing runs.
  const database = connect(dbHandle.url, { max: 10, timeoutMs });
  stops.unshift(database.close);
  const cipher = tokenCipherFromEnv(env, logger);

  let meta = createMeta(env);
  let sandbox: FakeGraph | undefined;
  if (env.GRAPH_API_URL === 'sandbox') {
    // Meta simulated in-process: publishing and connecting accounts work without credentials. The
    // browser reaches its sign-in pages through our own /sandbox/meta.
    sandbox = new FakeGraph({ latencyMs: 150, videoReadsUntilFinished: 3, sandbox: true });
    await sandbox.start();
    // The simulated Meta downloads the uploads of posts it publishes, as the real one would.
    sandbox.fetchMedia = (url) => url.startsWith(`${env.PUBLIC_URL}/m/`);
    const fake = sandbox;
    stops.push(() => fake.stop());
    const urls = sandbox.urls();
    const browser = `${env.PUBLIC_URL}/sandbox/meta`;
    meta = createMeta(env, {
      hosts: {
        graph: urls.GRAPH_API_URL,
        instagramGraph: urls.INSTAGRAM_GRAPH_URL,
        instagramToken: urls.INSTAGRAM_TOKEN_URL,
        instagramAuth: `${browser}/ig-www/oauth/authorize`,
        facebookAuth: `${browser}/fb-www/${sandbox.version}/dialog/oauth`,
      },
      apps: sandbox.apps,
    });
    logger.warn(
      { graphUrl: urls.GRAPH_API_URL },
      'GRAPH_API_URL=sandbox: accounts and posts go to a simulated Meta, whose sign-in approves at once',
    );
  }

  if (env.ROLE === 'all' || env.ROLE === 'worker') {
    // Running jobs hold a connection each.
    const workerDatabase = connect(dbHandle.url, {
      max: env.WORKER_CONCURRENCY + env.WORKER_BACKGROUND_CONCURRENCY + 2,
      timeoutMs,
    });
    stops.unshift(workerDatabase.close);
    const worker = await startWorker({
      url: dbHandle.url,
      db: workerDatabase.db,
      meta,
      cipher,
      logger,
      webhooks: { allowPrivate: env.WEBHOOK_ALLOW_PRIVATE_HOSTS },
      channels: {
        pollIntervalS: env.COMMENT_POLL_INTERVAL,
        webhooksConfigured: webhooksConfigured(env, meta),
      },
      media: {
        mode: env.MEDIA_PREFLIGHT,
        allowPrivate: env.MEDIA_ALLOW_PRIVATE_HOSTS,
        publicUrl: env.PUBLIC_URL,
        retentionMs: env.MEDIA_RETENTION * 1000,
      },
      concurrency: env.WORKER_CONCURRENCY,
      backgroundConcurrency: env.WORKER_BACKGROUND_CONCURRENCY,
      pollIntervalMs: env.WORKER_POLL_INTERVAL_MS,
      databaseTimeoutMs: timeoutMs,
      // Without its pool the process would answer the API but publish nothing: stop, and let the
      // service manager start it again.
      onPoolStopped: () => shutdown('the worker pool stopped unexpectedly', 1),
    });
    stops.unshift(() => worker.stop());
  }

  if (env.ROLE === 'all' || env.ROLE === 'api') {
    const counters = connect(dbHandle.url, { max: 4, synchronousCommit: false, timeoutMs });
    stops.unshift(counters.close);
    const app = createApp({
      database,
      counters: counters.db,
      env,
      logger,
      cipher,
      meta,
      sandbox,
      openApiDocument: buildOpenApiDocument(),
    });
    const server = createHttpServer(app);
    await listen(server, env.PORT, env.HOST);
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : env.PORT;
    logger.info({ host: env.HOST, port, role: env.ROLE }, `listening on http://${env.HOST}:${port}`);
    stops.unshift(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        }),
    );
  }

  // A database call whose failure nobody awaited (the fault tests saw a 57P01 reach here when
  // backends were terminated mid-transaction) must not end the process: the work it belonged to
  // is retried by its job or reconcile. Anything else unhandled is a bug: stop cleanly and let the service
  // manager start us again, as Node would (less abruptly).
  process.on('unhandledRejection', (reason) => {
    if (isDatabaseUnavailable(reason)) {
      logger.warn(describeError(reason), 'a database call failed with nobody waiting for it');
      return;
    }
    logger.fatal(describeError(reason), 'unhandled rejection');
    shutdown('unhandled rejection', 1);
  });

  // Node passes the signal's number as a second argument: not an exit code.
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
