import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSession } from '../server/auth/sessions.ts';
import { createUser } from '../server/auth/users.ts';
import { connect } from '../server/db/client.ts';
import {
  ensureDatabase,
  freePort,
  startEmbeddedPostgres,
  type EmbeddedDatabase,
} from '../server/db/embedded.ts';
import { migrateDatabase } from '../server/db/migrate.ts';
import { FakeGraph } from '../server/graph/fake-graph.ts';
import { createLogger } from '../server/logger.ts';
import { jsonClient } from './helpers/http.ts';
import { GRAPH_TOKEN } from './helpers/post-fixtures.ts';
import { waitFor } from './helpers/wait.ts';

/**
 * The service's own PostgreSQL is stopped in the middle of a burst and
 * started again: the process must stay up, answer 503 meanwhile, and publish
 * every post exactly once afterwards. It gets a cluster of its own, since
 * stopping the suite's shared one would break the other files.
 */
describe('a database outage in the middle of a burst', () => {
  const logger = createLogger('warn', 2);
  let dataDir: string;
  let pgPort: number;
  let cluster: EmbeddedDatabase | undefined;
  let fake: FakeGraph;
  let child: ChildProcess | undefined;
  let output = '';
  const startCluster = async () => {
    cluster = await startEmbeddedPostgres({
      dir: path.join(dataDir, 'pg'),
      logger,
      port: pgPort,
      settings: { fsync: 'off', synchronous_commit: 'off' },
    });
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'autopost-outage-'));
    chmodSync(dataDir, 0o755);
    pgPort = await freePort();
    await startCluster();
    fake = new FakeGraph({ latencyMs: 150 });
    await fake.start();
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await fake?.stop();
    await cluster?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stays up, answers 503 while the database is down, and publishes every post exactly once', async () => {
    const url = cluster!.urlFor('outage');
    await ensureDatabase(cluster!.adminUrl, 'outage');
    await migrateDatabase(url);
    const setup = connect(url, { max: 2 });
    const user = await createUser(setup.db, { username: 'outage@example.com', password: 'long enough' });
    const { token } = await createSession(setup.db, { userId: user.id, kind: 'api', ttlSeconds: 3600 });
    await setup.close();

    const port = await freePort();
    child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: {
        ...process.env,
        ROLE: 'all',
        PORT: String(port),
        DATABASE_URL: url,
        GRAPH_API_URL: fake.url,
        ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        WORKER_CONCURRENCY: '5',
        WORKER_POLL_INTERVAL_MS: '200',
        LOG_LEVEL: 'warn',
        // Made-up media URLs, no network to fetch them from.
        MEDIA_PREFLIGHT: 'off',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    let exitCode: number | null = null;
    child.once('exit', (code) => (exitCode = code));
    const base = `http://127.0.0.1:${port}`;
    await waitFor(
      'the service to answer',
      async () => (await fetch(`${base}/readyz`).catch(() => null))?.ok,
      30_000,
    );

    const api = jsonClient(`${base}/api/v1`);
    const total = 40;
    const due = new Date(Date.now() + 2000).toISOString();
    for (let i = 0; i < total; i++) {
      const res = await api('POST', '/posts', {
        body: {
          user_id: String(9100 + (i % 4)),
          content_type: 'Photo',
          url: 'https://cdn.example.com/a.jpg',
          caption: `outage #${i}`,
          token: GRAPH_TOKEN,
          date_pub: due,
        },
        token,
      });
      expect(res.status).toBe(201);
    }
    await waitFor('some posts published', () => fake.media.length >= 5, 30_000, 20);

    await cluster!.stop();
    cluster = undefined;
    // While the database is away: the process lives, /readyz and the API say 503.
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      expect(exitCode, output.slice(-3000)).toBeNull();
    }
    const ready = await jsonClient(base)('GET', '/readyz');
    expect(ready.status).toBe(503);
    for (const [method, path, body] of [
      ['GET', '/posts', undefined],
      [
        'POST',
        '/posts',
        { user_id: '9100', content_type: 'Photo', url: 'https://cdn.example.com/b.jpg', token: GRAPH_TOKEN },
      ],
    ] as const) {
      const during = await api(method, path, { token, body });
      expect(during.status, `${method} ${path}`).toBe(503);
      expect(during.body.code).toBe('SERVICE_UNAVAILABLE');
      expect(during.headers.get('retry-after')).toBe('5');
    }

    await startCluster();
    await waitFor('the service to be ready again', async () => (await fetch(`${base}/readyz`)).ok, 30_000);
    const check = postgres(url, { max: 1 });
    try {
      await waitFor(
        'every post published',
        async () =>
          (await check`select count(*)::int as n from posts where status = 'published'`)[0]!.n === total,
        90_000,
        250,
      );
    } catch (error) {
      const states = await check`select status, count(*)::int as n from posts group by 1`;
      throw new Error(`${String(error)}; posts: ${JSON.stringify(states)}; log: ${output.slice(-2000)}`);
    } finally {
      await check.end();
    }
    for (let i = 0; i < total; i++)
      expect(fake.mediaWithCaption(`outage #${i}`), `post ${i}`).toHaveLength(1);
    expect(exitCode).toBeNull();
    // The outage was logged, without query parameters or the database's address.
    expect(output).toContain('ECONNREFUSED');
    expect(output).not.toContain('params:');
    expect(output).not.toContain(`:${pgPort}`);
  }, 180_000);
});
