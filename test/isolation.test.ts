/**
 * Lanes (issue 21): webhook receivers that never answer fill the background
 * lane's slots at most. Publishing has its own slots, so posts due meanwhile
 * go out on time.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPH_TOKEN } from './helpers/post-fixtures.ts';
import { startPublisherEnv, waitFor, type PublisherEnv } from './helpers/publisher.ts';

let env: PublisherEnv;
// Accepts every delivery and never answers: each holds its job for the send timeout.
const tarpit = http.createServer(() => undefined);
let held = 0;
tarpit.on('request', () => held++);

beforeAll(async () => {
  await new Promise<void>((r) => tarpit.listen(0, '127.0.0.1', r));
  env = await startPublisherEnv({
    env: { WEBHOOK_ALLOW_PRIVATE_HOSTS: 'true' },
    worker: { webhooks: { allowPrivate: true, timeoutMs: 20_000 } },
  });
});
afterAll(async () => {
  tarpit.closeAllConnections();
  tarpit.close();
  await env.close();
});

const post = (caption: string) => ({
  user_id: '7300',
  content_type: 'Photo',
  url: 'https://cdn.example.com/a.jpg',
  caption,
  token: GRAPH_TOKEN,
});

describe('a receiver that never answers', () => {
  it('holds background slots only: posts due meanwhile are published within seconds', async () => {
    const port = (tarpit.address() as AddressInfo).port;
    for (let i = 0; i < 10; i++) {
      const res = await env.api('POST', '/webhooks', {
        body: { url: `http://127.0.0.1:${port}/hook/${i}`, events: ['post.published'] },
        token: env.token,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    // Two published posts: 20 deliveries to the tarpit, each held for 20 s.
    for (const caption of ['first', 'second']) {
      const res = await env.api('POST', '/posts', { body: post(caption), token: env.token });
      expect(res.status).toBe(201);
    }
    await waitFor('every background slot held by the tarpit', () => held >= 5, 15_000);

    // Now posts come due: the publishing lane is free, whatever the tarpit holds.
    const started = Date.now();
    for (let i = 0; i < 5; i++) {
      const res = await env.api('POST', '/posts', {
        body: post(`during the tarpit #${i}`),
        token: env.token,
      });
      expect(res.status).toBe(201);
    }
    await waitFor(
      'the five posts published',
      () => [0, 1, 2, 3, 4].every((i) => env.fake.mediaWithCaption(`during the tarpit #${i}`).length === 1),
      10_000,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 60_000);
});
