import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneMedia } from '../server/media/retention.ts';
import { plainJpeg, png } from './helpers/media.ts';
import { GRAPH_TOKEN, IG_USER, photo } from './helpers/post-fixtures.ts';
import { startPublisherEnv, waitFor, type PublisherEnv } from './helpers/publisher.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { jsonClient } from './helpers/http.ts';
import { userWithToken } from './helpers/users.ts';

/** A media host on loopback: serves files by path, and 404s, slow answers and redirects on demand. */
class MediaHost {
  readonly hits: string[] = [];
  files = new Map<string, { type: string; body: Buffer }>();
  private server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    this.hits.push(`${req.method} ${path}`);
    if (path.startsWith('/slow/')) return void setTimeout(() => res.writeHead(200).end(), 7_000);
    const redirect = /^\/hop(\d+)\/(.*)$/.exec(path);
    if (redirect) {
      const n = Number(redirect[1]);
      return void res
        .writeHead(302, { location: n > 1 ? `/hop${n - 1}/${redirect[2]}` : `/${redirect[2]}` })
        .end();
    }
    if (path === '/to-metadata')
      return void res.writeHead(302, { location: 'http://169.254.169.254/latest' }).end();
    const file = this.files.get(path);
    if (!file) return void res.writeHead(404).end('not found');
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (range && req.method === 'GET') {
      const end = Math.min(Number(range[2]), file.body.length - 1);
      res.writeHead(206, {
        'content-type': file.type,
        'content-range': `bytes ${range[1]}-${end}/${file.body.length}`,
      });
      return void res.end(file.body.subarray(Number(range[1]), end + 1));
    }
    res.writeHead(200, { 'content-type': file.type, 'content-length': file.body.length });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  });
  url = '';
  async start() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  stop() {
    this.server.closeAllConnections();
    return new Promise<void>((r) => this.server.close(() => r()));
  }
}

const host = new MediaHost();
beforeAll(async () => {
  await host.start();
  host.files.set('/good.jpg', { type: 'image/jpeg', body: await plainJpeg(1080, 1350) });
  host.files.set('/square.jpg', { type: 'image/jpeg', body: await plainJpeg(800, 800) });
  host.files.set('/photo.png', { type: 'image/png', body: await png(800, 800) });
  host.files.set('/banner.jpg', { type: 'image/jpeg', body: await plainJpeg(1500, 500) });
  host.files.set('/tiny.jpg', { type: 'image/jpeg', body: await plainJpeg(200, 200) });
});
afterAll(() => host.stop());

// Due at once unless a test says otherwise.
const post = (url: string, over: Record<string, unknown> = {}) =>
  photo({ url, date_pub: new Date().toISOString(), ...over });

