import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, errorCode, errorNumber } from '@autopost/instagram-autopost-sdk';
import type { JsonResponse } from './helpers/http.ts';
import { startPublisherEnv, waitFor, type PublisherEnv } from './helpers/publisher.ts';
import { userWithToken } from './helpers/users.ts';

/** No WEBHOOK_VERIFY_TOKEN: Meta cannot deliver webhooks here, so comments are polled (every second). */
let env: PublisherEnv;
beforeAll(async () => {
  env = await startPublisherEnv({ worker: { channels: { webhooksConfigured: false, pollIntervalS: 1 } } });
});
afterAll(() => env.close());

const db = () => env.server.database.db;
const settle = (ms = 2500) => new Promise((r) => setTimeout(r, ms));

async function account() {
  const fake = env.fake.addAccount();
  const token = env.fake.tokenFor(fake.igUserId, 'ig_long');
  const res = await env.api('POST', '/instagrams', { body: { token }, token: env.token });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { fake, id: res.body.id as number, media: env.fake.addMedia(fake.igUserId, 'polled') };
}

describe('polling, for accounts without webhooks', () => {
  it('answers new comments, once each however often they are read, and never the ones from before the channel', async () => {
    const a = await account();
    const before = env.fake.addComment(a.media.id, { text: 'old question', timestamp: Date.now() - 60_000 });
    const ch = await env.api('POST', `/instagrams/${a.id}/channels`, {
      body: { action: 'comment', comments: ['Thanks {username}!'] },
      token: env.token,
    });
    expect(ch.status).toBe(201);
    const first = env.fake.addComment(a.media.id, { text: 'new one', username: 'polled_fan' });
    // Meta's webhook brings it too (the signature is checked even where webhooks are not set up).
    const delivery = env.fake.webhookDelivery([first]);
    const hook = await fetch(`${env.server.baseUrl}/webhooks/instagram`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': delivery.signature },
      body: delivery.body,
    });
    expect(hook.status).toBe(200);
    await waitFor('the reply', () => env.fake.repliesTo(first.id).length > 0, 15_000);
    const second = env.fake.addComment(a.media.id, { text: 'and another' });
    await waitFor('the second reply', () => env.fake.repliesTo(second.id).length > 0, 15_000);
    await settle();
    expect(env.fake.repliesTo(first.id).map((r) => r.text)).toEqual(['Thanks polled_fan!']);
    expect(env.fake.repliesTo(second.id)).toHaveLength(1);
    expect(env.fake.repliesTo(before.id)).toHaveLength(0);
    // Stored once each, by whichever path brought it first.
    const stored = await db().execute<{ comment_id: string; source: string }>(
      sql`select comment_id, source from instagram_comments where comment_id in (${first.id}, ${second.id}) order by id`,
    );
    expect(stored.map((r) => r.comment_id)).toEqual([first.id, second.id]);
    expect(stored[1]!.source).toBe('poll');
  });

  it('reads an older media’s comments only when its comment count changed, the newest every round', async () => {
    const a = await account();
    const newest = env.fake.addMedia(a.fake.igUserId, 'newer');
    newest.timestamp += 1000;
    await env.api('POST', `/instagrams/${a.id}/channels`, {
      body: { action: 'hide', value: 'spam' },
      token: env.token,
    });
    const c = env.fake.addComment(a.media.id, { text: 'spam spam' });
    await waitFor('hidden', () => c.hidden, 15_000);
    const pages = () =>
      env.fake.requests.filter((r) => r.endpoint === 'comments' && r.path === `/${a.media.id}/comments`)
        .length;
    const lists = () =>
      env.fake.requests.filter((r) => r.endpoint === 'recent' && r.path === `/${a.fake.igUserId}/media`)
        .length;
    const newestPages = () =>
      env.fake.requests.filter((r) => r.endpoint === 'comments' && r.path === `/${newest.id}/comments`)
        .length;
    const [pagesBefore, listsBefore, newestBefore] = [pages(), lists(), newestPages()];
    await settle(3500);
    const rounds = lists() - listsBefore;
    expect(rounds).toBeGreaterThanOrEqual(2);
    expect(pages() - pagesBefore).toBe(0);
    // A round may be between its two calls when counting stops.
    expect(newestPages() - newestBefore).toBeGreaterThanOrEqual(rounds - 1);
  });

  it('slows down as Meta’s usage headers near 100 % and stops until Meta’s estimate once throttled', async () => {
    const a = await account();
    env.fake.rateLimits = { ...env.fake.rateLimits, accountCallsPerHour: 10 };
    try {
      await env.api('POST', `/instagrams/${a.id}/channels`, {
        body: { action: 'comment', comments: ['hi'] },
        token: env.token,
      });
      const poll = async () =>
        (
          await db().execute<{ usage: number; interval: number }>(sql`
            select (comment_poll->>'usage')::int as usage, (comment_poll->>'intervalS')::int as interval
            from instagrams where id = ${a.id}`)
        )[0];
      const slowed = await waitFor(
        'a longer interval',
        async () => (((await poll())?.interval ?? 0) >= 2 ? poll() : undefined),
        20_000,
      );
      expect(slowed.usage).toBeGreaterThanOrEqual(75);
      // Once Meta throttles the account, the next poll waits for its estimate (about an hour here).
      const job = await waitFor(
        'the poll pushed back',
        async () => {
          const [row] = await db().execute<{ run_at: Date }>(
            sql`select run_at from graphile_worker.jobs where key = ${`poll_comments:${a.id}`}`,
          );
          return row && new Date(row.run_at).getTime() - Date.now() > 30 * 60_000 ? row : undefined;
        },
        40_000,
      );
      expect(new Date(job.run_at).getTime() - Date.now()).toBeLessThan(61 * 60_000);
      const calls = env.fake.requests.filter((r) => r.path === `/${a.fake.igUserId}/media`).length;
      await settle(3000);
      expect(env.fake.requests.filter((r) => r.path === `/${a.fake.igUserId}/media`).length).toBe(calls);
    } finally {
      env.fake.rateLimits = { ...env.fake.rateLimits, accountCallsPerHour: 4_800 };
    }
  });

  it('stops for an account that is stopped, and starts again with it', async () => {
    const a = await account();
    await env.api('POST', `/instagrams/${a.id}/channels`, {
      body: { action: 'comment', comments: ['yo'] },
      token: env.token,
    });
    await env.api('POST', `/instagrams/${a.id}/stop`, { token: env.token });
    await settle(1500);
    const c = env.fake.addComment(a.media.id, { text: 'while stopped' });
    await settle();
    expect(env.fake.repliesTo(c.id)).toHaveLength(0);
    await env.api('POST', `/instagrams/${a.id}/start`, { token: env.token });
    await waitFor('the reply after start', () => env.fake.repliesTo(c.id).length > 0, 15_000);
  });
});

