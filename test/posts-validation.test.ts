import { describe, expect, it } from 'vitest';
import { photo, video } from './helpers/post-fixtures.ts';
import { useTestServer } from './helpers/setup.ts';

const t = useTestServer();

async function rejected(body: Record<string, unknown>): Promise<{ path: string; message: string }[]> {
  const res = await t.api('POST', '/posts', { body, token: t.token });
  expect(res.status, JSON.stringify(body).slice(0, 200)).toBe(400);
  expect(res.body.code).toBe('VALIDATION_FAILED');
  return res.body.issues;
}

async function accepted(body: Record<string, unknown>) {
  const res = await t.api('POST', '/posts', { body, token: t.token });
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(201);
  return res.body;
}

const hashtags = (n: number) => Array.from({ length: n }, (_, i) => `#tag${i}`).join(' ');
const mentions = (n: number) => Array.from({ length: n }, (_, i) => `@user${i}`).join(' ');

describe('caption rules', () => {
  it('accepts exactly 2200 characters, counting an emoji as one', async () => {
    await accepted(photo({ caption: 'a'.repeat(2199) + '🌅' }));
  });
  it('refuses 2201 characters', async () => {
    expect(await rejected(photo({ caption: 'a'.repeat(2201) }))).toEqual([
      { path: 'caption', message: 'caption is 2201 characters; Instagram allows 2200' },
    ]);
  });
  it('accepts 30 hashtags and refuses 31', async () => {
    await accepted(photo({ caption: hashtags(30) }));
    expect(await rejected(photo({ caption: hashtags(31) }))).toEqual([
      { path: 'caption', message: 'caption has 31 hashtags; Instagram allows 30' },
    ]);
  });
  it('accepts 20 @mentions and refuses 21, not counting e-mail addresses', async () => {
    await accepted(photo({ caption: `${mentions(20)} write to me@example.com` }));
    expect(await rejected(photo({ caption: mentions(21) }))).toEqual([
      { path: 'caption', message: 'caption has 21 @mentions; Instagram allows 20' },
    ]);
  });
});

describe('url rules', () => {
  it('accepts a public https URL', async () => {
    await accepted(photo({ url: 'https://images.example.org/x/y.jpg?sig=abc' }));
  });
  it.each([
    ['http://cdn.example.com/a.jpg', 'url must use https'],
    ['ftp://cdn.example.com/a.jpg', 'url must use https'],
    ['not a url', 'url must be an absolute URL'],
    ['https://localhost/a.jpg', 'url must point at a public host, not a local name'],
    ['https://printer.local/a.jpg', 'url must point at a public host, not a local name'],
    [
      'https://127.0.0.1/a.jpg',
      'url must point at a public address, not a private, loopback, link-local or other special one',
    ],
    [
      'https://10.1.2.3/a.jpg',
      'url must point at a public address, not a private, loopback, link-local or other special one',
    ],
    [
      'https://172.20.0.1/a.jpg',
      'url must point at a public address, not a private, loopback, link-local or other special one',
    ],
    [
      'https://192.168.1.10/a.jpg',
      'url must point at a public address, not a private, loopback, link-local or other special one',
    ],
    [
      'https://169.254.169.254/latest',
      'url must point at a public address, not a private, loopback, link-local or other special one',
    ],
    [
      'https://[::1]/a.jpg',
      'url must point at a public address, not a private, loopback, link-local or other special one',
    ],
    [
      'https://[fe80::1]/a.jpg',
      'url must point at a public address, not a private, loopback, link-local or other special one',
    ],
    [
      'https://[fd00::1]/a.jpg',
      'url must point at a public address, not a private, loopback, link-local or other special one',
    ],
    [
      'https://[::ffff:127.0.0.1]/a.jpg',
      'url must point at a public address, not a private, loopback, link-local or other special one',
    ],
    [
      'https://2130706433/a.jpg',
      'url must point at a public address, not a private, loopback, link-local or other special one',
    ],
    [
      'https://0x7f.1/a.jpg',
      'url must point at a public address, not a private, loopback, link-local or other special one',
    ],
    ['https://user:pw@cdn.example.com/a.jpg', 'url must not contain credentials'],
    ['https://intranet/a.jpg', 'url must point at a public host name'],
  ])('refuses %s', async (url, message) => {
    expect(await rejected(photo({ url }))).toEqual([{ path: 'url', message }]);
  });
});

