import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPublisherEnv, waitFor, type PublisherEnv } from './helpers/publisher.ts';
import { GRAPH_TOKEN } from './helpers/post-fixtures.ts';
import { userWithToken } from './helpers/users.ts';

let env: PublisherEnv;
beforeAll(async () => {
  // Every Graph call takes 80 ms: 5 workers publish about 4 posts a second, so a burst queues.
  env = await startPublisherEnv({ fake: { latencyMs: 80 } });
});
afterAll(() => env.close());

const post = (igUser: string, caption: string) => ({
  user_id: igUser,
  content_type: 'Photo',
  url: 'https://cdn.example.com/a.jpg',
  caption,
  token: GRAPH_TOKEN,
});

describe('fair publishing between users', () => {
  it("publishes another user's due post ahead of most of one user's burst", async () => {
    const burst = 40;
    // The queue is filled while no worker runs, so how fast posts are created (a loaded machine)
    // does not decide how much of the burst is out before the other user's post exists.
    await env.workers.shift()!.stop();
    // One user's burst, spread over accounts so Meta's per-account quota does not interfere.
    for (let i = 0; i < burst; i++) {
      const res = await env.api('POST', '/posts', {
        body: post(String(7100 + (i % 8)), `burst #${i}`),
        token: env.token,
      });
      expect(res.status).toBe(201);
    }
    const other = await userWithToken(env.server.database.db);
    const res = await env.api('POST', '/posts', { body: post('7200', 'the other user'), token: other.token });
    expect(res.status).toBe(201);
    await env.startWorker();

    await waitFor(
      'the other user’s post published',
      () => env.fake.mediaWithCaption('the other user').length === 1,
      30_000,
      20,
    );
    const burstDoneBefore = env.fake.media.filter((m) => m.caption?.startsWith('burst #')).length;
    // Without priorities it would wait for the whole burst (first come, first served).
    expect(burstDoneBefore).toBeLessThan(burst / 2);
    await waitFor('the burst published', () => env.fake.media.length === burst + 1, 60_000);
  });

  it("gives a job its place in its owner's queue as its priority", async () => {
    const user = await userWithToken(env.server.database.db);
    const at = '2031-05-05T10:00:00Z';
    const ids: number[] = [];
    for (const [i, date_pub] of [at, at, '2031-05-05T09:00:00Z', at].entries()) {
      const res = await env.api('POST', '/posts', {
        body: { ...post(String(7300 + i), `queued ${i}`), date_pub },
        token: user.token,
      });
      ids.push(res.body.id);
    }
    const rows = await env.server.database.sql<{ key: string; priority: number }[]>`
      select key, priority from graphile_worker.jobs where key = any(${ids.map((id) => `post:${id}`)})`;
    const byId = new Map(rows.map((r) => [r.key, r.priority]));
    // 10:00, 10:00 (one before it), 09:00 (none before), 10:00 (three at or before it).
    expect(ids.map((id) => byId.get(`post:${id}`))).toEqual([0, 1, 0, 3]);
  });
});
