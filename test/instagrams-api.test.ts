import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FakeAccount } from '../server/graph/fake-graph.ts';
import type { JsonResponse } from './helpers/http.ts';
import { startPublisherEnv, type PublisherEnv } from './helpers/publisher.ts';
import { userWithToken } from './helpers/users.ts';

let env: PublisherEnv;
let stranger: string;

beforeAll(async () => {
  env = await startPublisherEnv();
  stranger = (await userWithToken(env.server.database.db)).token;
});
afterAll(() => env.close());
beforeEach(() => {
  env.fake.requests.length = 0;
});

const connect = (body: Record<string, unknown>, token = env.token) =>
  env.api('POST', '/instagrams', { body, token });

/** A new professional account at Meta, with a long-lived Instagram-Login token. */
function igAccount(over: Partial<FakeAccount> = {}) {
  const account = env.fake.addAccount(over);
  return { account, token: env.fake.tokenFor(account.igUserId, 'ig_long') };
}

const noSecrets = (res: JsonResponse, ...secrets: string[]) => {
  for (const secret of secrets) expect(res.text).not.toContain(secret);
};

describe('connecting with a token', () => {
  it('checks an Instagram-Login token with Meta, stores the profile under seed 002’s names, and never shows the token', async () => {
    const { account, token } = igAccount({ username: 'sunny.shop', followersCount: 1234, followsCount: 56 });
    const res = await connect({
      token,
      trusted: true,
      hours: { min: 9, max: 18 },
      timezone: 'Europe/Moscow',
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      user_id: account.igUserId,
      username: 'sunny.shop',
      login_type: 'instagram',
      state: 'start',
      state_reason: null,
      trusted: true,
      hours: { min: 9, max: 18 },
      speed: { comment: 10, dm: 10, hide: 60, like: 10, follow: 10, unfollow: 10 },
      timezone: 'Europe/Moscow',
      info: {
        username: 'sunny.shop',
        full_name: account.name,
        follower_count: 1234,
        following_count: 56,
        media_count: account.mediaCount,
        profile_pic_url: account.profilePictureUrl,
        is_business: true,
        account_type: 'BUSINESS',
      },
    });
    // A long-lived token given as it is: it lives at most 60 days from now.
    const expires = Date.parse(res.body.token_expires_at as string);
    expect(expires).toBeGreaterThan(Date.now() + 59 * 86_400_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 60 * 86_400_000 + 1000);
    noSecrets(res, token);
    // Meta was asked on the Instagram host, with the token in a header, never in the URL.
    const me = env.fake.requests.find((r) => r.endpoint === 'me')!;
    expect(me.host).toBe('instagram');
    expect(me.params.fields).toContain('followers_count');
    const events = await env.api('GET', `/instagrams/${res.body.id}/events`, { token: env.token });
    expect(events.body.items.map((e: { type: string }) => e.type)).toEqual(['connected']);
    expect(env.server.logs()).not.toContain(token);
    // Subscribed to comment webhooks for channels, on the account's own host.
    expect(env.fake.subscriptions.get(account.igUserId)).toBe('comments,messages');
  });

  it('exchanges a short-lived Instagram token for a long-lived one', async () => {
    const account = env.fake.addAccount();
    const short = env.fake.tokenFor(account.igUserId, 'ig_short');
    const res = await connect({ token: short });
    expect(res.status).toBe(201);
    const exchange = env.fake.requests.find((r) => r.endpoint === 'exchange')!;
    expect(exchange.params).toMatchObject({
      grant_type: 'ig_exchange_token',
      client_secret: env.fake.apps.instagram.secret,
    });
    expect(Date.parse(res.body.token_expires_at as string)).toBeGreaterThan(Date.now() + 59 * 86_400_000);
    // What is kept is the long-lived token: the short one would be dead within the hour.
    env.fake.invalidTokens.add(short);
    const refreshed = await env.api('POST', `/instagrams/${res.body.id}/refresh`, { token: env.token });
    expect(refreshed.body.instagram.state).toBe('start');
  });

  it('connects the same account again by updating its row (200); another user gets 409 until it is disconnected', async () => {
    const { account, token } = igAccount();
    const first = await connect({ token });
    const again = await connect({ token: env.fake.tokenFor(account.igUserId, 'ig_long') });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const events = await env.api('GET', `/instagrams/${first.body.id}/events`, { token: env.token });
    expect(events.body.items.map((e: { type: string }) => e.type)).toEqual(['connected', 'reconnected']);
    // One owner per Instagram account: two users' channels would both answer each comment.
    const theirs = await connect({ token }, stranger);
    expect(theirs.status).toBe(409);
    expect(theirs.body).toMatchObject({ code: 'INSTAGRAM_CONNECTED_ELSEWHERE', number: 2150 });
    expect(theirs.body.message).toContain(`@${account.username}`);
    noSecrets(theirs, token);
    // Nothing of theirs was stored; once the owner lets go, it is theirs to connect.
    expect((await env.api('GET', '/instagrams', { token: stranger })).body.items).toEqual([]);
    expect((await env.api('DELETE', `/instagrams/${first.body.id}`, { token: env.token })).status).toBe(200);
    const now = await connect({ token }, stranger);
    expect(now.status).toBe(201);
    expect(now.body.id).not.toBe(first.body.id);
  });

  it('resolves a Facebook token to the one Instagram account of its Pages and keeps the Page token, which does not expire', async () => {
    const account = env.fake.addAccount();
    const userToken = env.fake.tokenFor(account.igUserId, 'fb_user');
    const res = await connect({ token: userToken });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      user_id: account.igUserId,
      login_type: 'facebook',
      token_expires_at: null,
    });
    expect(env.fake.requests.some((r) => r.endpoint === 'me_accounts' && r.host === 'facebook')).toBe(true);
    // The profile comes from the Facebook host, biography and website included.
    expect(res.body.info).toMatchObject({ biography: account.biography, external_url: account.website });
  });

  it('asks which account when a Facebook token reaches several, and takes user_id to choose', async () => {
    const a = env.fake.addAccount({ username: 'first.brand' });
    const b = env.fake.addAccount({ username: 'second.brand', fbUserId: a.fbUserId });
    const token = env.fake.tokenFor(a.igUserId, 'fb_long');
    const refused = await connect({ token });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('VALIDATION_FAILED');
    expect(refused.body.issues[0].path).toBe('user_id');
    expect(refused.body.issues[0].message).toContain(`${a.igUserId} (@first.brand)`);
    expect(refused.body.issues[0].message).toContain(`${b.igUserId} (@second.brand)`);
    const chosen = await connect({ token, user_id: b.igUserId });
    expect(chosen.status).toBe(201);
    expect(chosen.body.username).toBe('second.brand');
    const notReached = await connect({ token, user_id: '123456' });
    expect(notReached.body.code).toBe('INSTAGRAM_LOGIN_FAILED');
  });

  it('refuses a password with its own code, and a token Meta rejects with Meta’s reason', async () => {
    const pw = await connect({ username: 'someone', password: 'hunter2', token: 'IGAAx' });
    expect(pw.status).toBe(400);
    expect(pw.body).toMatchObject({ code: 'PASSWORD_NOT_ACCEPTED', number: 2110 });
    noSecrets(pw, 'hunter2');
    // Seed 002's body as it was, with no token at all: the same answer, not "token required".
    const seed = await connect({ username: 'someone', password: 'hunter2' });
    expect(seed.status).toBe(400);
    expect(seed.body).toMatchObject({ code: 'PASSWORD_NOT_ACCEPTED', number: 2110 });
    noSecrets(seed, 'hunter2');

    // A token Meta could never have issued (it would not even fit in an HTTP header): 400, not a failed call.
    for (const token of ['\uffff', 'IGAA\u00e9x', 'IG\u2028AA']) {
      const odd = await connect({ token });
      expect(odd.status, JSON.stringify(token)).toBe(400);
      expect(odd.body).toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path: 'token' }] });
    }

    const bad = await connect({ token: 'IGQWRnotARealToken' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'INSTAGRAM_LOGIN_FAILED', number: 1020 });
    expect(bad.body.message).toContain('Cannot parse access token');
    noSecrets(bad, 'IGQWRnotARealToken');

    const { account } = igAccount();
    env.fake.revokeAccount(account.igUserId);
    const revoked = await connect({
      token: env.fake.tokenFor(account.igUserId, 'ig_long', { issuedAt: Date.now() - 5000 }),
    });
    expect(revoked.body.code).toBe('INSTAGRAM_LOGIN_FAILED');
    const list = await env.api('GET', '/instagrams', { token: env.token });
    expect(list.body.items.some((i: { user_id: string }) => i.user_id === account.igUserId)).toBe(false);
  });

  it('answers 502 GRAPH_REQUEST_FAILED when Meta is down, and stores nothing', async () => {
    const { account, token } = igAccount();
    env.fake.failNext('me', {
      status: 500,
      code: 2,
      message: 'Service temporarily unavailable',
      transient: true,
    });
    const res = await connect({ token });
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ code: 'GRAPH_REQUEST_FAILED', number: 1010 });
    const list = await env.api('GET', '/instagrams', { token: env.token });
    expect(list.body.items.some((i: { user_id: string }) => i.user_id === account.igUserId)).toBe(false);
  });

  it('checks settings: hours, speed, time zone and unknown fields', async () => {
    const { token } = igAccount();
    const res = await connect({
      token,
      hours: { min: 25, max: 3 },
      speed: { comment: -1 },
      timezone: 'Mars/Base',
      extra: 1,
    });
    expect(res.status).toBe(400);
    const paths = res.body.issues.map((i: { path: string }) => i.path).sort();
    expect(paths).toEqual(['', 'hours.min', 'speed.comment', 'timezone']);
  });
});

