import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPublisherEnv, waitFor, type PublisherEnv } from './helpers/publisher.ts';
import { GRAPH_TOKEN } from './helpers/post-fixtures.ts';

let env: PublisherEnv;
let account = 100;
/** A fresh Instagram account id per test, so quotas and media lists do not mix. */
const nextAccount = () => String(++account);

beforeAll(async () => {
  env = await startPublisherEnv();
});
afterAll(() => env.close());

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

async function create(body: Record<string, unknown>) {
  const res = await env.api('POST', '/posts', { body: { token: GRAPH_TOKEN, ...body }, token: env.token });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: number; date_pub: string };
}

async function get(id: number) {
  return (await env.api('GET', `/posts/${id}`, { token: env.token })).body;
}

async function until(id: number, status: string, timeoutMs = 15_000) {
  return waitFor(
    `post ${id} to be ${status}`,
    async () => {
      const post = await get(id);
      return post.status === status ? post : undefined;
    },
    timeoutMs,
  );
}

async function eventTypes(id: number): Promise<string[]> {
  const res = await env.api('GET', `/posts/${id}/events`, { token: env.token });
  return res.body.items.map((e: { type: string }) => e.type);
}

/** Calls about one account: under /{ig}/, or on one of its containers or media by id. */
function requestsFor(ig: string, endpoint?: string) {
  const ids = new Set([
    ...[...env.fake.containers.values()].filter((c) => c.igUserId === ig).map((c) => `/${c.id}`),
    ...env.fake.media.filter((m) => m.igUserId === ig).map((m) => `/${m.id}`),
  ]);
  return env.fake.requests.filter(
    (r) => (r.path.startsWith(`/${ig}/`) || ids.has(r.path)) && (!endpoint || r.endpoint === endpoint),
  );
}