describe('pre-flight of media URLs (MEDIA_PREFLIGHT=enforce)', () => {
  let server: TestServer;
  let api: ReturnType<typeof jsonClient>;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({ MEDIA_PREFLIGHT: 'enforce', MEDIA_ALLOW_PRIVATE_HOSTS: 'true' });
    api = jsonClient(`${server.baseUrl}/api/v1`);
    token = (await userWithToken(server.database.db)).token;
  });
  afterAll(() => server.close());

  it('accepts a JPEG of a feed shape, also behind redirects', async () => {
    expect((await api('POST', '/posts', { token, body: post(`${host.url}/good.jpg`) })).status).toBe(201);
    expect((await api('POST', '/posts', { token, body: post(`${host.url}/hop3/square.jpg`) })).status).toBe(
      201,
    );
    expect(host.hits).toContain('HEAD /good.jpg');
    expect(host.hits).toContain('GET /good.jpg');
  });

  it('refuses a 404, a PNG and a 3:1 photo with an issue naming the field, the problem and the fix', async () => {
    const missing = await api('POST', '/posts', { token, body: post(`${host.url}/gone.jpg`) });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({
      code: 'MEDIA_UNREACHABLE',
      number: 6210,
      issues: [{ path: 'url' }],
    });
    expect(missing.body.issues[0].message).toContain(`${host.url}/gone.jpg: answered 404`);
    expect(missing.body.issues[0].message).toContain('upload it to /media');

    const pngPost = await api('POST', '/posts', { token, body: post(`${host.url}/photo.png`) });
    expect(pngPost.body).toMatchObject({ code: 'MEDIA_REJECTED', number: 6220, issues: [{ path: 'url' }] });
    expect(pngPost.body.issues[0].message).toContain(
      'Instagram accepts JPEG only: upload the file to /media to convert it',
    );

    const banner = await api('POST', '/posts', { token, body: post(`${host.url}/banner.jpg`) });
    expect(banner.body.code).toBe('MEDIA_REJECTED');
    expect(banner.body.issues[0].message).toMatch(/1500×500 \(3\.00:1\).*between 4:5.*1\.91:1/);

    const tiny = await api('POST', '/posts', { token, body: post(`${host.url}/tiny.jpg`) });
    expect(tiny.body.issues[0].message).toMatch(/200 px wide.*at least 320/);

    // A story has no feed shape to keep.
    const story = await api('POST', '/posts', {
      token,
      body: post(`${host.url}/banner.jpg`, { placement: 'story', caption: undefined, user_tags: undefined }),
    });
    expect(story.status).toBe(201);
  });

  it('names each carousel item that fails, and checks a changed URL on PATCH', async () => {
    const carousel = await api('POST', '/posts', {
      token,
      body: {
        user_id: IG_USER,
        token: GRAPH_TOKEN,
        content_type: 'Carousel',
        children: [
          { content_type: 'Photo', url: `${host.url}/good.jpg` },
          { content_type: 'Photo', url: `${host.url}/photo.png` },
          { content_type: 'Photo', url: `${host.url}/nothing.jpg` },
        ],
      },
    });
    expect(carousel.body.code).toBe('MEDIA_UNREACHABLE');
    expect(carousel.body.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      'children.1.url',
      'children.2.url',
    ]);
    const created = await api('POST', '/posts', { token, body: post(`${host.url}/good.jpg`) });
    const patched = await api('PATCH', `/posts/${created.body.id}`, {
      token,
      body: { url: `${host.url}/photo.png` },
    });
    expect(patched.body.code).toBe('MEDIA_REJECTED');
    const caption = await api('PATCH', `/posts/${created.body.id}`, {
      token,
      body: { caption: 'only this' },
    });
    expect(caption.status).toBe(200);
  });

  it('gives up on a host that does not answer within 5 s, and on more than 3 redirects', async () => {
    const slow = await api('POST', '/posts', { token, body: post(`${host.url}/slow/a.jpg`) });
    expect(slow.body.code).toBe('MEDIA_UNREACHABLE');
    expect(slow.body.issues[0].message).toContain('no answer within 5 s');
    const hops = await api('POST', '/posts', { token, body: post(`${host.url}/hop4/good.jpg`) });
    expect(hops.body.issues[0].message).toContain('more than 3 redirects');
  }, 15_000);

  it('never follows a redirect to a private address, even with loopback allowed for tests', async () => {
    const res = await api('POST', '/posts', { token, body: post(`${host.url}/to-metadata`) });
    expect(res.body.code).toBe('MEDIA_UNREACHABLE');
    expect(res.body.issues[0].message).toContain('169.254.169.254 resolves to a non-public address');
  });
});

describe('the SSRF defence with MEDIA_ALLOW_PRIVATE_HOSTS off', () => {
  it('refuses names that resolve to loopback or private addresses without fetching them', async () => {
    const names: Record<string, string> = { 'cdn.example.com': '127.0.0.1', 'files.example.net': '10.0.0.7' };
    const server = await startTestServer(
      { MEDIA_PREFLIGHT: 'enforce' },
      { resolver: (name) => Promise.resolve([{ address: names[name] ?? '93.184.216.34', family: 4 }]) },
    );
    try {
      const api = jsonClient(`${server.baseUrl}/api/v1`);
      const { token } = await userWithToken(server.database.db);
      const port = new URL(host.url).port;
      const before = host.hits.length;
      for (const url of [`https://cdn.example.com:${port}/good.jpg`, 'https://files.example.net/a.jpg']) {
        const res = await api('POST', '/posts', { token, body: post(url) });
        expect(res.body.code).toBe('MEDIA_UNREACHABLE');
        expect(res.body.issues[0].message).toContain('resolves to a non-public address');
      }
      expect(host.hits.length).toBe(before);
    } finally {
      await server.close();
    }
  });
});

