import { describe, expect, it } from 'vitest';
import { createClient, errorCode, errorNumber, type paths } from '@autopost/instagram-autopost-sdk';
import createFetchClient from 'openapi-fetch';
import { GRAPH_TOKEN } from './helpers/post-fixtures.ts';
import { useTestServer } from './helpers/setup.ts';

const t = useTestServer();

describe('the SDK against a running server', () => {
  it('creates, lists, reads, updates, replaces and deletes posts over tRPC', async () => {
    const api = createClient({ url: `${t.server.baseUrl}/`, token: t.token });
    const post = await api.posts.create.mutate({
      user_id: '42',
      content_type: 'Photo',
      url: 'https://cdn.example.com/sdk.jpg',
      token: GRAPH_TOKEN,
      date_pub: '2030-01-01T10:00:00Z',
    });
    expect(post).toMatchObject({ user_id: '42', status: 'scheduled', date_pub: '2030-01-01T10:00:00Z' });
    expect(JSON.stringify(post)).not.toContain(GRAPH_TOKEN);

    const page = await api.posts.list.query({ user_id: '42' });
    expect(page.items.map((p) => p.id)).toEqual([post.id]);
    expect(await api.posts.get.query({ id: post.id })).toEqual(post);

    const patched = await api.posts.update.mutate({ id: post.id, caption: 'via sdk' });
    expect(patched.caption).toBe('via sdk');
    const replaced = await api.posts.replace.mutate({
      id: post.id,
      user_id: '43',
      content_type: 'Video',
      url: 'https://cdn.example.com/sdk.mp4',
      token: 'another',
      thumb_offset: 10,
    });
    expect(replaced).toMatchObject({ user_id: '43', content_type: 'Video', caption: null, thumb_offset: 10 });
    const events = await api.posts.events.query({ id: post.id });
    expect(events.items.map((e) => e.type)).toEqual(['created', 'updated', 'updated', 'rescheduled']);

    expect(await api.posts.delete.mutate({ id: post.id })).toEqual({ id: post.id, deleted: true });
    const missing = await api.posts.get.query({ id: post.id }).catch((e: unknown) => e);
    expect(errorCode(missing)).toBe('POST_NOT_FOUND');
  });

  it('reports validation problems with the server’s code', async () => {
    const api = createClient({ url: t.server.baseUrl, token: t.token });
    const error = await api.posts.create
      .mutate({ user_id: 'abc', content_type: 'Photo', url: 'http://x.example.com/a.jpg', token: 't' })
      .catch((e: unknown) => e);
    expect(errorCode(error)).toBe('VALIDATION_FAILED');
  });

  it('reaches accounts and the error dictionary, with numbered errors', async () => {
    const api = createClient({ url: t.server.baseUrl, token: t.token });
    expect(await api.instagrams.list.query({})).toEqual({ items: [] });
    const missing = await api.instagrams.get.query({ id: 999 }).catch((e: unknown) => e);
    expect(errorCode(missing)).toBe('INSTAGRAM_NOT_FOUND');
    expect(errorNumber(missing)).toBe(2010);
    const refused = await api.instagrams.create
      .mutate({ token: 'IGAAx', password: 'secret' })
      .catch((e: unknown) => e);
    expect(errorCode(refused)).toBe('PASSWORD_NOT_ACCEPTED');
    const dictionary = await api.errors.list.query({});
    expect(dictionary.items.find((e) => e.code === 'INSTAGRAM_SUSPECTED')?.number).toBe(1050);
  });

  it('reports UNAUTHORIZED without a token', async () => {
    const api = createClient({ url: t.server.baseUrl });
    expect(errorCode(await api.auth.me.query().catch((e: unknown) => e))).toBe('UNAUTHORIZED');
  });

  it('exports REST types that type an openapi-fetch client', async () => {
    const rest = createFetchClient<paths>({
      baseUrl: `${t.server.baseUrl}/api/v1`,
      headers: { authorization: `Token ${t.token}` },
    });
    const { data, response } = await rest.GET('/user');
    expect(response.status).toBe(200);
    expect(data!.username).toMatch(/@example\.com$/);
  });
});
