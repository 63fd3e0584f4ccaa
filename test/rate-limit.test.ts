import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import type { AppRouter } from '../server/router.ts';
import { jsonClient } from './helpers/http.ts';
import { startTestServer } from './helpers/server.ts';
import { useTestServer } from './helpers/setup.ts';
import { userWithToken } from './helpers/users.ts';

const t = useTestServer({ users: 2, env: { API_RATE_LIMIT: '5' } });

describe('the per-user API rate limit (API_RATE_LIMIT)', () => {
  it('counts down in RateLimit-* headers, then answers 429 with Retry-After', async () => {
    const token = t.users[0]!.token;
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await t.api('GET', '/user', { token });
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-limit')).toBe('5');
      remaining.push(res.headers.get('ratelimit-remaining')!);
      expect(Number(res.headers.get('ratelimit-reset'))).toBeLessThanOrEqual(60);
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0']);
    const refused = await t.api('GET', '/posts', { token });
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe('TOO_MANY_REQUESTS');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');

    // The same budget over tRPC: one user, one count.
    const client = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${t.server.baseUrl}/trpc`, headers: { authorization: `Bearer ${token}` } })],
    });
    const error = (await client.auth.me.query().catch((e: unknown) => e)) as TRPCClientError<AppRouter>;
    expect((error.data as { appCode?: string }).appCode).toBe('TOO_MANY_REQUESTS');
  });

  it('gives every user a budget of their own', async () => {
    const res = await t.api('GET', '/user', { token: t.users[1]!.token });
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-remaining')).toBe('4');
  });
});

describe('the rate limit across processes', () => {
  it('is shared: a user who used it up through one server is refused by another', async () => {
    const first = await startTestServer({ API_RATE_LIMIT: '3' });
    const other = await startTestServer({ API_RATE_LIMIT: '3' }, { databaseOf: first });
    try {
      const user = await userWithToken(first.database.db);
      const a = jsonClient(`${first.baseUrl}/api/v1`);
      for (let i = 0; i < 3; i++) expect((await a('GET', '/user', { token: user.token })).status).toBe(200);
      // The first server adds its requests to the shared count within a quarter of a second.
      await new Promise((r) => setTimeout(r, 600));
      const b = jsonClient(`${other.baseUrl}/api/v1`);
      expect((await b('GET', '/user', { token: user.token })).status).toBe(429);
    } finally {
      await other.close();
      await first.close();
    }
  });
});
