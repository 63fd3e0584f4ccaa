import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSession, sessionIdFromToken } from '../server/auth/sessions.ts';
import { createUser } from '../server/auth/users.ts';
import { sessions } from '../server/db/schema.ts';
import { jsonClient } from './helpers/http.ts';
import { startTestServer } from './helpers/server.ts';
import { useTestServer } from './helpers/setup.ts';

const t = useTestServer({ users: 0 });

const PASSWORD = 'correct horse battery';
beforeAll(async () => {
  await createUser(t.server.database.db, { username: 'ann@example.com', password: PASSWORD });
});

async function loginToken(username = 'ann@example.com'): Promise<string> {
  const res = await t.api('POST', '/api-token-auth/', { body: { username, password: PASSWORD } });
  expect(res.status).toBe(200);
  return res.body.token;
}

describe('logging in', () => {
  it('gives a token and its expiry on both login routes, with and without a trailing slash', async () => {
    for (const path of ['/api-token-auth/', '/api-token-auth', '/login', '/login/']) {
      const res = await t.api('POST', path, { body: { username: 'ann@example.com', password: PASSWORD } });
      expect(res.status, path).toBe(200);
      expect(res.body.token).toMatch(/^[a-z2-7]{32}$/);
      const expire = Date.parse(res.body.expire);
      expect(res.body.expire).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(expire - Date.now()).toBeGreaterThan(29 * 86_400_000);
    }
  });

  it('treats the username case-insensitively', async () => {
    const res = await t.api('POST', '/login', { body: { username: 'ANN@example.com', password: PASSWORD } });
    expect(res.status).toBe(200);
  });

  it('gives the same 401 for a wrong password and an unknown user, in similar time', async () => {
    const timed = async (username: string) => {
      const started = performance.now();
      const res = await t.api('POST', '/login', { body: { username, password: 'wrong password' } });
      return { res, ms: performance.now() - started };
    };
    const wrong = await timed('ann@example.com');
    const unknown = await timed('nobody@example.com');
    expect(wrong.res.status).toBe(401);
    expect(unknown.res.status).toBe(401);
    expect({ ...unknown.res.body, request_id: 'x' }).toEqual({ ...wrong.res.body, request_id: 'x' });
    expect(wrong.res.body).toEqual({
      code: 'INVALID_CREDENTIALS',
      number: 401,
      message: 'Incorrect username or password.',
      request_id: expect.any(String),
    });
    // Both must pay for a password hash; a skipped hash answers ~10x faster.
    expect(unknown.ms).toBeGreaterThan(wrong.ms / 4);
  });

  it('stores only the hash of the token, never the token', async () => {
    const token = await loginToken();
    const rows = await t.server.database.sql`select id from sessions`;
    expect(rows.map((r) => r.id)).toContain(sessionIdFromToken(token));
    expect(rows.map((r) => r.id)).not.toContain(token);
  });

  it('rejects a login body that is not credentials with per-field issues', async () => {
    const res = await t.api('POST', '/login', { body: { username: '' } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.issues.map((i: { path: string }) => i.path).sort()).toEqual(['password', 'username']);
  });
});

describe('using a token', () => {
  it('accepts both `Token <t>` and `Bearer <t>`', async () => {
    const token = await loginToken();
    for (const scheme of ['Token', 'Bearer', 'bearer']) {
      const res = await t.api('GET', '/user', { headers: { authorization: `${scheme} ${token}` } });
      expect(res.status, scheme).toBe(200);
      expect(res.body).toMatchObject({ username: 'ann@example.com' });
      expect(res.body.created_at).toMatch(/Z$/);
    }
  });

  it('answers 401 with no token, a malformed header or an unknown token', async () => {
    const variants: Record<string, string>[] = [
      {},
      { authorization: 'Basic abc' },
      { authorization: 'Bearer' },
      { authorization: 'Bearer nope' },
    ];
    for (const headers of variants) {
      const res = await t.api('GET', '/user/', { headers });
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('UNAUTHORIZED');
    }
  });

  it('refresh gives a new token and kills the old one', async () => {
    const old = await loginToken();
    const res = await t.api('GET', '/user/refresh_token', { token: old });
    expect(res.status).toBe(200);
    expect(res.body.token).not.toBe(old);
    expect((await t.api('GET', '/user', { token: old })).status).toBe(401);
    expect((await t.api('GET', '/user', { token: res.body.token })).status).toBe(200);
    // A second refresh with the dead token cannot mint another.
    expect((await t.api('GET', '/user/refresh_token/', { token: old })).status).toBe(401);
  });

  it('logout kills the presented token and only that one', async () => {
    const a = await loginToken();
    const b = await loginToken();
    const res = await t.api('POST', '/logout', { token: a });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ logged_out: true });
    expect((await t.api('GET', '/user', { token: a })).status).toBe(401);
    expect((await t.api('GET', '/user', { token: b })).status).toBe(200);
  });

  it('stops working once expired', async () => {
    const user = (await t.server.database.sql`select id from users where username = 'ann@example.com'`)[0]!;
    const { token } = await createSession(t.server.database.db, {
      userId: Number(user.id),
      kind: 'api',
      ttlSeconds: 3600,
      now: new Date(Date.now() - 3601_000),
    });
    const res = await t.api('GET', '/user', { token });
    expect(res.status).toBe(401);
    // The dead session is removed, not kept around.
    const left = await t.server.database.db
      .select()
      .from(sessions)
      .where(eq(sessions.id, sessionIdFromToken(token)));
    expect(left).toHaveLength(0);
  });

  it('slides expiry forward once half the lifetime is used', async () => {
    const user = (await t.server.database.sql`select id from users where username = 'ann@example.com'`)[0]!;
    const ttl = 3600;
    const { token, expiresAt } = await createSession(t.server.database.db, {
      userId: Number(user.id),
      kind: 'api',
      ttlSeconds: ttl,
      now: new Date(Date.now() - 2000_000), // 2000 s of 3600 used: renew
    });
    expect((await t.api('GET', '/user', { token })).status).toBe(200);
    const [row] = await t.server.database.db
      .select()
      .from(sessions)
      .where(eq(sessions.id, sessionIdFromToken(token)));
    expect(row!.expiresAt.getTime()).toBeGreaterThan(expiresAt.getTime() + 1900_000);
    expect(row!.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + ttl * 1000);
  });
});

