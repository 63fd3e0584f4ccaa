import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { createUser } from '../server/auth/users.ts';
import type { AppRouter } from '../server/router.ts';
import { jsonClient } from './helpers/http.ts';
import { startTestServer } from './helpers/server.ts';
import { useTestServer } from './helpers/setup.ts';

const t = useTestServer({ users: 0, env: { SIGNUP_ENABLED: 'true' } });
const PASSWORD = 'correct horse battery';

describe('the login throttle under concurrency', () => {
  it('lets at most 5 of 100 parallel guesses be checked, and not the right password after them', async () => {
    await createUser(t.server.database.db, { username: 'parallel@example.com', password: PASSWORD });
    const guesses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        t.api('POST', '/login', {
          body: { username: 'parallel@example.com', password: `guess ${i}` },
        }),
      ),
    );
    const statuses = guesses.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(95);
    const right = await t.api('POST', '/login', {
      body: { username: 'parallel@example.com', password: PASSWORD },
    });
    expect(right.status).toBe(429);
  });

  it('counts every login call of one tRPC batch, so a batch cannot smuggle guesses in', async () => {
    await createUser(t.server.database.db, { username: 'batch@example.com', password: PASSWORD });
    const client = createTRPCClient<AppRouter>({
      links: [httpBatchLink({ url: `${t.server.baseUrl}/trpc`, maxItems: 50 })],
    });
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        client.auth.login
          .mutate({ username: 'batch@example.com', password: i === 39 ? PASSWORD : `guess ${i}` })
          .then(
            () => 'ok',
            (e: unknown) =>
              ((e as TRPCClientError<AppRouter>).data as { appCode?: string } | undefined)?.appCode,
          ),
      ),
    );
    // At most 5 passwords were checked in all, the right one included.
    expect(results.filter((r) => r === 'INVALID_CREDENTIALS' || r === 'ok').length).toBeLessThanOrEqual(5);
    expect(results.filter((r) => r === 'TOO_MANY_REQUESTS').length).toBeGreaterThanOrEqual(35);
  });

  it('refuses a tRPC batch of more than 50 calls with 400', async () => {
    const res = await jsonClient(t.server.baseUrl)(
      'GET',
      `/trpc/${Array.from({ length: 51 }, () => 'auth.me').join(',')}?batch=1&input=${encodeURIComponent('{}')}`,
    );
    expect(res.status).toBe(400);
  });
});

describe('usernames', () => {
  it('lets a user with a Turkish dotted İ log in, in any case', async () => {
    const signup = await t.api('POST', '/signup', {
      body: { username: 'İpek@example.com', password: PASSWORD },
    });
    expect(signup.status).toBe(201);
    for (const username of ['İpek@example.com', 'İPEK@EXAMPLE.COM']) {
      const res = await t.api('POST', '/login', { body: { username, password: PASSWORD } });
      expect(res.status, username).toBe(200);
    }
  });

  it('treats full-width letters as their plain form: the same user, not a look-alike', async () => {
    const first = await t.api('POST', '/signup', {
      body: { username: 'wide@example.com', password: PASSWORD },
    });
    expect(first.status).toBe(201);
    const lookAlike = await t.api('POST', '/signup', {
      body: { username: 'ｗｉｄｅ@example.com', password: PASSWORD },
    });
    expect(lookAlike.status).toBe(409);
    expect(lookAlike.body.code).toBe('USERNAME_TAKEN');
    const login = await t.api('POST', '/login', {
      body: { username: 'ＷＩＤＥ@example.com', password: PASSWORD },
    });
    expect(login.status).toBe(200);
  });

  it('refuses control and invisible characters with 400, NUL included', async () => {
    for (const username of [
      'zero\u200bwidth@example.com',
      'bidi\u202e@example.com',
      'nul\u0000@example.com',
    ]) {
      for (const path of ['/signup', '/login']) {
        const res = await t.api('POST', path, { body: { username, password: PASSWORD } });
        expect(res.status, `${path} ${JSON.stringify(username)}`).toBe(400);
        expect(res.body.issues).toEqual([
          { path: 'username', message: 'username must not contain control or invisible characters' },
        ]);
      }
    }
  });
});

describe('sign-up when disabled', () => {
  it('answers 403 SIGNUP_DISABLED whatever the body, before validating it', async () => {
    const closed = await startTestServer();
    try {
      const api = jsonClient(`${closed.baseUrl}/api/v1`);
      for (const body of [{}, { username: '', password: 'x' }, { junk: true }]) {
        const res = await api('POST', '/signup', { body });
        expect(res.status).toBe(403);
        expect(res.body.code).toBe('SIGNUP_DISABLED');
      }
    } finally {
      await closed.close();
    }
  });
});