describe('field rules', () => {
  it('wants user_id as digits', async () => {
    expect(await rejected(photo({ user_id: 'abc' }))).toEqual([
      { path: 'user_id', message: 'user_id must be the digits of an Instagram professional account id' },
    ]);
  });
  it('knows Photo, Video and Carousel, and a carousel is made of children, not a url', async () => {
    const unknown = await rejected(photo({ content_type: 'Album' }));
    expect(unknown.map((i) => i.path)).toEqual(['content_type']);
    const carousel = await rejected(photo({ content_type: 'Carousel' }));
    expect(carousel).toEqual([
      { path: 'url', message: 'a carousel has no url: put its items in children' },
      { path: 'children', message: 'a carousel needs 2 to 10 children' },
      { path: 'user_tags', message: 'tag people on each child of a carousel (children.N.user_tags)' },
    ]);
  });
  it('wants tag coordinates in [0, 1] and at most 20 tags', async () => {
    const issues = await rejected(photo({ user_tags: [{ username: 'a', x: 1.5, y: -0.1 }] }));
    expect(issues).toEqual([
      { path: 'user_tags.0.x', message: 'must be between 0 and 1' },
      { path: 'user_tags.0.y', message: 'must be between 0 and 1' },
    ]);
    const many = Array.from({ length: 21 }, (_, i) => ({ username: `u${i}`, x: 0.1, y: 0.1 }));
    expect(await rejected(photo({ user_tags: many }))).toEqual([
      { path: 'user_tags', message: 'at most 20 user tags' },
    ]);
    await accepted(photo({ user_tags: many.slice(0, 20) }));
  });
  it('needs x and y on photo tags but not on video tags', async () => {
    expect(await rejected(photo({ user_tags: [{ username: 'a' }] }))).toEqual([
      { path: 'user_tags.0.x', message: 'x is required for photo tags' },
      { path: 'user_tags.0.y', message: 'y is required for photo tags' },
    ]);
    await accepted(video({ user_tags: [{ username: 'a' }] }));
  });
  it('takes thumb_offset for videos only, as whole non-negative milliseconds', async () => {
    expect(await rejected(photo({ thumb_offset: 100 }))).toEqual([
      { path: 'thumb_offset', message: 'thumb_offset is only for videos' },
    ]);
    expect((await rejected(video({ thumb_offset: -1 })))[0]!.path).toBe('thumb_offset');
    expect(await rejected(video({ thumb_offset: 1.5 }))).toEqual([
      { path: 'thumb_offset', message: 'thumb_offset is whole milliseconds' },
    ]);
  });
  it('wants date_pub as RFC 3339 with a zone', async () => {
    for (const date_pub of ['2030-01-01 10:00', '2030-01-01T10:00:00', 'tomorrow', '2030-13-01T00:00:00Z']) {
      expect(await rejected(photo({ date_pub }))).toEqual([
        {
          path: 'date_pub',
          message: 'date_pub must be RFC 3339 with a time zone, e.g. 2026-11-22T17:00:00Z',
        },
      ]);
    }
  });
  it('requires the graph token and refuses unknown fields', async () => {
    const { token: _t, ...withoutToken } = photo();
    expect((await rejected(withoutToken)).map((i) => i.path)).toEqual(['token']);
    const issues = await rejected(photo({ creation_id: '123' }));
    expect(issues).toEqual([{ path: '', message: expect.stringContaining('creation_id') }]);
  });
  it('lists every problem at once and stores nothing', async () => {
    const before = await t.server.database.sql`select count(*)::int as n from posts`;
    const issues = await rejected({ user_id: 'x', content_type: 'Gif', url: 'http://a', token: '' });
    expect(issues.map((i) => i.path).sort()).toEqual(['content_type', 'token', 'url', 'user_id']);
    const after = await t.server.database.sql`select count(*)::int as n from posts`;
    expect(after[0]!.n).toBe(before[0]!.n);
    const jobs = await t.server.database.sql`select count(*)::int as n from graphile_worker.jobs`;
    expect(jobs[0]!.n).toBe(after[0]!.n);
  });
  it('refuses a non-numeric post id in the path', async () => {
    const res = await t.api('GET', '/posts/abc', { token: t.token });
    expect(res.status).toBe(400);
    expect(res.body.issues[0].path).toBe('id');
  });
});

describe('malformed input that once made a 500', () => {
  it('answers 400 with a field issue for a NUL byte in caption or token, and stores nothing', async () => {
    for (const [field, value] of [
      ['caption', 'before\u0000after'],
      ['token', 'EAAG\u0000x'],
    ] as const) {
      const res = await t.api('POST', '/posts', { body: photo({ [field]: value }), token: t.token });
      expect(res.status, field).toBe(400);
      expect(res.body.issues).toEqual([{ path: field, message: `${field} must not contain NUL characters` }]);
    }
  });

  it('stores a NUL byte in url percent-encoded, as the URL parser reads it, not as a 500', async () => {
    const res = await t.api('POST', '/posts', {
      body: photo({ url: 'https://cdn.example.com/a\u0000b.jpg' }),
      token: t.token,
    });
    expect(res.status).toBe(201);
    expect(res.body.url).toBe('https://cdn.example.com/a%00b.jpg');
  });

  it('answers 400 for a date_pub at the end of year 9999', async () => {
    const res = await t.api('POST', '/posts', {
      body: photo({ date_pub: '9999-12-31T23:59:59Z' }),
      token: t.token,
    });
    expect(res.status).toBe(400);
    expect(res.body.issues).toEqual([
      { path: 'date_pub', message: 'date_pub must be before 2100-01-01T00:00:00Z' },
    ]);
  });
});