describe('an account’s settings and life', () => {
  it('PATCH changes what it is given, PUT resets what it is not given, and a token for another account is refused', async () => {
    const { account, token } = igAccount();
    const { body } = await connect({ token, hours: { min: 8, max: 20 } });
    const patched = await env.api('PATCH', `/instagrams/${body.id}/`, {
      body: { speed: { comment: 3 }, trusted: true },
      token: env.token,
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      hours: { min: 8, max: 20 },
      trusted: true,
      speed: { comment: 3, dm: 10, hide: 60 },
    });
    const put = await env.api('PUT', `/instagrams/${body.id}`, {
      body: { timezone: 'Asia/Tokyo' },
      token: env.token,
    });
    expect(put.body).toMatchObject({
      hours: { min: 0, max: 0 },
      trusted: false,
      speed: { comment: 10 },
      timezone: 'Asia/Tokyo',
    });

    const other = igAccount();
    const wrong = await env.api('PATCH', `/instagrams/${body.id}`, {
      body: { token: other.token },
      token: env.token,
    });
    expect(wrong.status, JSON.stringify(wrong.body)).toBe(400);
    expect(wrong.body.code).toBe('INSTAGRAM_LOGIN_FAILED');
    const still = await env.api('GET', `/instagrams/${body.id}`, { token: env.token });
    expect(still.body.user_id).toBe(account.igUserId);
  });

  it('stops and starts (POST, and seed 002’s GET), recording each change once', async () => {
    const { token } = igAccount();
    const { body } = await connect({ token });
    expect((await env.api('POST', `/instagrams/${body.id}/stop`, { token: env.token })).body.state).toBe(
      'stop',
    );
    expect((await env.api('GET', `/instagrams/${body.id}/stop/`, { token: env.token })).body.state).toBe(
      'stop',
    );
    expect((await env.api('GET', `/instagrams/${body.id}/start`, { token: env.token })).body.state).toBe(
      'start',
    );
    expect((await env.api('POST', `/instagrams/${body.id}/start`, { token: env.token })).body.state).toBe(
      'start',
    );
    const events = await env.api('GET', `/instagrams/${body.id}/events`, { token: env.token });
    expect(events.body.items.map((e: { type: string }) => e.type)).toEqual([
      'connected',
      'stopped',
      'started',
    ]);
  });

  it('deletes an account without waiting posts', async () => {
    const { token } = igAccount();
    const { body } = await connect({ token });
    const res = await env.api('DELETE', `/instagrams/${body.id}`, { token: env.token });
    expect(res.body).toEqual({ id: body.id, deleted: true });
    expect((await env.api('GET', `/instagrams/${body.id}`, { token: env.token })).status).toBe(404);
  });
});