describe('MEDIA_PREFLIGHT=warn', () => {
  it('accepts the post and records what is wrong as a media_warning event', async () => {
    const server = await startTestServer({ MEDIA_PREFLIGHT: 'warn', MEDIA_ALLOW_PRIVATE_HOSTS: 'true' });
    try {
      const api = jsonClient(`${server.baseUrl}/api/v1`);
      const { token } = await userWithToken(server.database.db);
      const res = await api('POST', '/posts', { token, body: post(`${host.url}/photo.png`) });
      expect(res.status).toBe(201);
      const events = await api('GET', `/posts/${res.body.id}/events`, { token });
      const warning = events.body.items.find((e: { type: string }) => e.type === 'media_warning');
      expect(warning.message).toContain('Instagram accepts JPEG only');
    } finally {
      await server.close();
    }
  });
});

describe('posts using uploads', () => {
  let env: PublisherEnv;
  beforeAll(async () => {
    env = await startPublisherEnv({ env: { MEDIA_PREFLIGHT: 'enforce', MEDIA_ALLOW_PRIVATE_HOSTS: 'true' } });
    // Meta downloads what it publishes: our uploads, and the local media host.
    env.fake.fetchMedia = (url) => url.startsWith(env.server.baseUrl) || url.startsWith(host.url);
  });
  afterAll(() => env.close());

  const uploadPng = async (token = env.token) =>
    (
      await env.api('POST', '/media', {
        token,
        rawBody: await png(1000, 1000),
        headers: { 'content-type': 'image/png' },
      })
    ).body as { id: string; url: string };

  it('publishes a PNG uploaded by the app, which Meta downloads as a JPEG from our URL', async () => {
    const media = await uploadPng();
    const created = await env.api('POST', '/posts', { token: env.token, body: post(media.url) });
    expect(created.status).toBe(201);
    const done = await waitFor('the post published', async () => {
      const res = await env.api('GET', `/posts/${created.body.id}`, { token: env.token });
      return res.body.status === 'published' ? (res.body as { media_id: string; attempts: number }) : null;
    });
    expect(done.media_id).toBeTruthy();
    expect(env.fake.mediaFetches).toContain(media.url);
    // In use by a post waiting no more: it can be deleted now.
    expect((await env.api('DELETE', `/media/${media.id}`, { token: env.token })).status).toBe(200);
  });

  it('refuses another user’s upload, and an image where a video goes', async () => {
    const other = await userWithToken(env.server.database.db);
    const theirs = await uploadPng(other.token);
    const res = await env.api('POST', '/posts', { token: env.token, body: post(theirs.url) });
    expect(res.body.code).toBe('MEDIA_UNREACHABLE');
    expect(res.body.issues[0].message).toContain('no such upload');
    const mine = await uploadPng();
    const reel = await env.api('POST', '/posts', {
      token: env.token,
      body: { ...post(mine.url), content_type: 'Video' },
    });
    expect(reel.body.code).toBe('MEDIA_REJECTED');
    expect(reel.body.issues[0].message).toContain('Instagram takes MP4 or MOV videos');
  });

  it('keeps an upload a scheduled post uses: DELETE answers 409 MEDIA_IN_USE', async () => {
    const media = await uploadPng();
    const later = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await env.api('POST', '/posts', { token: env.token, body: post(media.url, { date_pub: later }) });
    const res = await env.api('DELETE', `/media/${media.id}`, { token: env.token });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: 'MEDIA_IN_USE', number: 6100 });
  });

  it('retries a URL that stops answering right before the container, naming it, then publishes', async () => {
    host.files.set('/later.jpg', { type: 'image/jpeg', body: await plainJpeg(1080, 1080) });
    const soon = new Date(Date.now() + 1_500).toISOString().replace(/\.\d+Z$/, 'Z');
    const created = await env.api('POST', '/posts', {
      token: env.token,
      body: post(`${host.url}/later.jpg`, { date_pub: soon }),
    });
    expect(created.status).toBe(201);
    const file = host.files.get('/later.jpg')!;
    host.files.delete('/later.jpg');
    const retry = await waitFor('the retry', async () => {
      const res = await env.api('GET', `/posts/${created.body.id}/events`, { token: env.token });
      return res.body.items.find((e: { type: string }) => e.type === 'retry_scheduled') ?? null;
    });
    expect(retry.message).toContain(`${host.url}/later.jpg: answered 404`);
    expect(retry.error).toMatchObject({ code: 'MEDIA_FETCH_FAILED', number: 1240 });
    host.files.set('/later.jpg', file);
    const done = await waitFor('the post published after the retry', async () => {
      const res = await env.api('GET', `/posts/${created.body.id}`, { token: env.token });
      return res.body.status === 'published' ? res.body : null;
    });
    expect(done.attempts).toBeGreaterThan(0);
  });

  it('names the URL when Meta says it could not fetch the media (9004/2207052)', async () => {
    const media = await uploadPng();
    env.fake.failNext('create', {
      status: 400,
      code: 9004,
      subcode: 2207052,
      message: 'Media download has failed',
    });
    const created = await env.api('POST', '/posts', { token: env.token, body: post(media.url) });
    const failed = await waitFor('the post failed', async () => {
      const res = await env.api('GET', `/posts/${created.body.id}`, { token: env.token });
      return res.body.status === 'failed' ? res.body : null;
    });
    expect(failed.error.message).toContain(media.url);
    expect(failed.error.message).toContain('Meta could not fetch the media URL');
  });
});

