import { describe, expect, it } from 'vitest';
import { jsonClient } from './helpers/http.ts';
import { restClient } from './helpers/openapi.ts';
import { GRAPH_TOKEN, IG_USER, photo, video } from './helpers/post-fixtures.ts';
import { userWithToken } from './helpers/users.ts';
import { useTestServer } from './helpers/setup.ts';

const t = useTestServer();

const INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

describe('creating posts', () => {
  it('stores a photo post and answers 201 with the post, without the token', async () => {
    const at = '2030-01-02T12:30:00+03:00';
    const { data, response } = await t.rest.POST('/posts', { body: photo({ date_pub: at }) });
    expect(response.status).toBe(201);
    expect(data).toMatchObject({
      user_id: IG_USER,
      content_type: 'Photo',
      url: 'https://cdn.example.com/photos/a.jpg',
      caption: 'Sunset #beach @friend',
      user_tags: [{ username: 'friend.one', x: 0.5, y: 0.8 }],
      thumb_offset: null,
      location_id: null,
      date_pub: '2030-01-02T09:30:00Z',
      status: 'scheduled',
      creation_id: null,
      media_id: null,
      permalink: null,
      error: null,
      attempts: 0,
      published_at: null,
    });
    expect(data!.created_at).toMatch(INSTANT);
    expect(JSON.stringify(data)).not.toContain(GRAPH_TOKEN);
    expect(data).not.toHaveProperty('token');
  });

  it('stores a video post with its cover frame and location', async () => {
    const { data, response } = await t.rest.POST('/posts', {
      body: video({ location_id: '110843418940484', user_tags: [{ username: 'someone' }] }),
    });
    expect(response.status).toBe(201);
    expect(data).toMatchObject({
      content_type: 'Video',
      thumb_offset: 1500,
      location_id: '110843418940484',
      user_tags: [{ username: 'someone', x: null, y: null }],
    });
  });

  it('schedules "as soon as possible" when date_pub is absent, null or past', async () => {
    for (const date_pub of [undefined, null, '2020-01-01T00:00:00Z']) {
      const before = Date.now() - 1000;
      const { data } = await t.rest.POST('/posts', { body: photo({ date_pub }) });
      const at = Date.parse(data!.date_pub);
      expect(at).toBeGreaterThanOrEqual(before);
      expect(at).toBeLessThanOrEqual(Date.now() + 1000);
    }
  });

  it('keeps the graph token encrypted at rest', async () => {
    const { data } = await t.rest.POST('/posts', { body: photo() });
    const [row] = await t.server.database.sql`select * from posts where id = ${data!.id}`;
    expect(JSON.stringify(row)).not.toContain(GRAPH_TOKEN);
    expect(row!.token_key_id).toMatch(/^[0-9a-f]{12}$/);
    expect(row!.token_ciphertext.length).toBeGreaterThan(GRAPH_TOKEN.length);
  });
});

describe('reading posts', () => {
  it('returns one post by id, with and without a trailing slash', async () => {
    const { data: created } = await t.rest.POST('/posts', { body: photo() });
    const { data, response } = await t.rest.GET('/posts/{id}', { params: { path: { id: created!.id } } });
    expect(response.status).toBe(200);
    expect(data).toEqual(created);
    const slash = await jsonClient(`${t.server.baseUrl}/api/v1`)('GET', `/posts/${created!.id}/`, {
      token: t.token,
    });
    expect(slash.status).toBe(200);
    expect(slash.body).toEqual(created);
  });

  it('answers 404 POST_NOT_FOUND for a missing post', async () => {
    const { error, response } = await t.rest.GET('/posts/{id}', { params: { path: { id: 999_999 } } });
    expect(response.status).toBe(404);
    expect(error).toEqual({
      code: 'POST_NOT_FOUND',
      number: 5010,
      message: 'No such post.',
      request_id: expect.any(String),
    });
  });

  it('lists newest first, filters by user_id and status, and pages with a cursor without gaps or repeats', async () => {
    const other = await userWithToken(t.server.database.db);
    const mine = restClient(t.server.baseUrl, other.token);
    const ids: number[] = [];
    for (let i = 0; i < 7; i++) {
      const { data } = await mine.POST('/posts', {
        body: photo({ user_id: i % 2 ? '111' : '222', caption: `n${i}` }),
      });
      ids.push(data!.id);
    }
    const seen: number[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const { data } = await mine.GET('/posts', {
        params: { query: { limit: 3, ...(cursor ? { cursor } : {}) } },
      });
      seen.push(...data!.items.map((p) => p.id));
      if (!data!.next_cursor) break;
      cursor = data!.next_cursor;
    }
    expect(seen).toEqual([...ids].reverse());

    const { data: filtered } = await mine.GET('/posts', { params: { query: { user_id: '111' } } });
    expect(filtered!.items.map((p) => p.caption)).toEqual(['n5', 'n3', 'n1']);
    expect(filtered!.next_cursor).toBeNull();
    const { data: failed } = await mine.GET('/posts', { params: { query: { status: 'failed' } } });
    expect(failed!.items).toEqual([]);
  });

  it('refuses a cursor it did not issue', async () => {
    const { error, response } = await t.rest.GET('/posts', { params: { query: { cursor: 'not-a-cursor' } } });
    expect(response.status).toBe(400);
    expect(error!.issues).toEqual([
      { path: 'cursor', message: 'cursor must be a next_cursor returned by this API' },
    ]);
  });
});

