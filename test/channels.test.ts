import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { planQueuedActions } from '../server/channels/queue.ts';
import type { FakeComment } from '../server/graph/fake-graph.ts';
import { startPublisherEnv, waitFor, type PublisherEnv } from './helpers/publisher.ts';

const VERIFY_TOKEN = 'verify-me-please-123';
let env: PublisherEnv;

/** Where `channel.action_failed` events are sent. */
const hooks: { type: string; data: Record<string, unknown> }[] = [];
const receiver = http.createServer((req, res) => {
  let raw = '';
  req.on('data', (c) => (raw += String(c)));
  req.on('end', () => {
    hooks.push(JSON.parse(raw) as (typeof hooks)[number]);
    res.end('ok');
  });
});

beforeAll(async () => {
  env = await startPublisherEnv({
    env: { WEBHOOK_VERIFY_TOKEN: VERIFY_TOKEN, WEBHOOK_ALLOW_PRIVATE_HOSTS: 'true' },
    worker: {
      channels: { webhooksConfigured: true, pollIntervalS: 1, retryDelayMs: 50 },
      webhooks: { allowPrivate: true },
    },
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const port = (receiver.address() as AddressInfo).port;
  const res = await env.api('POST', '/webhooks', {
    body: { url: `http://127.0.0.1:${port}/hooks`, events: ['channel.action_failed'] },
    token: env.token,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
});
afterAll(async () => {
  receiver.close();
  await env.close();
});
beforeEach(() => {
  hooks.length = 0;
});

const db = () => env.server.database.db;

/** An account at the fake Meta, connected (and subscribed to webhooks), with one media to comment on. */
async function account(settings: Record<string, unknown> = {}) {
  const fakeAccount = env.fake.addAccount();
  const token = env.fake.tokenFor(fakeAccount.igUserId, 'ig_long');
  const res = await env.api('POST', '/instagrams', { body: { token, ...settings }, token: env.token });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const media = env.fake.addMedia(fakeAccount.igUserId, 'our post');
  return { fake: fakeAccount, id: res.body.id as number, media, token };
}

async function channel(instagramId: number, body: Record<string, unknown>) {
  const res = await env.api('POST', `/instagrams/${instagramId}/channels/`, { body, token: env.token });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as Record<string, any>;
}

/** Meta delivers these comments to our webhook, signed as it would be. */
async function deliver(
  comments: FakeComment[],
  opts: { signature?: string; app?: 'instagram' | 'facebook' } = {},
) {
  const delivery = env.fake.webhookDelivery(comments, { app: opts.app });
  const res = await fetch(`${env.server.baseUrl}/webhooks/instagram`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': opts.signature ?? delivery.signature,
    },
    body: delivery.body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

const actions = async (instagramId: number, channelId: number) =>
  (await env.api('GET', `/instagrams/${instagramId}/channels/${channelId}/actions/`, { token: env.token }))
    .body.items as Record<string, any>[];
const getChannel = async (instagramId: number, channelId: number) =>
  (await env.api('GET', `/instagrams/${instagramId}/channels/${channelId}`, { token: env.token }))
    .body as Record<string, any>;

const repliesTo = (c: FakeComment) => env.fake.repliesTo(c.id);
const settle = () => new Promise((r) => setTimeout(r, 700));

describe('Meta’s webhook verification', () => {
  const verify = (query: string) => fetch(`${env.server.baseUrl}/webhooks/instagram?${query}`);

  it('echoes hub.challenge when hub.verify_token is ours', async () => {
    const res = await verify(`hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=${VERIFY_TOKEN}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('1158201444');
  });

  it('refuses another token, or no mode, with 403', async () => {
    for (const query of [
      'hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong-token-xyz',
      `hub.challenge=1&hub.verify_token=${VERIFY_TOKEN}`,
      'hub.mode=subscribe&hub.challenge=1',
    ]) {
      const res = await verify(query);
      expect(res.status, query).toBe(403);
      expect(((await res.json()) as { code: string }).code).toBe('WEBHOOK_VERIFY_FAILED');
    }
  });
});

describe('a comment webhook', () => {
  it('produces exactly one reply, with {username} filled in, also when delivered five times', async () => {
    const a = await account();
    const ch = await channel(a.id, {
      action: 'comment',
      target: 'comments',
      value: 'price',
      comments: ['Hi @{username}, the price is in your DMs!'],
    });
    expect(ch).toMatchObject({
      state: 'start',
      targets_count: 0,
      leads_count: 0,
      followers_count: a.fake.followersCount,
    });
    const c = env.fake.addComment(a.media.id, { text: 'What is the PRICE?', username: 'ann_buyer' });
    const first = await deliver([c]);
    expect(first).toEqual({ status: 200, body: { received: 1, stored: 1 } });
    // Meta retries for 36 hours: four more times, two of them at once.
    expect((await deliver([c])).body.stored).toBe(0);
    await Promise.all([deliver([c]), deliver([c])]);
    await waitFor('the reply', () => repliesTo(c).length > 0);
    await deliver([c]);
    await settle();
    expect(repliesTo(c).map((r) => r.text)).toEqual(['Hi @ann_buyer, the price is in your DMs!']);
    const [done] = await actions(a.id, ch.id);
    expect(done).toMatchObject({
      comment_id: c.id,
      media_id: a.media.id,
      username: 'ann_buyer',
      action: 'comment',
      status: 'done',
      result_id: repliesTo(c)[0]!.id,
      error: null,
    });
    expect(await getChannel(a.id, ch.id)).toMatchObject({ state: 'empty', targets_count: 1, leads_count: 1 });
  });

  it('is accepted when signed with the Facebook app secret too', async () => {
    const a = await account();
    await channel(a.id, { action: 'comment', comments: ['thanks {username}'] });
    const c = env.fake.addComment(a.media.id, { text: 'love it', username: 'fb_signed' });
    expect((await deliver([c], { app: 'facebook' })).status).toBe(200);
    await waitFor('the reply', () => repliesTo(c).length > 0);
  });

  it('keeps every comment of a delivery with a NUL, a lone surrogate or an impossible time, cleaned, and answers 200', async () => {
    const a = await account();
    await channel(a.id, { action: 'comment', comments: ['thanks {username}'] });
    const nul = env.fake.addComment(a.media.id, { text: 'with a \u0000 in it', username: 'nul_user' });
    const lone = env.fake.addComment(a.media.id, { text: 'half an emoji \ud800!', username: 'lone_user' });
    const plain = env.fake.addComment(a.media.id, { text: 'just nice', username: 'plain_user' });
    // 2^40 s is the year 36812: a time Meta did not mean, which PostgreSQL cannot store.
    const delivery = env.fake.webhookDelivery([nul, lone, plain], { time: 2 ** 40 * 1000 });
    const res = await fetch(`${env.server.baseUrl}/webhooks/instagram`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': delivery.signature },
      body: delivery.body,
    });
    expect(res.status).toBe(200);
    // Values replaced: two texts, and the time of each of the three comments.
    expect(await res.json()).toEqual({ received: 3, stored: 3, cleaned: 5 });
    const stored = await db().execute<{ comment_id: string; text: string; commented_at: Date }>(
      sql`select comment_id, text, commented_at from instagram_comments
          where comment_id in (${nul.id}, ${lone.id}, ${plain.id}) order by comment_id`,
    );
    expect(Object.fromEntries(stored.map((r) => [r.comment_id, r.text]))).toEqual({
      [nul.id]: 'with a \ufffd in it',
      [lone.id]: 'half an emoji \ufffd!',
      [plain.id]: 'just nice',
    });
    for (const row of stored)
      expect(Math.abs(new Date(row.commented_at).getTime() - Date.now())).toBeLessThan(60_000);
    for (const c of [nul, lone, plain])
      await waitFor(`the reply to ${c.username}`, () => repliesTo(c).length > 0);
  });

  it('with a bad signature stores nothing and does nothing', async () => {
    const a = await account();
    await channel(a.id, { action: 'comment', comments: ['thanks'] });
    const c = env.fake.addComment(a.media.id, { text: 'hello' });
    const good = env.fake.webhookDelivery([c]).signature;
    const wrongSecret = `sha256=${'0'.repeat(64)}`;
    const flipped = good.slice(0, -1) + (good.endsWith('0') ? '1' : '0');
    for (const signature of [wrongSecret, flipped, 'sha1=abc', '', good.replace('sha256=', '')]) {
      const res = await deliver([c], { signature });
      expect(res.status, signature).toBe(401);
      expect(res.body.code).toBe('WEBHOOK_SIGNATURE_INVALID');
    }
    // A body changed after signing (re-serialized JSON would be too).
    const delivery = env.fake.webhookDelivery([c]);
    const res = await fetch(`${env.server.baseUrl}/webhooks/instagram`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': delivery.signature },
      body: JSON.stringify(JSON.parse(delivery.body), null, 1),
    });
    expect(res.status).toBe(401);
    await settle();
    const stored = await db().execute(sql`select 1 from instagram_comments where comment_id = ${c.id}`);
    expect(stored).toHaveLength(0);
    expect(repliesTo(c)).toHaveLength(0);
  });

  it('acts only on comments containing the keyword, case-insensitively; an empty value matches every comment', async () => {
    const a = await account();
    const keyword = await channel(a.id, { action: 'comment', value: 'Price', comments: ['sent!'] });
    const all = await channel(a.id, { action: 'dm', comments: ['hello {username}'] });
    const asks = env.fake.addComment(a.media.id, { text: 'how much? price pls' });
    const shouts = env.fake.addComment(a.media.id, { text: 'PRICE???' });
    const other = env.fake.addComment(a.media.id, { text: 'nice colours' });
    await deliver([asks, shouts, other]);
    await waitFor(
      'three private replies',
      () => env.fake.privateReplies.size >= 3 && repliesTo(shouts).length > 0,
    );
    await settle();
    expect(repliesTo(asks)).toHaveLength(1);
    expect(repliesTo(shouts)).toHaveLength(1);
    expect(repliesTo(other)).toHaveLength(0);
    expect(await getChannel(a.id, keyword.id)).toMatchObject({ targets_count: 2, leads_count: 2 });
    expect(await getChannel(a.id, all.id)).toMatchObject({ targets_count: 3, leads_count: 3 });
    expect(env.fake.privateReplies.get(other.id)?.text).toBe(`hello ${other.username}`);
  });

  it('skips the account’s own comments and replies, so a reply never answers a reply', async () => {
    const a = await account();
    const ch = await channel(a.id, { action: 'comment', comments: ['thank you!'] });
    const fan = env.fake.addComment(a.media.id, { text: 'great' });
    await deliver([fan]);
    await waitFor('the reply', () => repliesTo(fan).length > 0);
    // Meta sends webhooks for our own reply, and for a comment the account wrote itself.
    const ownComment = env.fake.addComment(a.media.id, {
      text: 'New drop tomorrow!',
      fromId: a.fake.igUserId,
      username: a.fake.username,
    });
    const res = await deliver([repliesTo(fan)[0]!, ownComment]);
    expect(res.body).toMatchObject({ received: 2, stored: 2 });
    await settle();
    expect(repliesTo(ownComment)).toHaveLength(0);
    expect(await actions(a.id, ch.id)).toHaveLength(1);
  });

  it('sends one private reply per comment, and skips comments older than 7 days', async () => {
    const a = await account();
    const ch = await channel(a.id, { action: 'dm', comments: ['Check your inbox, {username}'] });
    const fresh = env.fake.addComment(a.media.id, { text: 'info?', username: 'new_fan' });
    const old = env.fake.addComment(a.media.id, { text: 'info?', timestamp: Date.now() - 8 * 86_400_000 });
    // The channel existed then: it was started before the old comment (acting_since moved back).
    await db().execute(sql`update channels set acting_since = now() - interval '9 days' where id = ${ch.id}`);
    await deliver([fresh]);
    const delivery = env.fake.webhookDelivery([old], { time: old.timestamp });
    await fetch(`${env.server.baseUrl}/webhooks/instagram`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': delivery.signature },
      body: delivery.body,
    });
    await waitFor('the private reply', () => env.fake.privateReplies.has(fresh.id));
    const items = await waitFor('the old one skipped', async () => {
      const list = await actions(a.id, ch.id);
      return list.length === 2 && list.every((x) => x.status !== 'queued') ? list : undefined;
    });
    expect(env.fake.privateReplies.get(fresh.id)!.text).toBe('Check your inbox, new_fan');
    expect(env.fake.privateReplies.has(old.id)).toBe(false);
    expect(items.find((x) => x.comment_id === old.id)).toMatchObject({
      status: 'skipped',
      error: { code: 'DM_WINDOW_CLOSED' },
    });
    expect(items.find((x) => x.comment_id === fresh.id)).toMatchObject({
      status: 'done',
      result_id: expect.stringMatching(/^m_/),
    });
  });

  it('hides comments with the spam word, replies included', async () => {
    const a = await account();
    const ch = await channel(a.id, { action: 'hide', value: 'cheap followers' });
    const top = env.fake.addComment(a.media.id, { text: 'CHEAP FOLLOWERS at spam.example' });
    const fine = env.fake.addComment(a.media.id, { text: 'I love this' });
    const reply = env.fake.addComment(a.media.id, { text: 'cheap followers here too', parentId: fine.id });
    await deliver([top, fine, reply]);
    await waitFor('two hidden', () => top.hidden && reply.hidden);
    await settle();
    expect(fine.hidden).toBe(false);
    expect(ch.comments).toEqual([]);
    expect((await actions(a.id, ch.id)).map((x) => x.status)).toEqual(['done', 'done']);
  });

  it('fails an action Meta refuses, says why, and sends channel.action_failed', async () => {
    const a = await account();
    const ch = await channel(a.id, { action: 'comment', comments: ['hi'] });
    const gone = env.fake.addComment(a.media.id, { text: 'soon deleted' });
    // The commenter deletes it before our reply: Meta answers 100/33.
    env.fake.comments.set(a.media.id, []);
    await deliver([gone]);
    const [failed] = await waitFor('the failure', async () => {
      const list = await actions(a.id, ch.id);
      return list[0]?.status === 'failed' ? list : undefined;
    });
    expect(failed!.error.code).toBe('GRAPH_MEDIA_REJECTED');
    expect(failed!.error.message).toMatch(/does not exist/);
    const hook = await waitFor('the webhook event', () =>
      hooks.find((h) => h.type === 'channel.action_failed'),
    );
    expect(hook.data).toMatchObject({
      channel_id: ch.id,
      instagram_id: a.id,
      comment_id: gone.id,
      status: 'failed',
    });
    expect(JSON.stringify(hook)).not.toContain(a.token);
  });
});

describe('pace', () => {
  /** Slots of the account's queued and done actions of a kind, in order. */
  async function slots(instagramId: number) {
    const rows = await db().execute<{ slot_at: Date; status: string }>(sql`
      select slot_at, status from channel_actions where instagram_id = ${instagramId} and action = 'comment'
      order by slot_at`);
    return rows.map((r) => ({ at: new Date(r.slot_at).getTime(), status: r.status }));
  }
  const HOUR = 3_600_000;

  it('holds the speed budget under a burst of 100 comments, and lets the next ten through an hour later', async () => {
    const a = await account({ speed: { comment: 10 } });
    await channel(a.id, { action: 'comment', comments: ['thanks {username}'] });
    const burst = Array.from({ length: 100 }, (_, i) =>
      env.fake.addComment(a.media.id, { text: `comment ${i}` }),
    );
    const started = Date.now();
    expect((await deliver(burst)).body).toMatchObject({ received: 100, stored: 100 });
    await waitFor('ten replies', () => burst.filter((c) => repliesTo(c).length > 0).length >= 10);
    await settle();
    expect(burst.filter((c) => repliesTo(c).length > 0)).toHaveLength(10);
    // The ninety others wait in graphile-worker with their slots: never more than 10 in any rolling hour.
    const planned = await slots(a.id);
    expect(planned).toHaveLength(100);
    for (const s of planned)
      expect(planned.filter((o) => o.at > s.at - HOUR && o.at <= s.at).length).toBeLessThanOrEqual(10);
    expect(planned.at(-1)!.at).toBeGreaterThanOrEqual(started + 9 * HOUR - 60_000);
    const jobs = await db().execute<{ n: number }>(sql`
      select count(*)::int as n from graphile_worker.jobs j join channel_actions a on j.key = 'channel_action:' || a.id
      where a.instagram_id = ${a.id} and a.status = 'queued' and j.run_at = a.slot_at`);
    expect(jobs[0]!.n).toBe(90);

    // The clock moves an hour on: what was done an hour ago leaves the window, the next ten go.
    await db().execute(sql`
      update channel_actions set slot_at = slot_at - interval '61 minutes', finished_at = finished_at - interval '61 minutes'
      where instagram_id = ${a.id} and status = 'done'`);
    await db().transaction((tx) => planQueuedActions(tx, a.id, new Date(), 'all'));
    await waitFor('twenty replies', () => burst.filter((c) => repliesTo(c).length > 0).length >= 20);
    await settle();
    expect(burst.filter((c) => repliesTo(c).length > 0)).toHaveLength(20);
  });

  it('waits for the hours window to open, in the account’s time zone', async () => {
    // Kolkata is UTC+5:30: a window opening there opens at half past an hour in UTC.
    const hourThere = Number(
      new Intl.DateTimeFormat('en-US', {
        timeZone: 'Asia/Kolkata',
        hour: 'numeric',
        hourCycle: 'h23',
      }).format(new Date()),
    );
    const min = (hourThere + 2) % 24;
    const a = await account({ hours: { min, max: (min + 1) % 24 }, timezone: 'Asia/Kolkata' });
    await channel(a.id, { action: 'comment', comments: ['later'] });
    const c = env.fake.addComment(a.media.id, { text: 'hello' });
    await deliver([c]);
    const [planned] = await waitFor('the planned slot', async () => {
      const s = await slots(a.id);
      return s.length > 0 ? s : undefined;
    });
    await settle();
    expect(repliesTo(c)).toHaveLength(0);
    const at = new Date(planned!.at);
    expect(at.getUTCMinutes()).toBe(30);
    expect(at.getTime() - Date.now()).toBeGreaterThan(HOUR - 60_000);
    expect(at.getTime() - Date.now()).toBeLessThan(2 * HOUR + 60_000);

    // All day: the action is planned again at once and runs.
    const res = await env.api('PATCH', `/instagrams/${a.id}`, {
      body: { hours: { min: 0, max: 0 } },
      token: env.token,
    });
    expect(res.status).toBe(200);
    await waitFor('the reply', () => repliesTo(c).length > 0);
  });

  it('pauses while the account is stopped and resumes where it was when it starts again', async () => {
    const a = await account({ speed: { comment: 2 } });
    const ch = await channel(a.id, { action: 'comment', comments: ['ok'] });
    const comments = Array.from({ length: 6 }, (_, i) => env.fake.addComment(a.media.id, { text: `q${i}` }));
    await deliver(comments);
    await waitFor('two replies', () => comments.filter((c) => repliesTo(c).length > 0).length >= 2);
    expect((await env.api('POST', `/instagrams/${a.id}/stop`, { token: env.token })).status).toBe(200);
    const waiting = await db().execute(sql`
      select 1 from graphile_worker.jobs j join channel_actions a on j.key = 'channel_action:' || a.id
      where a.instagram_id = ${a.id}`);
    expect(waiting).toHaveLength(0);
    // An hour passes while stopped: nothing runs.
    await db().execute(sql`
      update channel_actions set slot_at = slot_at - interval '61 minutes' where instagram_id = ${a.id} and status = 'done'`);
    await settle();
    expect(comments.filter((c) => repliesTo(c).length > 0)).toHaveLength(2);
    expect((await getChannel(a.id, ch.id)).state).toBe('start');
    expect((await env.api('POST', `/instagrams/${a.id}/start`, { token: env.token })).status).toBe(200);
    await waitFor('two more', () => comments.filter((c) => repliesTo(c).length > 0).length >= 4);
    await settle();
    expect(comments.filter((c) => repliesTo(c).length > 0)).toHaveLength(4);
  });

  it('a token error makes the account suspected; the action waits and runs after reconnecting', async () => {
    const a = await account();
    const ch = await channel(a.id, { action: 'comment', comments: ['back soon'] });
    env.fake.invalidTokens.add(a.token);
    const c = env.fake.addComment(a.media.id, { text: 'anyone?' });
    await deliver([c]);
    await waitFor('suspected', async () => {
      const res = await env.api('GET', `/instagrams/${a.id}`, { token: env.token });
      return res.body.state === 'suspected';
    });
    const [queued] = await actions(a.id, ch.id);
    expect(queued).toMatchObject({ status: 'queued', error: null });
    expect(repliesTo(c)).toHaveLength(0);
    // The account's posts wait too.
    const post = await env.api('POST', '/posts', {
      body: {
        instagram_id: a.id,
        content_type: 'Photo',
        url: 'https://cdn.example.com/p.jpg',
        caption: `held ${a.id}`,
      },
      token: env.token,
    });
    expect(post.status).toBe(201);
    await waitFor('the post held', async () => {
      const events = await env.api('GET', `/posts/${post.body.id}/events`, { token: env.token });
      return (events.body.items as { type: string }[]).some((e) => e.type === 'held');
    });
    const fresh = env.fake.tokenFor(a.fake.igUserId, 'ig_long');
    expect(
      (await env.api('PATCH', `/instagrams/${a.id}`, { body: { token: fresh }, token: env.token })).status,
    ).toBe(200);
    await waitFor('the reply', () => repliesTo(c).length > 0);
    expect((await actions(a.id, ch.id))[0]).toMatchObject({ status: 'done' });
    await waitFor('the post published', () => env.fake.mediaWithCaption(`held ${a.id}`).length === 1);
  });
});

describe('channel routes', () => {
  it('refuse like, follow, unfollow and the impossible targets with seed 002’s numbers, storing nothing', async () => {
    const a = await account();
    for (const action of ['like', 'follow', 'unfollow']) {
      const res = await env.api('POST', `/instagrams/${a.id}/channels`, {
        body: { action, target: 'comments', comments: ['x'] },
        token: env.token,
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'CHANNEL_ACTION_UNSUPPORTED', number: 4010 });
      expect(res.body.message).toBe(
        "Instagram's official API has no like/follow/unfollow, and automating them breaks Instagram's Terms of Use.",
      );
    }
    for (const target of ['followers', 'subscriptions', 'likes', 'hashtag', 'stories']) {
      const res = await env.api('POST', `/instagrams/${a.id}/channels`, {
        body: { action: 'comment', target, value: 'x', comments: ['x'] },
        token: env.token,
      });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'CHANNEL_TARGET_UNSUPPORTED', number: 4030 });
      expect(res.body.message).toContain(target);
    }
    const empty = await env.api('POST', `/instagrams/${a.id}/channels`, {
      body: { target: 'comments' },
      token: env.token,
    });
    expect(empty.body).toMatchObject({ code: 'CHANNEL_EMPTY_ACTION', number: 4100 });
    const unknown = await env.api('POST', `/instagrams/${a.id}/channels`, {
      body: { action: 'zap' },
      token: env.token,
    });
    expect(unknown.body).toMatchObject({ code: 'CHANNEL_ACTION_UNSUPPORTED', number: 4010 });
    const noTemplates = await env.api('POST', `/instagrams/${a.id}/channels`, {
      body: { action: 'dm' },
      token: env.token,
    });
    expect(noTemplates.body).toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path: 'comments' }] });
    const noValue = await env.api('POST', `/instagrams/${a.id}/channels`, {
      body: { action: 'hide', value: ' ' },
      token: env.token,
    });
    expect(noValue.body).toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path: 'value' }] });
    const longDm = await env.api('POST', `/instagrams/${a.id}/channels`, {
      body: { action: 'dm', comments: ['ok', 'x'.repeat(1001)] },
      token: env.token,
    });
    expect(longDm.body).toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path: 'comments.1' }] });
    const list = await env.api('GET', `/instagrams/${a.id}/channels`, { token: env.token });
    expect(list.body).toEqual({ items: [] });
  });

  it('change, stop, start and delete a channel; PATCH keeps what is left out, PUT replaces it', async () => {
    const a = await account();
    const ch = await channel(a.id, { action: 'comment', value: 'price', comments: ['a'] });
    const base = `/instagrams/${a.id}/channels/${ch.id}`;
    const patched = await env.api('PATCH', `${base}/`, { body: { comments: ['b', 'c'] }, token: env.token });
    expect(patched.body).toMatchObject({ action: 'comment', value: 'price', comments: ['b', 'c'] });
    const refused = await env.api('PATCH', base, { body: { action: 'follow' }, token: env.token });
    expect(refused.body).toMatchObject({ code: 'CHANNEL_ACTION_UNSUPPORTED', number: 4010 });
    expect((await getChannel(a.id, ch.id)).action).toBe('comment');
    const put = await env.api('PUT', base, { body: { action: 'hide', value: 'spam' }, token: env.token });
    expect(put.body).toMatchObject({ action: 'hide', value: 'spam', comments: [] });
    const putEmpty = await env.api('PUT', base, { body: { value: 'spam' }, token: env.token });
    expect(putEmpty.body.code).toBe('CHANNEL_EMPTY_ACTION');
    expect((await env.api('POST', `${base}/stop`, { token: env.token })).body.state).toBe('stop');
    // Stopped: a comment now is not acted on, even after starting again.
    const c = env.fake.addComment(a.media.id, { text: 'buy spam now' });
    await deliver([c]);
    await settle();
    expect(c.hidden).toBe(false);
    expect((await env.api('GET', `${base}/start`, { token: env.token })).body.state).toBe('start');
    expect((await env.api('GET', `${base}/stop`, { token: env.token })).body.state).toBe('stop');
    expect((await env.api('POST', `${base}/start`, { token: env.token })).body.state).toBe('start');
    const deleted = await env.api('DELETE', base, { token: env.token });
    expect(deleted.body).toEqual({ id: ch.id, deleted: true });
    expect((await env.api('GET', base, { token: env.token })).body).toMatchObject({
      code: 'CHANNEL_NOT_FOUND',
      number: 4050,
    });
  });

  it('drops queued actions with their jobs when the channel is deleted', async () => {
    const a = await account({ speed: { comment: 1 } });
    const ch = await channel(a.id, { action: 'comment', comments: ['x'] });
    const comments = Array.from({ length: 3 }, (_, i) => env.fake.addComment(a.media.id, { text: `d${i}` }));
    await deliver(comments);
    await waitFor('one reply', () => comments.some((c) => repliesTo(c).length > 0));
    expect((await getChannel(a.id, ch.id)).state).toBe('start');
    const keys = (
      await db().execute<{ key: string }>(
        sql`select 'channel_action:' || id as key from channel_actions where instagram_id = ${a.id}`,
      )
    ).map((r) => r.key);
    const jobs = sql`select 1 from graphile_worker.jobs where key = any(${`{${keys.join(',')}}`}::text[])`;
    expect(await db().execute(jobs)).toHaveLength(2);
    await env.api('DELETE', `/instagrams/${a.id}/channels/${ch.id}`, { token: env.token });
    expect(await db().execute(jobs)).toHaveLength(0);
    const rows = await db().execute(sql`select 1 from channel_actions where instagram_id = ${a.id}`);
    expect(rows).toHaveLength(0);
  });

  it('answer on seed 002’s /intagram/ and /instagram/ paths exactly like /instagrams/', async () => {
    const a = await account();
    const ch = await channel(a.id, { action: 'comment', comments: ['x'] });
    const raw = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${env.server.baseUrl}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${env.token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    const canonical = await raw('GET', `/instagrams/${a.id}/channels/`);
    for (const prefix of ['intagram', 'instagram']) {
      expect(await raw('GET', `/${prefix}/${a.id}/channels/`)).toEqual(canonical);
      expect((await raw('GET', `/${prefix}/${a.id}/channels/${ch.id}/`)).body.id).toBe(ch.id);
      const created = await raw('POST', `/${prefix}/${a.id}/channels`, { action: 'like' });
      expect(created).toMatchObject({ status: 400, body: { number: 4010 } });
      expect((await raw('GET', `/${prefix}/${a.id}/channels/${ch.id}/actions?limit=5`)).status).toBe(200);
    }
    const doc = await (await fetch(`${env.server.baseUrl}/openapi.json`)).text();
    expect(doc).not.toMatch(/intagram|\/instagram\//);
  });
});
