import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createClient, errorCode, uploadMedia } from '../sdk/src/index.ts';
import { plainJpeg } from './helpers/media.ts';
import { GRAPH_TOKEN, photo } from './helpers/post-fixtures.ts';
import { useTestServer } from './helpers/setup.ts';

/**
 * A phone that lost the answer to a POST retries it with the same
 * Idempotency-Key (docs/api.md, "Retries"): it gets the first answer again
 * and nothing is created twice.
 */
const env = useTestServer({ users: 2 });

const later = () => new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
const post = (caption: string) => photo({ caption, date_pub: later(), token: GRAPH_TOKEN });
const withKey = (key: string) => ({ 'idempotency-key': key });
const postsWithCaption = async (caption: string) =>
  (await env.server.database.sql`select id from posts where caption = ${caption}`).length;

describe('Idempotency-Key on POST', () => {
  it('answers a retry with the first answer, marked replayed, and creates one post with one job', async () => {
    const key = randomUUID();
    const body = post('retried once');
    const first = await env.api('POST', '/posts', { body, token: env.token, headers: withKey(key) });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const again = await env.api('POST', '/posts', { body, token: env.token, headers: withKey(key) });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await postsWithCaption('retried once')).toBe(1);
    const jobs = await env.server.database
      .sql`select count(*)::int as n from graphile_worker.jobs where key = ${`post:${first.body.id}`}`;
    expect(jobs[0]!.n).toBe(1);
  });

  it('takes the same body with its keys in another order as the same request', async () => {
    const key = randomUUID();
    const body = post('key order');
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    const first = await env.api('POST', '/posts', { body, token: env.token, headers: withKey(key) });
    const again = await env.api('POST', '/posts', {
      body: reordered,
      token: env.token,
      headers: withKey(key),
    });
    expect(again.status).toBe(201);
    expect(again.body.id).toBe(first.body.id);
  });

  it('refuses the same key with another body: 422 IDEMPOTENCY_KEY_REUSED, nothing created', async () => {
    const key = randomUUID();
    await env.api('POST', '/posts', { body: post('first body'), token: env.token, headers: withKey(key) });
    const other = await env.api('POST', '/posts', {
      body: post('second body'),
      token: env.token,
      headers: withKey(key),
    });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(other.body.number).toBe(8220);
    expect(await postsWithCaption('second body')).toBe(0);
    // The same key on another operation is another request too.
    const webhook = await env.api('POST', '/webhooks', {
      body: { url: 'https://hooks.example.com/x', events: ['post.published'] },
      token: env.token,
      headers: withKey(key),
    });
    expect(webhook.status).toBe(422);
  });

  it('lets 20 retries racing with one key create exactly one post', async () => {
    const key = randomUUID();
    const body = post('racing retries');
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        env.api('POST', '/posts', { body, token: env.token, headers: withKey(key) }),
      ),
    );
    expect(await postsWithCaption('racing retries')).toBe(1);
    const created = answers.filter((a) => a.status === 201);
    expect(created.length).toBeGreaterThan(0);
    expect(new Set(created.map((a) => a.body.id)).size).toBe(1);
    for (const busy of answers.filter((a) => a.status !== 201)) {
      expect(busy.status).toBe(409);
      expect(busy.body.code).toBe('IDEMPOTENCY_KEY_IN_USE');
      expect(busy.headers.get('retry-after')).toBe('1');
    }
  });

  it('keeps keys per user: another user’s identical key is unrelated', async () => {
    const key = randomUUID();
    const mine = await env.api('POST', '/posts', {
      body: post('per user'),
      token: env.token,
      headers: withKey(key),
    });
    const theirs = await env.api('POST', '/posts', {
      body: post('per user'),
      token: env.users[1]!.token,
      headers: withKey(key),
    });
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(theirs.body.id).not.toBe(mine.body.id);
  });

  it('keeps a refusal of the request itself (400) and replays it', async () => {
    const key = randomUUID();
    const invalid = { ...post('x'), caption: '#a '.repeat(31) };
    const first = await env.api('POST', '/posts', { body: invalid, token: env.token, headers: withKey(key) });
    expect(first.status).toBe(400);
    const again = await env.api('POST', '/posts', { body: invalid, token: env.token, headers: withKey(key) });
    expect(again.status).toBe(400);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.code).toBe(first.body.code);
    expect(again.body.issues).toEqual(first.body.issues);
  });

  it('refuses a key that is not 1–255 visible ASCII characters, naming the header', async () => {
    for (const bad of ['', 'has space', 'é', 'x'.repeat(256)]) {
      const res = await env.api('POST', '/posts', {
        body: post('bad key'),
        token: env.token,
        headers: withKey(bad),
      });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.issues[0].path).toBe('Idempotency-Key');
    }
    expect(await postsWithCaption('bad key')).toBe(0);
  });

  it('stores a retried upload once and answers the first upload again', async () => {
    const key = randomUUID();
    const jpeg = await plainJpeg(640, 640);
    const upload = (k: string) =>
      env.api('POST', '/media', {
        rawBody: jpeg,
        token: env.token,
        headers: { 'content-type': 'image/jpeg', ...withKey(k) },
      });
    const first = await upload(key);
    expect(first.status).toBe(201);
    const again = await upload(key);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body.id).toBe(first.body.id);
    const rows = await env.server.database
      .sql`select count(*)::int as n from media where owner_id = ${env.user.id}`;
    expect(rows[0]!.n).toBe(1);
    // Another file under the same key is another request.
    const other = await env.api('POST', '/media', {
      rawBody: await plainJpeg(700, 700),
      token: env.token,
      headers: { 'content-type': 'image/jpeg', ...withKey(key) },
    });
    expect(other.status).toBe(422);
  });

  it('works from the SDK: a mutation with a key is sent alone and replayed on retry', async () => {
    const api = createClient({ url: env.server.baseUrl, token: env.token });
    const key = randomUUID();
    const input = post('from the sdk') as Parameters<typeof api.posts.create.mutate>[0];
    const first = await api.posts.create.mutate(input, { context: { idempotencyKey: key } });
    const again = await api.posts.create.mutate(input, { context: { idempotencyKey: key } });
    expect(again.id).toBe(first.id);
    expect(await postsWithCaption('from the sdk')).toBe(1);
    const reused = await api.posts.create
      .mutate({ ...input, caption: 'another' }, { context: { idempotencyKey: key } })
      .catch((e: unknown) => e);
    expect(errorCode(reused)).toBe('IDEMPOTENCY_KEY_REUSED');
    const options = { idempotencyKey: randomUUID() };
    const client = { url: env.server.baseUrl, token: env.token };
    const jpeg = await plainJpeg(320, 320);
    const media = await uploadMedia(client, jpeg, 'image/jpeg', options);
    expect((await uploadMedia(client, jpeg, 'image/jpeg', options)).id).toBe(media.id);
  });
});