describe('who may do what with an account', () => {
  let mine: number;
  beforeAll(async () => {
    mine = (await connect({ token: igAccount().token })).body.id;
  });

  const routes: [string, string, Record<string, unknown>?][] = [
    ['GET', '/instagrams/{id}'],
    ['PATCH', '/instagrams/{id}', { trusted: true }],
    ['PUT', '/instagrams/{id}', {}],
    ['POST', '/instagrams/{id}/start'],
    ['GET', '/instagrams/{id}/start'],
    ['POST', '/instagrams/{id}/stop'],
    ['GET', '/instagrams/{id}/stop'],
    ['POST', '/instagrams/{id}/refresh'],
    ['GET', '/instagrams/{id}/events'],
    ['DELETE', '/instagrams/{id}'],
  ];

  for (const [method, path, body] of routes) {
    it(`${method} ${path}: 401 without a token, 404 INSTAGRAM_NOT_FOUND as another user, untouched`, async () => {
      const url = path.replace('{id}', String(mine));
      const before = await env.api('GET', `/instagrams/${mine}`, { token: env.token });
      expect((await env.api(method, url, { body })).status).toBe(401);
      const res = await env.api(method, url, { body, token: stranger });
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: 'INSTAGRAM_NOT_FOUND', number: 2010 });
      const after = await env.api('GET', `/instagrams/${mine}`, { token: env.token });
      expect(after.body).toEqual(before.body);
    });
  }

  it('lists only the caller’s accounts; connecting and OAuth need a token', async () => {
    const theirs = await env.api('GET', '/instagrams', { token: stranger });
    expect(theirs.body.items.every((i: { id: number }) => i.id !== mine)).toBe(true);
    expect((await env.api('POST', '/instagrams', { body: { token: 'IGAAx' } })).status).toBe(401);
    expect(
      (
        await env.api('POST', '/instagrams/connect', {
          body: { login_type: 'instagram', redirect_uri: 'myapp://oauth' },
        })
      ).status,
    ).toBe(401);
  });
});
