export { waitFor } from './wait.ts';
import { createTokenCipher, type TokenCipher } from '../../server/crypto/token-cipher.ts';
import { FakeGraph, type FakeGraphOptions } from '../../server/graph/fake-graph.ts';
import { createMeta } from '../../server/instagrams/meta.ts';
import type { PublisherSettings } from '../../server/publisher/types.ts';
import {
  startWorker as startJobWorker,
  type Worker,
  type WorkerOptions,
} from '../../server/worker/worker.ts';
import { randomBytes } from 'node:crypto';
import { captureLogger, startTestServer, type TestServer } from './server.ts';
import { jsonClient } from './http.ts';
import { userWithToken } from './users.ts';

/** Fast retries and polls so tests run in seconds; the logic is the same. */
const TEST_SETTINGS: Partial<PublisherSettings> = {
  retryDelayMs: 50,
  pollDelayMs: 200,
  deadWorkerMs: 3_000,
  // A publish request that got no answer blocks other runs' publishing for this long (60 s in production).
  publishInFlightMs: 2_000,
};

export interface PublisherEnv {
  server: TestServer;
  fake: FakeGraph;
  api: ReturnType<typeof jsonClient>;
  token: string;
  /** The server's and the workers' cipher, for tests that call services directly. */
  cipher: TokenCipher;
  workers: Worker[];
  startWorker(settings?: Partial<PublisherSettings>): Promise<Worker>;
  close(): Promise<void>;
}

/** The API, a real graphile-worker publishing process (in this process) and the fake Graph over HTTP. */
export async function startPublisherEnv(
  opts: {
    fake?: FakeGraphOptions;
    settings?: Partial<PublisherSettings>;
    env?: Record<string, string>;
    /** Other worker options (webhook sending). */
    worker?: Partial<WorkerOptions>;
  } = {},
): Promise<PublisherEnv> {
  const fake = new FakeGraph(opts.fake);
  await fake.start();
  const key = randomBytes(32);
  const cipher = createTokenCipher(key);
  const server = await startTestServer({
    ENCRYPTION_KEY: key.toString('base64'),
    ...fake.env(),
    ...opts.env,
  });
  const user = await userWithToken(server.database.db);
  const workers: Worker[] = [];
  const startWorker = async (settings?: Partial<PublisherSettings>) => {
    const worker = await startJobWorker({
      url: server.database.url,
      db: server.database.db,
      meta: createMeta(server.env, { timeoutMs: 2_000 }),
      cipher,
      logger: captureLogger().logger,
      concurrency: 5,
      pollIntervalMs: 100,
      heartbeatMs: 500,
      settings: { ...TEST_SETTINGS, ...opts.settings, ...settings },
      media: {
        mode: server.env.MEDIA_PREFLIGHT,
        allowPrivate: server.env.MEDIA_ALLOW_PRIVATE_HOSTS,
        publicUrl: server.env.PUBLIC_URL,
      },
      ...opts.worker,
    });
    workers.push(worker);
    return worker;
  };
  await startWorker();
  return {
    server,
    fake,
    api: jsonClient(`${server.baseUrl}/api/v1`),
    token: user.token,
    cipher,
    workers,
    startWorker,
    async close() {
      for (const w of workers) await w.stop();
      await fake.stop();
      await server.close();
    },
  };
}