describe('publishing a photo', () => {
  it('creates the container with the exact parameters, publishes it once and stores the result', async () => {
    const ig = nextAccount();
    const post = await create({
      user_id: ig,
      content_type: 'Photo',
      url: 'https://cdn.example.com/p.jpg',
      caption: 'Hello #world',
      location_id: '110843418940484',
      user_tags: [{ username: 'friend', x: 0.25, y: 0.75 }],
    });
    const done = await until(post.id, 'published');
    const [create1] = requestsFor(ig, 'create');
    expect(create1!.params).toEqual({
      image_url: 'https://cdn.example.com/p.jpg',
      caption: 'Hello #world',
      location_id: '110843418940484',
      user_tags: JSON.stringify([{ username: 'friend', x: 0.25, y: 0.75 }]),
    });
    // The decrypted token is what Meta receives.
    expect(create1!.token).toBe(GRAPH_TOKEN);
    const publishes = requestsFor(ig, 'publish');
    expect(publishes).toHaveLength(1);
    expect(publishes[0]!.params).toEqual({ creation_id: done.creation_id });
    const media = env.fake.media.find((m) => m.igUserId === ig)!;
    expect(done).toMatchObject({
      media_id: media.id,
      permalink: media.permalink,
      error: null,
      attempts: 1,
    });
    expect(done.published_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(await eventTypes(post.id)).toEqual([
      'created',
      'container_created',
      'publish_attempted',
      'published',
    ]);
    // The quota was read before the container was made.
    expect(requestsFor(ig).map((r) => r.endpoint)).toEqual(['limit', 'create', 'publish', 'media']);
  });
});

describe('publishing a video', () => {
  it('makes a reel, waits for processing without holding a worker, then publishes', async () => {
    const ig = nextAccount();
    env.fake.videoReadsUntilFinished = 3;
    const post = await create({
      user_id: ig,
      content_type: 'Video',
      url: 'https://cdn.example.com/v.mp4',
      caption: 'Reel',
      thumb_offset: 2500,
      user_tags: [{ username: 'friend' }],
    });
    const done = await until(post.id, 'published');
    expect(requestsFor(ig, 'create')[0]!.params).toEqual({
      media_type: 'REELS',
      video_url: 'https://cdn.example.com/v.mp4',
      share_to_feed: 'true',
      thumb_offset: '2500',
      caption: 'Reel',
      user_tags: JSON.stringify([{ username: 'friend' }]),
    });
    expect(requestsFor(ig, 'status').length).toBeGreaterThanOrEqual(3);
    expect(requestsFor(ig, 'publish')).toHaveLength(1);
    expect(done.media_id).toBeTruthy();
    expect(await eventTypes(post.id)).toEqual([
      'created',
      'container_created',
      'container_processing',
      'publish_attempted',
      'published',
    ]);
  });
});

describe('time', () => {
  it('starts publishing within about a second of date_pub', async () => {
    const ig = nextAccount();
    const post = await create({
      user_id: ig,
      content_type: 'Photo',
      url: 'https://cdn.example.com/t.jpg',
      date_pub: inSeconds(3),
    });
    await until(post.id, 'published');
    const lag = requestsFor(ig)[0]!.at - Date.parse(post.date_pub);
    expect(lag).toBeGreaterThanOrEqual(0);
    // Poll interval here is 100 ms; allow for a loaded CI machine.
    expect(lag).toBeLessThan(1500);
  });

  it('follows a reschedule to an earlier time', async () => {
    const ig = nextAccount();
    const post = await create({
      user_id: ig,
      content_type: 'Photo',
      url: 'https://cdn.example.com/e.jpg',
      date_pub: inSeconds(600),
    });
    const moved = await env.api('PATCH', `/posts/${post.id}`, {
      body: { date_pub: inSeconds(1) },
      token: env.token,
    });
    expect(moved.status).toBe(200);
    await until(post.id, 'published');
    expect(requestsFor(ig, 'publish')).toHaveLength(1);
  });

  it('follows a reschedule to a later time, and does not publish early', async () => {
    const ig = nextAccount();
    const post = await create({
      user_id: ig,
      content_type: 'Photo',
      url: 'https://cdn.example.com/l.jpg',
      date_pub: inSeconds(1),
    });
    await env.api('PATCH', `/posts/${post.id}`, { body: { date_pub: inSeconds(4) }, token: env.token });
    await new Promise((r) => setTimeout(r, 2500));
    expect(requestsFor(ig)).toHaveLength(0);
    expect((await get(post.id)).status).toBe('scheduled');
    const done = await until(post.id, 'published');
    expect(requestsFor(ig)[0]!.at).toBeGreaterThanOrEqual(Date.parse(done.date_pub));
  });

  it('never publishes a post deleted before its time', async () => {
    const ig = nextAccount();
    const post = await create({
      user_id: ig,
      content_type: 'Photo',
      url: 'https://cdn.example.com/d.jpg',
      date_pub: inSeconds(1),
    });
    expect((await env.api('DELETE', `/posts/${post.id}`, { token: env.token })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2000));
    expect(requestsFor(ig)).toHaveLength(0);
  });
});

describe('while publishing', () => {
  it('refuses edits and deletion with 409', async () => {
    const ig = nextAccount();
    env.fake.latencyMs = 1500;
    try {
      const post = await create({ user_id: ig, content_type: 'Photo', url: 'https://cdn.example.com/w.jpg' });
      await until(post.id, 'publishing');
      const patch = await env.api('PATCH', `/posts/${post.id}`, {
        body: { caption: 'too late' },
        token: env.token,
      });
      expect(patch.status).toBe(409);
      expect(patch.body.code).toBe('POST_NOT_EDITABLE');
      expect((await env.api('DELETE', `/posts/${post.id}`, { token: env.token })).status).toBe(409);
      const done = await until(post.id, 'published', 20_000);
      expect(done.caption).toBeNull();
    } finally {
      env.fake.latencyMs = 0;
    }
  });
});

describe('failures', () => {
  it('retries a transient error with backoff, then succeeds', async () => {
    const ig = nextAccount();
    env.fake.failNext('create', {
      status: 500,
      code: 2,
      message: 'Service temporarily unavailable',
      transient: true,
    });
    const post = await create({ user_id: ig, content_type: 'Photo', url: 'https://cdn.example.com/r.jpg' });
    const done = await until(post.id, 'published');
    expect(done.attempts).toBe(2);
    expect(done.error).toBeNull();
    expect(await eventTypes(post.id)).toEqual([
      'created',
      'retry_scheduled',
      'container_created',
      'publish_attempted',
      'published',
    ]);
    expect(requestsFor(ig, 'publish')).toHaveLength(1);
  });

  it('makes a new container when Meta says the old one is gone', async () => {
    const ig = nextAccount();
    env.fake.failNext('publish', {
      status: 400,
      code: 24,
      subcode: 2207008,
      message: 'The media container does not exist',
    });
    const post = await create({ user_id: ig, content_type: 'Photo', url: 'https://cdn.example.com/c.jpg' });
    const done = await until(post.id, 'published');
    const creates = requestsFor(ig, 'create');
    expect(creates).toHaveLength(2);
    expect(env.fake.media.filter((m) => m.igUserId === ig)).toHaveLength(1);
    expect(done.creation_id).not.toBe(null);
    expect(requestsFor(ig, 'publish').map((r) => r.params.creation_id)).toEqual([
      expect.any(String),
      done.creation_id,
    ]);
    expect(requestsFor(ig, 'publish')[0]!.params.creation_id).not.toBe(done.creation_id);
  });

  it('fails for good on a bad token, says what to fix, and does not retry', async () => {
    const ig = nextAccount();
    env.fake.invalidTokens.add('expired-token');
    const post = await create({
      user_id: ig,
      content_type: 'Photo',
      url: 'https://cdn.example.com/f.jpg',
      token: 'expired-token',
    });
    const failed = await until(post.id, 'failed');
    expect(failed.error).toEqual({
      code: 'GRAPH_TOKEN_INVALID',
      number: 1160,
      message: 'The access token is invalid or expired; send a new token.',
      graph_code: 190,
      graph_subcode: 463,
    });
    await new Promise((r) => setTimeout(r, 800));
    expect(requestsFor(ig)).toHaveLength(1);
    const [jobs] = await env.server.database
      .sql`select count(*)::int as n from graphile_worker.jobs where key = ${`post:${post.id}`}`;
    expect(jobs!.n).toBe(0);
    expect((await eventTypes(post.id)).at(-1)).toBe('failed');
    // A new token schedules it again, and it goes out.
    await env.api('PATCH', `/posts/${post.id}`, { body: { token: GRAPH_TOKEN }, token: env.token });
    expect((await until(post.id, 'published')).error).toBeNull();
  });

  it('fails with the media problem Meta reports', async () => {
    const ig = nextAccount();
    env.fake.failNext('create', {
      status: 400,
      code: 9004,
      subcode: 2207052,
      message: 'Media download has failed.',
    });
    const post = await create({ user_id: ig, content_type: 'Photo', url: 'https://cdn.example.com/404.jpg' });
    const failed = await until(post.id, 'failed');
    expect(failed.error).toMatchObject({
      code: 'GRAPH_MEDIA_REJECTED',
      // The URL Meta could not fetch is named.
      message:
        'Meta could not fetch the media URL: it must be public and reachable. (https://cdn.example.com/404.jpg)',
      graph_code: 9004,
      graph_subcode: 2207052,
    });
  });

  it('gives up after the last attempt with the last error', async () => {
    const ig = nextAccount();
    env.fake.failNext(
      'limit',
      { status: 503, code: 1, message: 'An unknown error occurred', transient: true },
      6,
    );
    const post = await create({ user_id: ig, content_type: 'Photo', url: 'https://cdn.example.com/g.jpg' });
    const failed = await until(post.id, 'failed', 30_000);
    expect(failed.attempts).toBe(6);
    expect(failed.error.code).toBe('GRAPH_TEMPORARY');
    expect(failed.error.message).toContain('Gave up after 6 attempts');
    expect(requestsFor(ig, 'create')).toHaveLength(0);
  });
});

describe('never twice', () => {
  it('publishes exactly once when the answer to media_publish is lost', async () => {
    const ig = nextAccount();
    env.fake.failNext('publish', 'lose_answer');
    const post = await create({
      user_id: ig,
      content_type: 'Photo',
      url: 'https://cdn.example.com/x.jpg',
      caption: 'lost answer',
    });
    const done = await until(post.id, 'published');
    const media = env.fake.media.filter((m) => m.igUserId === ig);
    expect(media).toHaveLength(1);
    expect(done.media_id).toBe(media[0]!.id);
    expect(done.permalink).toBe(media[0]!.permalink);
    // The retry read the container's status instead of publishing blind.
    expect(requestsFor(ig, 'publish')).toHaveLength(1);
    expect(requestsFor(ig, 'status').length).toBeGreaterThanOrEqual(1);
  });

  it('publishes exactly once when the network drops before media_publish reaches Meta', async () => {
    const ig = nextAccount();
    env.fake.failNext('publish', 'network');
    const post = await create({ user_id: ig, content_type: 'Photo', url: 'https://cdn.example.com/n.jpg' });
    await until(post.id, 'published');
    expect(env.fake.media.filter((m) => m.igUserId === ig)).toHaveLength(1);
    expect(requestsFor(ig, 'publish')).toHaveLength(2);
  });
});

describe('the account quota', () => {
  it('waits for the window instead of hammering Meta, and says so in the events', async () => {
    const ig = nextAccount();
    env.fake.quotaUsedElsewhere.set(ig, 25);
    const post = await create({ user_id: ig, content_type: 'Photo', url: 'https://cdn.example.com/q.jpg' });
    await waitFor('a quota wait', async () => (await eventTypes(post.id)).includes('quota_wait'));
    await new Promise((r) => setTimeout(r, 500));
    const current = await get(post.id);
    expect(current.status).toBe('scheduled');
    expect(requestsFor(ig).map((r) => r.endpoint)).toEqual(['limit']);
    const events = (await env.api('GET', `/posts/${post.id}/events`, { token: env.token })).body.items;
    const wait = events.find((e: { type: string }) => e.type === 'quota_wait');
    expect(wait.message).toContain('25/25');
    expect(Date.parse(wait.date_pub) - Date.now()).toBeGreaterThan(50_000);
    const [job] = await env.server.database
      .sql`select run_at from graphile_worker.jobs where key = ${`post:${post.id}`}`;
    expect(new Date(job!.run_at).getTime()).toBe(Date.parse(wait.date_pub));
    // The user can still change or delete it while it waits.
    expect((await env.api('DELETE', `/posts/${post.id}`, { token: env.token })).status).toBe(200);
  });
});