describe('channels over tRPC and the security of every channel route', () => {
  it('work through the SDK, with seed 002’s numbers on refusals', async () => {
    const a = await account();
    const api = createClient({ url: env.server.baseUrl, token: env.token });
    const ch = await api.channels.create.mutate({
      instagram_id: a.id,
      action: 'dm',
      comments: ['hey {username}'],
    });
    expect(ch).toMatchObject({ action: 'dm', state: 'start', instagram_id: a.id });
    expect((await api.channels.list.query({ instagram_id: a.id })).items.map((c) => c.id)).toEqual([ch.id]);
    expect((await api.channels.stop.mutate({ instagram_id: a.id, id: ch.id })).state).toBe('stop');
    expect((await api.channels.actions.query({ instagram_id: a.id, id: ch.id })).items).toEqual([]);
    const refused = await api.channels.create
      .mutate({ instagram_id: a.id, action: 'follow' })
      .catch((e: unknown) => e);
    expect(errorCode(refused)).toBe('CHANNEL_ACTION_UNSUPPORTED');
    expect(errorNumber(refused)).toBe(4010);
  });

  it('give another user 404 and nobody 401, for every route', async () => {
    const a = await account();
    const ch = (
      await env.api('POST', `/instagrams/${a.id}/channels`, {
        body: { action: 'comment', comments: ['x'] },
        token: env.token,
      })
    ).body as { id: number };
    const stranger = await userWithToken(db(), 'channel-stranger');
    // The stranger's own account: a channel path under it must not reach the owner's channel either.
    const theirs = env.fake.addAccount();
    const connected = await env.api('POST', '/instagrams', {
      body: { token: env.fake.tokenFor(theirs.igUserId, 'ig_long') },
      token: stranger.token,
    });
    const theirId = connected.body.id as number;
    const base = `/instagrams/${a.id}/channels`;
    const routes: [string, string, unknown?][] = [
      ['GET', `${base}/`],
      ['POST', `${base}/`, { action: 'comment', comments: ['x'] }],
      ['GET', `${base}/${ch.id}/`],
      ['PATCH', `${base}/${ch.id}/`, { value: 'x' }],
      ['PUT', `${base}/${ch.id}/`, { action: 'hide', value: 'x' }],
      ['POST', `${base}/${ch.id}/start`],
      ['GET', `${base}/${ch.id}/start`],
      ['POST', `${base}/${ch.id}/stop`],
      ['GET', `${base}/${ch.id}/stop`],
      ['GET', `${base}/${ch.id}/actions/`],
      ['DELETE', `${base}/${ch.id}/`],
    ];
    for (const [method, path, body] of routes) {
      const nobody: JsonResponse = await env.api(method, path, { body });
      expect(nobody.status, `${method} ${path} without a token`).toBe(401);
      const other: JsonResponse = await env.api(method, path, { body, token: stranger.token });
      expect(other.status, `${method} ${path} as another user`).toBe(404);
      expect(other.body.code).toBe('INSTAGRAM_NOT_FOUND');
      const crossed = path.replace(`/instagrams/${a.id}/`, `/instagrams/${theirId}/`);
      const viaOwnAccount: JsonResponse = await env.api(method, crossed, { body, token: stranger.token });
      if (crossed.includes(`/channels/${ch.id}`)) {
        expect(viaOwnAccount.status, `${method} ${crossed}`).toBe(404);
        expect(viaOwnAccount.body.code).toBe('CHANNEL_NOT_FOUND');
      }
    }
    // The owner's channel is untouched by all of that.
    const mine = await env.api('GET', `${base}/${ch.id}`, { token: env.token });
    expect(mine.body).toMatchObject({ id: ch.id, action: 'comment', value: '', state: 'start' });
  });
});
