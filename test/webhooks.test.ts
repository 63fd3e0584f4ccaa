import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMeta } from '../server/instagrams/meta.ts';
import { refreshDueAccounts } from '../server/instagrams/refresh.ts';
import { deliverWebhook } from '../server/webhooks/deliver.ts';
import { emitWebhookEvent } from '../server/webhooks/outbox.ts';
import { jsonClient } from './helpers/http.ts';
import { GRAPH_TOKEN } from './helpers/post-fixtures.ts';
import { startPublisherEnv, waitFor, type PublisherEnv } from './helpers/publisher.ts';
import { captureLogger, startTestServer } from './helpers/server.ts';
import { userWithToken } from './helpers/users.ts';

/** A receiver on loopback: records what arrives, answers as told (200 by default). */
interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}
type Behaviour = number | 'hang' | { redirect: string };

class Receiver {
  readonly received: Received[] = [];
  private plan: Behaviour[] = [];
  private server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      this.received.push({
        path: req.url ?? '/',
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body,
        at: Date.now(),
      });
      const next = this.plan.shift() ?? 200;
      if (next === 'hang') return; // never answers
      if (typeof next === 'object') {
        res.writeHead(302, { location: next.redirect }).end();
        return;
      }
      res.writeHead(next, { 'content-type': 'text/plain' }).end(next === 200 ? 'thanks' : 'x'.repeat(5000));
    });
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  answer(...plan: Behaviour[]): void {
    this.plan.push(...plan);
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

let env: PublisherEnv;
const receiver = new Receiver();
const elsewhere = new Receiver();

beforeAll(async () => {
  await receiver.start();
  await elsewhere.start();
  env = await startPublisherEnv({
    env: { WEBHOOK_ALLOW_PRIVATE_HOSTS: 'true' },
    worker: {
      webhooks: { allowPrivate: true, timeoutMs: 500, retryDelaysMs: [100, 100, 100, 100, 100, 100, 100] },
    },
  });
});
afterAll(async () => {
  await env.close();
  await receiver.stop();
  await elsewhere.stop();
});
beforeEach(() => {
  receiver.received.length = 0;
});

let paths = 0;
/** A webhook endpoint of env's user, at its own path on the receiver. */
async function endpoint(events: string[], token = env.token) {
  const path = `/hook-${++paths}`;
  const res = await env.api('POST', '/webhooks', { body: { url: `${receiver.url}${path}`, events }, token });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.id as number, secret: res.body.secret as string, path };
}

async function ownerOf(endpointId: number): Promise<number> {
  const [row] = await env.server.database.sql<{ owner_id: string }[]>`
    select owner_id from webhook_endpoints where id = ${endpointId}`;
  return Number(row!.owner_id);
}

const at = (path: string) => receiver.received.filter((r) => r.path === path);
const arrived = (path: string, n = 1) =>
  waitFor(`${n} webhook(s) at ${path}`, () => (at(path).length >= n ? at(path) : undefined), 15_000);

function verified(secret: string, r: Received) {
  return new Webhook(secret).verify(r.body, r.headers) as {
    id: string;
    type: string;
    data: Record<string, unknown>;
  };
}

async function deliveries(id: number) {
  return (await env.api('GET', `/webhooks/${id}/deliveries`, { token: env.token })).body.items as Record<
    string,
    unknown
  >[];
}

async function photo(over: Record<string, unknown> = {}) {
  const res = await env.api('POST', '/posts', {
    body: {
      user_id: String(Math.floor(Math.random() * 1e9)),
      content_type: 'Photo',
      url: 'https://cdn.example.com/w.jpg',
      token: GRAPH_TOKEN,
      ...over,
    },
    token: env.token,
  });
  expect(res.status).toBe(201);
  return res.body as { id: number };
}

