import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonClient, type JsonResponse } from './helpers/http.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { GRAPH_TOKEN, photo, userWithToken } from './helpers/users.ts';

let server: TestServer;
let api: ReturnType<typeof jsonClient>;
let owner: { id: number; token: string };
let stranger: { id: number; token: string };
const responses: JsonResponse[] = [];

beforeAll(async () => {
  server = await startTestServer();
  api = jsonClient(`${server.baseUrl}/api/v1`);
  owner = await userWithToken(server.database.db);
  stranger = await userWithToken(server.database.db);
});
afterAll(() => server.close());

type Who = 'owner' | 'stranger' | 'anonymous';
const tokenOf = (who: Who) =>
  who === 'owner' ? owner.token : who === 'stranger' ? stranger.token : undefined;

async function ownersPost(): Promise<number> {
  const res = await api('POST', '/posts', { body: photo(), token: owner.token });
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
    call: (id, t) => api('GET', `/posts/${id}`, { token: t }),
    expect: { owner: 200, stranger: 404, anonymous: 401 },
  },
  {
    name: 'PATCH /posts/{id}',
    call: (id, t) => api('PATCH', `/posts/${id}/`, { token: t, body: { caption: 'mine now' } }),
    expect: { owner: 200, stranger: 404, anonymous: 401 },
  },
  {
    name: 'PUT /posts/{id}',
    call: (id, t) => api('PUT', `/posts/${id}`, { token: t, body: photo({ caption: 'replaced' }) }),
    expect: { owner: 200, stranger: 404, anonymous: 401 },
  },
  {
    name: 'GET /posts/{id}/events',
    call: (id, t) => api('GET', `/posts/${id}/events/`, { token: t }),
    expect: { owner: 200, stranger: 404, anonymous: 401 },
  },
  {
    name: 'DELETE /posts/{id}',
    call: (id, t) => api('DELETE', `/posts/${id}`, { token: t }),
    expect: { owner: 200, stranger: 404, anonymous: 401 },
  },
  {
    name: 'POST /posts',
    call: (_id, t) => api('POST', '/posts', { token: t, body: photo() }),
    expect: { owner: 201, stranger: 201, anonymous: 401 },
  },
  {
    name: 'GET /posts',
    call: (_id, t) => api('GET', '/posts', { token: t }),
    expect: { owner: 200, stranger: 200, anonymous: 401 },
  },
];

describe('who may do what', () => {
  for (const route of ROUTES) {
    for (const who of ['stranger', 'anonymous', 'owner'] as const) {
      it(`${route.name} as ${who} → ${route.expect[who]}`, async () => {
        const id = await ownersPost();
        const before = (await api('GET', `/posts/${id}`, { token: owner.token })).body;
        const res = await route.call(id, tokenOf(who));
        responses.push(res);
        expect(res.status).toBe(route.expect[who]);
        if (who !== 'owner') {
          // Nothing of the owner's post leaks, and nothing about it changed.
          expect(res.text).not.toContain(`"id":${id},`);
          const after = await api('GET', `/posts/${id}`, { token: owner.token });
          expect(after.status).toBe(200);
          expect(after.body).toEqual(before);
        }
        if (res.status === 404)
          expect(res.body).toEqual({
            code: 'POST_NOT_FOUND',
            message: 'No such post.',
            request_id: expect.any(String),
          });
        if (res.status === 401) expect(res.body.code).toBe('UNAUTHORIZED');
      });
    }
  }

  it('lists only the caller’s posts, even filtered by the owner’s account id', async () => {
    await ownersPost();
    const res = await api('GET', '/posts?user_id=17841400008460056&limit=200', { token: stranger.token });
    expect(res.status).toBe(200);
    const strangers = await server.database
      .sql`select id from posts where owner_id = ${stranger.id} order by id desc`;
    const owners = await server.database.sql`select id from posts where owner_id = ${owner.id}`;
    expect(owners.length).toBeGreaterThan(0);
    expect(res.body.items.map((p: { id: number }) => p.id)).toEqual(strangers.map((r) => Number(r.id)));
  });

  it('never sends the graph access token back in any response', () => {
    expect(responses.length).toBeGreaterThan(15);
    for (const res of responses) expect(res.text).not.toContain(GRAPH_TOKEN);
  });
});
