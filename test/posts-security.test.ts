import { describe, expect, it } from 'vitest';
import { type JsonResponse } from './helpers/http.ts';
import { GRAPH_TOKEN, photo } from './helpers/post-fixtures.ts';
import { useTestServer } from './helpers/setup.ts';

const t = useTestServer({ users: 2 });

const responses: JsonResponse[] = [];

type Who = 'owner' | 'stranger' | 'anonymous';
const tokenOf = (who: Who) =>
  who === 'owner' ? t.users[0]!.token : who === 'stranger' ? t.users[1]!.token : undefined;

async function ownersPost(): Promise<number> {
  const res = await t.api('POST', '/posts', { body: photo(), token: t.users[0]!.token });
  expect(res.status).toBe(201);
  return res.body.id;
}

/** Every post route, with what the owner, another user and nobody get. */
const ROUTES: {
  name: string;
  call: (id: number, token: string | undefined) => Promise<JsonResponse>;
  expect: Record<Who, number>;
}[] = [
  {
    name: 'GET /posts/{id}',
    call: (id, token) => t.api('GET', `/posts/${id}`, { token }),
    expect: { owner: 200, stranger: 404, anonymous: 401 },
  },
  {
    name: 'PATCH /posts/{id}',
    call: (id, token) => t.api('PATCH', `/posts/${id}/`, { token, body: { caption: 'mine now' } }),
    expect: { owner: 200, stranger: 404, anonymous: 401 },
  },
  {
    name: 'PUT /posts/{id}',
    call: (id, token) => t.api('PUT', `/posts/${id}`, { token, body: photo({ caption: 'replaced' }) }),
    expect: { owner: 200, stranger: 404, anonymous: 401 },
  },
  {
    name: 'GET /posts/{id}/events',
    call: (id, token) => t.api('GET', `/posts/${id}/events/`, { token }),
    expect: { owner: 200, stranger: 404, anonymous: 401 },
  },
  {
    name: 'DELETE /posts/{id}',
    call: (id, token) => t.api('DELETE', `/posts/${id}`, { token }),
    expect: { owner: 200, stranger: 404, anonymous: 401 },
  },
  {
    name: 'POST /posts',
    call: (_id, token) => t.api('POST', '/posts', { token, body: photo() }),
    expect: { owner: 201, stranger: 201, anonymous: 401 },
  },
  {
    name: 'GET /posts',
    call: (_id, token) => t.api('GET', '/posts', { token }),
    expect: { owner: 200, stranger: 200, anonymous: 401 },
  },
];

describe('who may do what', () => {
  for (const route of ROUTES) {
    for (const who of ['stranger', 'anonymous', 'owner'] as const) {
      it(`${route.name} as ${who} → ${route.expect[who]}`, async () => {
        const id = await ownersPost();
        const before = (await t.api('GET', `/posts/${id}`, { token: t.users[0]!.token })).body;
        const res = await route.call(id, tokenOf(who));
        responses.push(res);
        expect(res.status).toBe(route.expect[who]);
        if (who !== 'owner') {
          // Nothing of the owner's post leaks, and nothing about it changed.
          expect(res.text).not.toContain(`"id":${id},`);
          const after = await t.api('GET', `/posts/${id}`, { token: t.users[0]!.token });
          expect(after.status).toBe(200);
          expect(after.body).toEqual(before);
        }
        if (res.status === 404)
          expect(res.body).toEqual({
            code: 'POST_NOT_FOUND',
            number: 5010,
            message: 'No such post.',
            request_id: expect.any(String),
          });
        if (res.status === 401) expect(res.body.code).toBe('UNAUTHORIZED');
      });
    }
  }

  it('lists only the caller’s posts, even filtered by the owner’s account id', async () => {
    await ownersPost();
    const res = await t.api('GET', '/posts?user_id=17841400008460056&limit=200', {
      token: t.users[1]!.token,
    });
    expect(res.status).toBe(200);
    const strangers = await t.server.database
      .sql`select id from posts where owner_id = ${t.users[1]!.id} order by id desc`;
    const owners = await t.server.database.sql`select id from posts where owner_id = ${t.users[0]!.id}`;
    expect(owners.length).toBeGreaterThan(0);
    expect(res.body.items.map((p: { id: number }) => p.id)).toEqual(strangers.map((r) => Number(r.id)));
  });

  it('never sends the graph access token back in any response', () => {
    expect(responses.length).toBeGreaterThan(15);
    for (const res of responses) expect(res.text).not.toContain(GRAPH_TOKEN);
  });
});