describe('webhook endpoints', () => {
  it('shows the secret once, then never; lists, changes and deletes', async () => {
    const hook = await endpoint(['post.published']);
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const got = await env.api('GET', `/webhooks/${hook.id}/`, { token: env.token });
    expect(got.body).toMatchObject({
      id: hook.id,
      events: ['post.published'],
      enabled: true,
      description: null,
    });
    expect(got.text).not.toContain(hook.secret);
    expect((await env.api('GET', '/webhooks', { token: env.token })).text).not.toContain(hook.secret);
    const patched = await env.api('PATCH', `/webhooks/${hook.id}`, {
      body: { events: ['post.failed', 'instagram.suspected'], description: 'ops' },
      token: env.token,
    });
    expect(patched.body).toMatchObject({
      events: ['post.failed', 'instagram.suspected'],
      description: 'ops',
    });
    const bad = await env.api('PATCH', `/webhooks/${hook.id}`, {
      body: { events: ['post.exploded'] },
      token: env.token,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0].path).toBe('events.0');
    expect((await env.api('DELETE', `/webhooks/${hook.id}`, { token: env.token })).body).toEqual({
      id: hook.id,
      deleted: true,
    });
    expect((await env.api('GET', `/webhooks/${hook.id}`, { token: env.token })).status).toBe(404);
  });

  it('lets only its owner near it', async () => {
    const hook = await endpoint(['post.published']);
    const stranger = await userWithToken(env.server.database.db);
    for (const [method, path, body] of [
      ['GET', `/webhooks/${hook.id}`],
      ['PATCH', `/webhooks/${hook.id}`, { enabled: false }],
      ['POST', `/webhooks/${hook.id}/rotate-secret`],
      ['POST', `/webhooks/${hook.id}/test`],
      ['GET', `/webhooks/${hook.id}/deliveries`],
      ['DELETE', `/webhooks/${hook.id}`],
    ] as const) {
      expect((await env.api(method, path, { body })).status, `${method} ${path}`).toBe(401);
      const res = await env.api(method, path, { body, token: stranger.token });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body).toMatchObject({ code: 'WEBHOOK_NOT_FOUND', number: 7010 });
    }
    expect((await env.api('GET', '/webhooks', { token: stranger.token })).body.items).toEqual([]);
    expect((await env.api('GET', `/webhooks/${hook.id}`, { token: env.token })).body.enabled).toBe(true);
    expect(receiver.received).toHaveLength(0);
  });

  it('refuses URLs that are not https on a public host, also when the name resolves to a private address', async () => {
    const server = await startTestServer(
      {},
      {
        resolver: (name) =>
          Promise.resolve(
            name === 'sneaky.example.com'
              ? [{ address: '127.0.0.1', family: 4 }]
              : [{ address: '93.184.215.14', family: 4 }],
          ),
      },
    );
    try {
      const user = await userWithToken(server.database.db);
      const api = jsonClient(`${server.baseUrl}/api/v1`);
      for (const url of [
        'http://hooks.example.com/x',
        'https://127.0.0.1/x',
        'https://[::1]/x',
        'https://10.1.2.3/x',
        'https://localhost/x',
        'https://sneaky.example.com/x',
      ]) {
        const res = await api('POST', '/webhooks', {
          body: { url, events: ['post.failed'] },
          token: user.token,
        });
        expect(res.status, url).toBe(400);
        expect(res.body.issues[0].path).toBe('url');
      }
      const fine = await api('POST', '/webhooks', {
        body: { url: 'https://hooks.example.com/x', events: ['post.failed'] },
        token: user.token,
      });
      expect(fine.status).toBe(201);
    } finally {
      await server.close();
    }
  });
});