describe('updating posts', () => {
  it('PATCH changes only the fields given', async () => {
    const { data: created } = await t.rest.POST('/posts', { body: photo() });
    const { data, response } = await t.rest.PATCH('/posts/{id}', {
      params: { path: { id: created!.id } },
      body: { caption: 'New caption' },
    });
    expect(response.status).toBe(200);
    expect(data).toMatchObject({ ...created, caption: 'New caption', updated_at: expect.any(String) });
  });

  it('PATCH with null clears an optional field and with new tags replaces them', async () => {
    const { data: created } = await t.rest.POST('/posts', { body: photo({ location_id: '123' }) });
    const { data } = await t.rest.PATCH('/posts/{id}', {
      params: { path: { id: created!.id } },
      body: {
        location_id: null,
        user_tags: [
          { username: 'b', x: 0.1, y: 0.2 },
          { username: 'a', x: 1, y: 0 },
        ],
      },
    });
    expect(data).toMatchObject({
      location_id: null,
      user_tags: [
        { username: 'b', x: 0.1, y: 0.2 },
        { username: 'a', x: 1, y: 0 },
      ],
    });
  });

  it('PUT replaces the post: optional fields left out are cleared', async () => {
    const { data: created } = await t.rest.POST('/posts', { body: photo({ location_id: '123' }) });
    const { data, response } = await t.rest.PUT('/posts/{id}', {
      params: { path: { id: created!.id } },
      body: {
        user_id: '999',
        content_type: 'Video',
        url: 'https://cdn.example.com/v.mp4',
        token: 'another-token',
        date_pub: '2031-05-05T05:05:05Z',
      },
    });
    expect(response.status).toBe(200);
    expect(data).toMatchObject({
      user_id: '999',
      content_type: 'Video',
      caption: null,
      location_id: null,
      user_tags: [],
      thumb_offset: null,
      date_pub: '2031-05-05T05:05:05Z',
    });
  });

  it('PUT without a required field is a 400 naming it', async () => {
    const { data: created } = await t.rest.POST('/posts', { body: photo() });
    const { error, response } = await t.rest.PUT('/posts/{id}', {
      params: { path: { id: created!.id } },
      body: { user_id: '1', content_type: 'Photo', date_pub: null },
    });
    expect(response.status).toBe(400);
    expect(error!.issues!.map((i) => i.path).sort()).toEqual(['token', 'url']);
  });

  it('checks cross-field rules on the merged post', async () => {
    const { data: created } = await t.rest.POST('/posts', { body: video() });
    const { error, response } = await t.rest.PATCH('/posts/{id}', {
      params: { path: { id: created!.id } },
      body: { content_type: 'Photo' },
    });
    expect(response.status).toBe(400);
    expect(error).toEqual({
      code: 'VALIDATION_FAILED',
      number: 8000,
      message: 'The request is not valid.',
      issues: [{ path: 'thumb_offset', message: 'thumb_offset is only for videos' }],
      request_id: response.headers.get('x-request-id'),
    });
  });
});

describe('deleting posts and their history', () => {
  it('deletes with {id, deleted: true}; the post is then gone', async () => {
    const { data: created } = await t.rest.POST('/posts', { body: photo() });
    const { data, response } = await t.rest.DELETE('/posts/{id}', { params: { path: { id: created!.id } } });
    expect(response.status).toBe(200);
    expect(data).toEqual({ id: created!.id, deleted: true });
    expect((await t.rest.GET('/posts/{id}', { params: { path: { id: created!.id } } })).response.status).toBe(
      404,
    );
    expect(
      (await t.rest.DELETE('/posts/{id}', { params: { path: { id: created!.id } } })).response.status,
    ).toBe(404);
  });

  it('records what happened to a post, oldest first', async () => {
    const { data: created } = await t.rest.POST('/posts', {
      body: photo({ date_pub: '2030-01-01T00:00:00Z' }),
    });
    const id = created!.id;
    await t.rest.PATCH('/posts/{id}', {
      params: { path: { id } },
      body: { caption: 'x', token: 'rotated-token' },
    });
    await t.rest.PATCH('/posts/{id}', {
      params: { path: { id } },
      body: { date_pub: '2030-02-01T00:00:00Z' },
    });
    const { data } = await t.rest.GET('/posts/{id}/events', { params: { path: { id } } });
    expect(data!.items.map((e) => [e.type, e.message])).toEqual([
      ['created', 'Scheduled for 2030-01-01T00:00:00Z.'],
      ['updated', 'Changed caption, token.'],
      ['rescheduled', 'Moved to 2030-02-01T00:00:00Z.'],
    ]);
    expect(data!.items[2]!.date_pub).toBe('2030-02-01T00:00:00Z');
    expect(JSON.stringify(data)).not.toContain('rotated-token');
  });
});
