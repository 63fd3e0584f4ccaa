import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createTokenCipher, decodeKey } from '../../server/crypto/token-cipher.ts';
import { freePort } from '../../server/db/embedded.ts';
import { parseEnv, type Env } from '../../server/env.ts';
import { createApp } from '../../server/http/app.ts';
import { createHttpServer, listen } from '../../server/http/server.ts';
import type { Logger } from '../../server/logger.ts';
import type { Resolver } from '../../server/net/public-address.ts';
import type { ServeLimits } from '../../server/media/serve.ts';
import { buildOpenApiDocument } from '../../server/openapi.ts';
import { createTestDatabase, type TestDatabase } from './db.ts';

export interface TestServer {
  baseUrl: string;
  database: TestDatabase;
  env: Env;
  /** Every log line the server wrote, as text. */
  logs(): string;
  close(): Promise<void>;
}

/** A logger that keeps its lines in memory so tests can assert what was (not) logged. */
export function captureLogger(): { logger: Logger; text: () => string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), text: () => lines.join('') };
}

/** The real express app on a free port, over its own fresh database. */
export async function startTestServer(
  envOverrides: Record<string, string> = {},
  opts: {
    idleTimeoutMs?: number;
    /** Serve another server's database (a second API process); it is not dropped at close. */
    databaseOf?: TestServer;
    /** How host names resolve for URL checks (a name that points at loopback). */
    resolver?: Resolver;
    /** Lower limits on downloads of /m/. */
    serveLimits?: Partial<ServeLimits>;
  } = {},
): Promise<TestServer> {
  const database = opts.databaseOf?.database ?? (await createTestDatabase());
  // The port is known before the app is made, so PUBLIC_URL (OAuth's callback) points at this server.
  const port = await freePort();
  const env = parseEnv({
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    LOG_LEVEL: 'debug',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    // Most tests use made-up media URLs with no network to fetch them from; pre-flight tests turn it on.
    MEDIA_PREFLIGHT: 'off',
    ...envOverrides,
  });
  const { logger, text } = captureLogger();
  const cipher = createTokenCipher(env.ENCRYPTION_KEY ? decodeKey(env.ENCRYPTION_KEY)! : randomBytes(32));
  const app = createApp({
    database,
    env,
    logger,
    cipher,
    openApiDocument: buildOpenApiDocument(),
    ...(opts.resolver ? { resolver: opts.resolver } : {}),
    ...(opts.serveLimits ? { serveLimits: opts.serveLimits } : {}),
  });
  const server = createHttpServer(app, opts);
  await listen(server, port, '127.0.0.1');
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    database,
    env,
    logs: text,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (!opts.databaseOf) await database.drop();
    },
  };
}