describe('events', () => {
  it('a published post: one delivery, signed, with the post as the API shows it and no token', async () => {
    const hook = await endpoint(['post.published']);
    const post = await photo();
    const [r] = await arrived(hook.path);
    const event = verified(hook.secret, r!);
    expect(event.type).toBe('post.published');
    expect(event.data).toMatchObject({ id: post.id, status: 'published' });
    expect(r!.headers['webhook-id']).toBe(event.id);
    expect(r!.body).not.toContain(GRAPH_TOKEN);
    await new Promise((res) => setTimeout(res, 300));
    expect(at(hook.path)).toHaveLength(1);
    const [log] = await deliveries(hook.id);
    expect(log).toMatchObject({
      type: 'post.published',
      status: 'delivered',
      attempts: 1,
      last_status_code: 200,
      last_response: 'thanks',
    });
  });

  it('a failed post, and a post retried then published, in the order they happened', async () => {
    const hook = await endpoint(['post.failed', 'post.retrying', 'post.published']);
    env.fake.invalidTokens.add('bad-token-for-webhooks');
    const failed = await photo({ token: 'bad-token-for-webhooks' });
    const [first] = await arrived(hook.path);
    expect(verified(hook.secret, first!)).toMatchObject({
      type: 'post.failed',
      data: { id: failed.id, status: 'failed' },
    });

    env.fake.failNext('create', { status: 500, code: 2, message: 'Temporary', transient: true });
    const retried = await photo({ caption: 'retried' });
    const all = await arrived(hook.path, 3);
    const events = all.slice(1).map((r) => verified(hook.secret, r));
    expect(events.map((e) => [e.type, e.data.id])).toEqual([
      ['post.retrying', retried.id],
      ['post.published', retried.id],
    ]);
  });

  it('instagram.suspected when Meta refuses an account’s token', async () => {
    const hook = await endpoint(['instagram.suspected']);
    const account = env.fake.addAccount();
    const connected = await env.api('POST', '/instagrams', {
      body: { token: env.fake.tokenFor(account.igUserId, 'ig_long') },
      token: env.token,
    });
    env.fake.revokeAccount(account.igUserId);
    await env.api('POST', '/posts', {
      body: { instagram_id: connected.body.id, content_type: 'Photo', url: 'https://cdn.example.com/s.jpg' },
      token: env.token,
    });
    const [r] = await arrived(hook.path);
    expect(verified(hook.secret, r!)).toMatchObject({
      type: 'instagram.suspected',
      data: { id: connected.body.id, state: 'suspected', state_reason: { code: 'GRAPH_TOKEN_INVALID' } },
    });
  });

  it('instagram.token_expiring once per token, 7 days before it expires', async () => {
    const hook = await endpoint(['instagram.token_expiring']);
    const account = env.fake.addAccount();
    const connected = await env.api('POST', '/instagrams', {
      body: { token: env.fake.tokenFor(account.igUserId, 'fb_user') },
      token: env.token,
    });
    // A Facebook user token without a Page: it cannot be refreshed and dies in 5 days.
    await env.server.database
      .sql`update instagrams set token_expires_at = now() + interval '5 days' where id = ${connected.body.id}`;
    const deps = {
      db: env.server.database.db,
      meta: createMeta(env.server.env),
      cipher: env.cipher,
      logger: captureLogger().logger,
    };
    await refreshDueAccounts(deps);
    await refreshDueAccounts(deps);
    const [r] = await arrived(hook.path);
    expect(verified(hook.secret, r!)).toMatchObject({
      type: 'instagram.token_expiring',
      data: { id: connected.body.id },
    });
    await new Promise((res) => setTimeout(res, 500));
    expect(at(hook.path)).toHaveLength(1);
  });

  it('nothing for a disabled endpoint, and nothing for a change that rolled back', async () => {
    const hook = await endpoint(['post.published', 'post.failed']);
    await env.api('PATCH', `/webhooks/${hook.id}`, { body: { enabled: false }, token: env.token });
    await photo();
    await expect(
      env.server.database.db.transaction(async (tx) => {
        await emitWebhookEvent(tx, { ownerId: await ownerOf(hook.id), type: 'post.failed', data: {} });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    await new Promise((res) => setTimeout(res, 1500));
    expect(at(hook.path)).toHaveLength(0);
    expect(await deliveries(hook.id)).toEqual([]);
  });
});

describe('delivery', () => {
  it('retries after 500s and a timeout with the same webhook-id, and logs the delivery', async () => {
    const hook = await endpoint(['post.published']);
    receiver.answer(500, 'hang', 503);
    await env.api('POST', `/webhooks/${hook.id}/test`, { token: env.token });
    const all = await arrived(hook.path, 4);
    expect(new Set(all.map((r) => r.headers['webhook-id'])).size).toBe(1);
    for (const r of all) expect(verified(hook.secret, r).type).toBe('ping');
    const log = await waitFor('delivered', async () => {
      const [d] = await deliveries(hook.id);
      return d?.status === 'delivered' ? d : undefined;
    });
    expect(log).toMatchObject({ attempts: 4, last_status_code: 200, last_error: null });
  });

  it('gives up after the last attempt of the schedule, keeping the first 1 KB of the answer', async () => {
    const hook = await endpoint(['post.published']);
    receiver.answer(500, 500, 500, 500, 500, 500, 500, 500);
    await env.api('POST', `/webhooks/${hook.id}/test`, { token: env.token });
    const log = await waitFor('failed', async () => {
      const [d] = await deliveries(hook.id);
      return d?.status === 'failed' ? d : undefined;
    });
    expect(log).toMatchObject({ attempts: 8, last_status_code: 500, next_attempt_at: null });
    expect((log.last_response as string).length).toBe(1024);
  });

  it('follows no redirect', async () => {
    const hook = await endpoint(['post.published']);
    receiver.answer({ redirect: `${elsewhere.url}/stolen` });
    await env.api('POST', `/webhooks/${hook.id}/test`, { token: env.token });
    await arrived(hook.path, 2);
    expect(elsewhere.received).toHaveLength(0);
    const log = (await deliveries(hook.id))[0]!;
    expect(log.status).toBe('delivered');
    expect(log.attempts).toBe(2);
  });

  it('signs with both secrets for a day after a rotation, and either verifies', async () => {
    const hook = await endpoint(['post.published']);
    const rotated = await env.api('POST', `/webhooks/${hook.id}/rotate-secret`, { token: env.token });
    expect(rotated.body.secret).not.toBe(hook.secret);
    await env.api('POST', `/webhooks/${hook.id}/test`, { token: env.token });
    const [r] = await arrived(hook.path);
    expect(r!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verified(hook.secret, r!).type).toBe('ping');
    expect(verified(rotated.body.secret as string, r!).type).toBe('ping');
  });

  it('a delivery committed while no worker runs is sent when one starts (a crash after the commit)', async () => {
    const hook = await endpoint(['post.published']);
    for (const w of env.workers.splice(0)) await w.stop();
    const test = await env.api('POST', `/webhooks/${hook.id}/test`, { token: env.token });
    expect(test.body).toMatchObject({ type: 'ping', status: 'pending', attempts: 0 });
    await new Promise((res) => setTimeout(res, 500));
    expect(at(hook.path)).toHaveLength(0);
    await env.startWorker();
    const [r] = await arrived(hook.path);
    expect(verified(hook.secret, r!).id).toBe(test.body.event_id);
  });

  it('refuses, at send time, a name that now resolves to a private address (rebinding), without connecting', async () => {
    const hook = await endpoint(['post.published']);
    await env.server.database
      .sql`update webhook_endpoints set url = ${`https://rebound.example.com:${new URL(receiver.url).port}/x`} where id = ${hook.id}`;
    const owner = await ownerOf(hook.id);
    for (const w of env.workers.splice(0)) await w.stop();
    const [deliveryId] = await env.server.database.db.transaction((tx) =>
      emitWebhookEvent(tx, { ownerId: owner, type: 'ping', endpointId: hook.id, data: {} }),
    );
    await deliverWebhook(
      {
        db: env.server.database.db,
        cipher: env.cipher,
        logger: captureLogger().logger,
        send: {
          timeoutMs: 500,
          allowPrivate: false,
          resolver: () => Promise.resolve([{ address: '127.0.0.1', family: 4 }]),
        },
      },
      deliveryId!,
    );
    expect(receiver.received).toHaveLength(0);
    const [log] = await deliveries(hook.id);
    expect(log).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null });
    expect(log!.last_error).toContain('non-public address');
    await env.startWorker();
  });
});