describe('signup', () => {
  it('is refused with 403 unless SIGNUP_ENABLED=true', async () => {
    const res = await t.api('POST', '/signup', {
      body: { username: 'new@example.com', password: 'long enough' },
    });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('SIGNUP_DISABLED');
  });

  it('creates a user with 201 when enabled, and refuses a taken name or a short password', async () => {
    const open = await startTestServer({ SIGNUP_ENABLED: 'true' });
    try {
      const openApi = jsonClient(`${open.baseUrl}/api/v1`);
      const res = await openApi('POST', '/signup/', {
        body: { username: 'Bob@example.com', password: 'long enough' },
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ id: expect.any(Number), username: 'Bob@example.com' });
      const again = await openApi('POST', '/signup', {
        body: { username: 'bob@EXAMPLE.com', password: 'long enough' },
      });
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('USERNAME_TAKEN');
      const short = await openApi('POST', '/signup', {
        body: { username: 'c@example.com', password: 'short' },
      });
      expect(short.status).toBe(400);
      expect(short.body.issues).toEqual([
        { path: 'password', message: 'password must be at least 8 characters' },
      ]);
      const login = await openApi('POST', '/login', {
        body: { username: 'bob@example.com', password: 'long enough' },
      });
      expect(login.status).toBe(200);
      const [row] = await open.database.sql`select password_hash from users`;
      expect(row!.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    } finally {
      await open.close();
    }
  });
});

describe('the failed-login throttle', () => {
  it('refuses a username with 429 after 5 failures, even with the right password', async () => {
    await createUser(t.server.database.db, { username: 'target@example.com', password: PASSWORD });
    for (let i = 0; i < 5; i++) {
      const res = await t.api('POST', '/login', {
        body: { username: 'target@example.com', password: `guess ${i}` },
      });
      expect(res.status).toBe(401);
    }
    const blocked = await t.api('POST', '/login', {
      body: { username: 'target@example.com', password: PASSWORD },
    });
    expect(blocked.status).toBe(429);
    expect(blocked.body.code).toBe('TOO_MANY_REQUESTS');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(800);
    // Other users are not locked out by someone else's guesses.
    expect(
      (await t.api('POST', '/login', { body: { username: 'ann@example.com', password: PASSWORD } })).status,
    ).toBe(200);
  });

  it('lets the username in again once the window has passed', async () => {
    await createUser(t.server.database.db, { username: 'later@example.com', password: PASSWORD });
    for (let i = 0; i < 5; i++)
      await t.api('POST', '/login', { body: { username: 'later@example.com', password: 'x' } });
    expect(
      (await t.api('POST', '/login', { body: { username: 'later@example.com', password: PASSWORD } })).status,
    ).toBe(429);
    await t.server.database
      .sql`update rate_limits set expire = now() where key = 'login:user:later@example.com'`;
    expect(
      (await t.api('POST', '/login', { body: { username: 'later@example.com', password: PASSWORD } })).status,
    ).toBe(200);
  });

  it('refuses an address that guesses across many usernames', async () => {
    const guesser = await startTestServer();
    try {
      const g = jsonClient(`${guesser.baseUrl}/api/v1`);
      for (let i = 0; i < 30; i++)
        await g('POST', '/login', { body: { username: `u${i}@example.com`, password: 'x' } });
      const res = await g('POST', '/login', { body: { username: 'fresh@example.com', password: 'x' } });
      expect(res.status).toBe(429);
    } finally {
      await guesser.close();
    }
  });
});

describe('secrets in logs', () => {
  it('never writes passwords or tokens to the log', async () => {
    const token = await loginToken();
    await t.api('GET', '/user', { token });
    await t.api('POST', '/login', { body: { username: 'ann@example.com', password: 'a wrong secret' } });
    const logs = t.server.logs();
    expect(logs).toContain('request completed');
    expect(logs).toContain('"path":"/api/v1/user"');
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(PASSWORD);
    expect(logs).not.toContain('a wrong secret');
  });
});
