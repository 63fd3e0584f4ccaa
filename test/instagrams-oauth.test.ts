import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { jsonClient } from './helpers/http.ts';
import { startPublisherEnv, type PublisherEnv } from './helpers/publisher.ts';
import { startTestServer } from './helpers/server.ts';
import { userWithToken } from './helpers/users.ts';

let env: PublisherEnv;

beforeAll(async () => {
  env = await startPublisherEnv({
    env: { APP_REDIRECT_URIS: 'myapp://oauth, https://app.example.com/done' },
  });
});
afterAll(() => env.close());
beforeEach(() => {
  env.fake.authorize = { decision: 'approve' };
});

/** What the app does: start, open authorize_url (the fake approves at once), follow Meta's redirect to us. */
async function signIn(
  loginType: 'instagram' | 'facebook',
  opts: { token?: string; redirectUri?: string } = {},
) {
  const start = await env.api('POST', '/instagrams/connect', {
    body: { login_type: loginType, redirect_uri: opts.redirectUri ?? 'myapp://oauth/done' },
    token: opts.token ?? env.token,
  });
  expect(start.status).toBe(200);
  const authorize = await fetch(start.body.authorize_url as string, { redirect: 'manual' });
  expect(authorize.status).toBe(302);
  const callback = authorize.headers.get('location')!;
  const back = await fetch(callback, { redirect: 'manual' });
  return { start: start.body, callback, back, location: back.headers.get('location') };
}

const query = (location: string | null) => Object.fromEntries(new URL(location!).searchParams);

describe('OAuth connect, Instagram Login', () => {
  it('goes from connect to a redirect to the app with the new account, subscribed to webhooks', async () => {
    const account = env.fake.addAccount({ username: 'oauth.creator' });
    env.fake.authorize = { decision: 'approve', igUserId: account.igUserId };
    const { start, callback, back, location } = await signIn('instagram');

    const authorizeUrl = new URL(start.authorize_url);
    expect(Object.fromEntries(authorizeUrl.searchParams)).toMatchObject({
      client_id: env.fake.apps.instagram.id,
      redirect_uri: `${env.server.baseUrl}/api/v1/oauth/instagram/callback`,
      response_type: 'code',
      state: start.state,
    });
    expect(authorizeUrl.searchParams.get('scope')).toContain('instagram_business_content_publish');
    expect(Date.parse(start.expires_at)).toBeGreaterThan(Date.now() + 14 * 60_000);
    expect(callback.startsWith(`${env.server.baseUrl}/api/v1/oauth/instagram/callback?`)).toBe(true);

    expect(back.status).toBe(302);
    expect(location!.startsWith('myapp://oauth/done?')).toBe(true);
    const q = query(location);
    expect(q.status).toBe('connected');
    const got = await env.api('GET', `/instagrams/${q.instagram_id}`, { token: env.token });
    // The id comes from /me: the code exchange's user_id is a number past 2^53 that JSON cannot carry exactly.
    expect(got.body).toMatchObject({
      user_id: account.igUserId,
      username: 'oauth.creator',
      login_type: 'instagram',
    });
    expect(Date.parse(got.body.token_expires_at)).toBeGreaterThan(Date.now() + 59 * 86_400_000);
    expect(env.fake.subscriptions.get(account.igUserId)).toBe('comments,messages');
    // The code went to api.instagram.com's endpoint with our secret, then the token was made long-lived.
    const exchange = env.fake.requests.find((r) => r.endpoint === 'ig_code')!;
    expect(exchange.params).toMatchObject({
      grant_type: 'authorization_code',
      client_secret: env.fake.apps.instagram.secret,
    });
    // Only the state's hash is stored, and it is gone once used.
    const [states] = await env.server.database.sql<
      { n: number }[]
    >`select count(*)::int as n from oauth_states`;
    expect(states!.n).toBe(0);
  });

  it('accepts the code exchange answer wrapped in data[]', async () => {
    env.fake.wrapCodeAnswer = true;
    try {
      const { location } = await signIn('instagram');
      expect(query(location).status).toBe('connected');
    } finally {
      env.fake.wrapCodeAnswer = false;
    }
  });

  it('stores the state hashed, and a used, unknown or expired state gets a 400 page and no redirect', async () => {
    const start = await env.api('POST', '/instagrams/connect', {
      body: { login_type: 'instagram', redirect_uri: 'myapp://oauth' },
      token: env.token,
    });
    const rows = await env.server.database.sql<{ id: string }[]>`select id from oauth_states`;
    expect(rows.map((r) => r.id)).toEqual([createHash('sha256').update(start.body.state).digest('hex')]);
    // Expired: 15 minutes passed.
    await env.server.database.sql`update oauth_states set expires_at = now() - interval '1 second'`;
    const authorize = await fetch(start.body.authorize_url, { redirect: 'manual' });
    const expired = await fetch(authorize.headers.get('location')!, { redirect: 'manual' });
    expect(expired.status).toBe(400);
    expect(expired.headers.get('location')).toBeNull();
    expect(await expired.text()).toContain('unknown, used or expired');

    const { callback, location } = await signIn('instagram');
    expect(query(location).status).toBe('connected');
    const reused = await fetch(callback, { redirect: 'manual' });
    expect(reused.status).toBe(400);
    expect(reused.headers.get('location')).toBeNull();

    const unknown = await fetch(
      `${env.server.baseUrl}/api/v1/oauth/instagram/callback?code=x&state=made-up`,
      {
        redirect: 'manual',
      },
    );
    expect(unknown.status).toBe(400);
    // A state for one login type is not one for the other.
    const fb = await env.api('POST', '/instagrams/connect', {
      body: { login_type: 'facebook', redirect_uri: 'myapp://oauth' },
      token: env.token,
    });
    const crossed = await fetch(
      `${env.server.baseUrl}/api/v1/oauth/instagram/callback?code=x&state=${fb.body.state}`,
      {
        redirect: 'manual',
      },
    );
    expect(crossed.status).toBe(400);
  });

  it('never redirects anywhere but APP_REDIRECT_URIS', async () => {
    for (const redirect of [
      'https://evil.example.com/',
      'myapp://oauthevil',
      'https://app.example.com/done.evil.com',
      'https://app.example.com/doneX',
      'javascript:alert(1)',
      // Judged where the browser lands, after WHATWG normalisation.
      'https://app.example.com/done/../../evil',
      'https://app.example.com/done/%2e%2e/evil',
      'HTTPS://APP.EXAMPLE.COM/done/./../elsewhere',
    ]) {
      const res = await env.api('POST', '/instagrams/connect', {
        body: { login_type: 'instagram', redirect_uri: redirect },
        token: env.token,
      });
      expect(res.status, redirect).toBe(400);
      expect(res.body.issues[0].path).toBe('redirect_uri');
    }
    const fine = await env.api('POST', '/instagrams/connect', {
      body: { login_type: 'instagram', redirect_uri: 'https://app.example.com/done?from=ios' },
      token: env.token,
    });
    expect(fine.status).toBe(200);
  });

  it('sends the app status=error when the user declines or Meta refuses the code, and connects nothing', async () => {
    const before = (await env.api('GET', '/instagrams', { token: env.token })).body.items.length;
    env.fake.authorize = { decision: 'deny' };
    const denied = await signIn('instagram');
    expect(denied.back.status).toBe(302);
    expect(query(denied.location)).toMatchObject({ status: 'error', code: 'OAUTH_DENIED' });

    env.fake.authorize = { decision: 'approve' };
    const start = await env.api('POST', '/instagrams/connect', {
      body: { login_type: 'instagram', redirect_uri: 'myapp://oauth' },
      token: env.token,
    });
    const authorize = await fetch(start.body.authorize_url, { redirect: 'manual' });
    const forged = new URL(authorize.headers.get('location')!);
    forged.searchParams.set('code', 'AQnotacode');
    const refused = await fetch(forged, { redirect: 'manual' });
    const q = query(refused.headers.get('location'));
    expect(q).toMatchObject({ status: 'error', code: 'INSTAGRAM_LOGIN_FAILED' });
    expect(q.message).toContain('Invalid verification code');
    expect((await env.api('GET', '/instagrams', { token: env.token })).body.items.length).toBe(before);
  });

  it('saves the account for the user who started the sign-in, not for anyone else', async () => {
    const other = await userWithToken(env.server.database.db);
    const account = env.fake.addAccount();
    env.fake.authorize = { decision: 'approve', igUserId: account.igUserId };
    const { location } = await signIn('instagram', { token: other.token });
    const id = query(location).instagram_id;
    expect((await env.api('GET', `/instagrams/${id}`, { token: other.token })).status).toBe(200);
    expect((await env.api('GET', `/instagrams/${id}`, { token: env.token })).status).toBe(404);
  });
});