describe('retention', () => {
  let env: PublisherEnv;
  const DAY = 86_400_000;
  beforeAll(async () => {
    env = await startPublisherEnv();
    env.fake.fetchMedia = (url) => url.startsWith(env.server.baseUrl);
  });
  afterAll(() => env.close());

  const upload = async () =>
    (
      await env.api('POST', '/media', {
        token: env.token,
        rawBody: await plainJpeg(800, 800),
        headers: { 'content-type': 'image/jpeg' },
      })
    ).body as { id: string; url: string };
  const exists = async (id: string) =>
    (await env.server.database.sql`select 1 from media where id = ${id}`).length === 1;
  const later = (ms: number) => new Date(Date.now() + ms).toISOString().replace(/\.\d+Z$/, 'Z');

  it('removes unused uploads at expires_at, published ones MEDIA_RETENTION after publishing, never waiting ones', async () => {
    const unused = await upload();
    const waiting = await upload();
    const published = await upload();
    await env.api('POST', '/posts', {
      token: env.token,
      body: post(waiting.url, { date_pub: later(40 * DAY) }),
    });
    const done = await env.api('POST', '/posts', { token: env.token, body: post(published.url) });
    await waitFor('the post published', async () => {
      const res = await env.api('GET', `/posts/${done.body.id}`, { token: env.token });
      return res.body.status === 'published' ? true : null;
    });
    const retentionMs = 3 * DAY;
    // Six days on: nothing is due yet (unused ones live 7 days).
    expect(
      await pruneMedia(env.server.database.db, { retentionMs, now: new Date(Date.now() + 2 * DAY) }),
    ).toBe(0);
    // Four days after publishing, the published one goes; the unused one lives until day 7.
    await pruneMedia(env.server.database.db, { retentionMs, now: new Date(Date.now() + 4 * DAY) });
    expect([await exists(unused.id), await exists(waiting.id), await exists(published.id)]).toEqual([
      true,
      true,
      false,
    ]);
    await pruneMedia(env.server.database.db, { retentionMs, now: new Date(Date.now() + 30 * DAY) });
    expect([await exists(unused.id), await exists(waiting.id)]).toEqual([false, true]);
    expect((await fetch(unused.url)).status).toBe(404);
    expect((await fetch(waiting.url)).status).toBe(200);
  });

  it('never removes a file a post is given while the job runs: the post waits and is refused, or wins', async () => {
    const racing = await upload();
    let created: Promise<{ status: number; body: { code?: string } }> | null = null;
    const removed = await pruneMedia(env.server.database.db, {
      retentionMs: DAY,
      now: new Date(Date.now() + 8 * DAY),
      afterLock: async () => {
        // The candidates are locked: a post naming one now has to wait for the job's decision.
        created = env.api('POST', '/posts', {
          token: env.token,
          body: post(racing.url, { date_pub: later(DAY) }),
        });
        await new Promise((r) => setTimeout(r, 300));
      },
    });
    expect(removed).toBeGreaterThanOrEqual(1);
    const answer = await created!;
    expect(answer.status).toBe(400);
    expect(answer.body.code).toBe('MEDIA_UNREACHABLE');

    // The other order: the post commits first, and the job keeps the file.
    const kept = await upload();
    const first = await env.api('POST', '/posts', {
      token: env.token,
      body: post(kept.url, { date_pub: later(DAY) }),
    });
    expect(first.status).toBe(201);
    await pruneMedia(env.server.database.db, { retentionMs: DAY, now: new Date(Date.now() + 8 * DAY) });
    expect(await exists(kept.id)).toBe(true);
  });
});
