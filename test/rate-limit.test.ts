import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import type { AppRouter } from '../server/router.ts';
import { useTestServer } from './helpers/setup.ts';

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