describe('OAuth connect, Facebook Login', () => {
  it('connects every Instagram account of the granted Pages with their Page tokens', async () => {
    const a = env.fake.addAccount({ username: 'page.one' });
    const b = env.fake.addAccount({ username: 'page.two', fbUserId: a.fbUserId });
    env.fake.authorize = { decision: 'approve', igUserId: a.igUserId };
    const { start, location } = await signIn('facebook');
    expect(new URL(start.authorize_url).searchParams.get('scope')).toContain('pages_show_list');
    const q = query(location);
    expect(q.status).toBe('connected');
    const ids = q.instagram_id!.split(',');
    expect(ids).toHaveLength(2);
    const accounts = await Promise.all(
      ids.map((id) => env.api('GET', `/instagrams/${id}`, { token: env.token })),
    );
    expect(accounts.map((r) => r.body.user_id).sort()).toEqual([a.igUserId, b.igUserId].sort());
    for (const r of accounts)
      expect(r.body).toMatchObject({ login_type: 'facebook', token_expires_at: null });
    expect(env.fake.subscriptions.has(a.igUserId) && env.fake.subscriptions.has(b.igUserId)).toBe(true);
    // The user token was made long-lived first, so the Page tokens never expire.
    expect(
      env.fake.requests.some(
        (r) => r.endpoint === 'oauth_token' && r.params.grant_type === 'fb_exchange_token',
      ),
    ).toBe(true);
  });

  it('answers 503 OAUTH_NOT_CONFIGURED without an app id', async () => {
    const bare = await startTestServer({ APP_REDIRECT_URIS: 'myapp://oauth' });
    try {
      const user = await userWithToken(bare.database.db);
      const res = await jsonClient(`${bare.baseUrl}/api/v1`)('POST', '/instagrams/connect', {
        body: { login_type: 'facebook', redirect_uri: 'myapp://oauth' },
        token: user.token,
      });
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ code: 'OAUTH_NOT_CONFIGURED', number: 2120 });
      expect(res.body.message).toContain('FACEBOOK_APP_ID');
    } finally {
      await bare.close();
    }
  });
});
