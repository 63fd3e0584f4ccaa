/**
 * Webhook deliveries take turns between users (issue 21), as posts do: one
 * user's thousands of deliveries do not go ahead of another user's.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPublisherEnv, waitFor, type PublisherEnv } from './helpers/publisher.ts';
import { userWithToken } from './helpers/users.ts';

let env: PublisherEnv;
// Who was delivered to, in order (the path names the endpoint's owner).
const arrivals: string[] = [];
const receiver = http.createServer((req, res) => {
  arrivals.push(req.url ?? '');
  req.resume();
  setTimeout(() => res.end('ok'), 50);
});

beforeAll(async () => {
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  env = await startPublisherEnv({
    env: { WEBHOOK_ALLOW_PRIVATE_HOSTS: 'true' },
    // One slot in the background lane: deliveries go out one at a time, in graphile-worker's order.
    worker: { webhooks: { allowPrivate: true }, backgroundConcurrency: 1 },
  });
});
afterAll(async () => {
  receiver.close();
  await env.close();
});

describe('webhook deliveries of a busy user', () => {
  it("take turns with another user's: the other user's delivery goes out among the first", async () => {
    const port = (receiver.address() as AddressInfo).port;
    const other = await userWithToken(env.server.database.db);
    const endpoint = async (token: string, who: string) => {
      const res = await env.api('POST', '/webhooks', {
        body: { url: `http://127.0.0.1:${port}/${who}`, events: ['post.published'] },
        token,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.id as number;
    };
    const busy = await endpoint(env.token, 'busy');
    const calm = await endpoint(other.token, 'calm');
    // The queue is filled while no worker runs, so the order is graphile-worker's, not the test's timing.
    await env.workers.shift()!.stop();
    for (let i = 0; i < 30; i++) {
      const res = await env.api('POST', `/webhooks/${busy}/test`, { token: env.token });
      expect(res.status).toBe(200);
    }
    expect((await env.api('POST', `/webhooks/${calm}/test`, { token: other.token })).status).toBe(200);
    arrivals.length = 0;
    await env.startWorker();
    await waitFor('the other user’s delivery', () => arrivals.includes('/calm'), 20_000);
    // One slot in the background lane: arrivals are in priority order. Without turns it would be 31st.
    expect(arrivals.indexOf('/calm')).toBeLessThan(3);
  }, 60_000);
});
