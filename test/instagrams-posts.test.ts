import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMeta } from '../server/instagrams/meta.ts';
import { refreshDueAccounts } from '../server/instagrams/refresh.ts';
import { reconcile } from '../server/publisher/reconcile.ts';
import { GRAPH_TOKEN } from './helpers/post-fixtures.ts';
import { startPublisherEnv, waitFor, type PublisherEnv } from './helpers/publisher.ts';
import { captureLogger } from './helpers/server.ts';
import { userWithToken } from './helpers/users.ts';

let env: PublisherEnv;

beforeAll(async () => {
  env = await startPublisherEnv({ env: { PUBLISH_LIMIT_PER_24H: '3' } });
});
afterAll(() => env.close());

const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();
let captions = 0;

/** An account at Meta, connected through the API with an Instagram-Login token. */
async function connected(kind: 'ig_long' | 'fb_user' = 'ig_long') {
  const account = env.fake.addAccount();
  const token = env.fake.tokenFor(account.igUserId, kind);
  const res = await env.api('POST', '/instagrams', { body: { token }, token: env.token });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { account, id: res.body.id as number, token };
}

async function post(instagramId: number, over: Record<string, unknown> = {}) {
  const caption = `post ${++captions}`;
  const res = await env.api('POST', '/posts', {
    body: {
      instagram_id: instagramId,
      content_type: 'Photo',
      url: 'https://cdn.example.com/p.jpg',
      caption,
      date_pub: inSeconds(0),
      ...over,
    },
    token: env.token,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.id as number, caption };
}

const get = async (path: string) => (await env.api('GET', path, { token: env.token })).body;
const postEvents = async (id: number) =>
  (await get(`/posts/${id}/events`)).items.map((e: { type: string }) => e.type) as string[];
const accountEvents = async (id: number) =>
  (await get(`/instagrams/${id}/events`)).items.map((e: { type: string }) => e.type) as string[];

async function until(id: number, check: (p: Record<string, unknown>) => boolean, what: string) {
  return waitFor(
    `post ${id} ${what}`,
    async () => {
      const p = (await get(`/posts/${id}`)) as Record<string, unknown>;
      return check(p) ? p : undefined;
    },
    15_000,
  );
}
const published = (id: number) => until(id, (p) => p.status === 'published', 'published');
const held = (id: number) =>
  waitFor(
    `post ${id} held`,
    async () => ((await postEvents(id)).includes('held') ? true : undefined),
    15_000,
  );
const outCount = (caption: string) => env.fake.mediaWithCaption(caption).length;

describe('posts that name a connected account', () => {
  it('publish with the account’s current token, on its login type’s host, and show instagram_id', async () => {
    const { account, id, token } = await connected();
    const p = await post(id);
    const done = await published(p.id);
    expect(done).toMatchObject({ instagram_id: id, user_id: account.igUserId });
    const create = env.fake.requests.find((r) => r.endpoint === 'create' && r.params.caption === p.caption)!;
    expect(create.host).toBe('instagram');
    expect(create.token).toBe(token);

    // A new token for the account serves the posts still waiting.
    const fresh = env.fake.tokenFor(account.igUserId, 'ig_long');
    expect(
      (await env.api('PATCH', `/instagrams/${id}`, { body: { token: fresh }, token: env.token })).status,
    ).toBe(200);
    const next = await post(id);
    await published(next.id);
    expect(
      env.fake.requests.find((r) => r.endpoint === 'create' && r.params.caption === next.caption)!.token,
    ).toBe(fresh);
  });

  it('takes exactly one form: instagram_id, or user_id with token', async () => {
    const { id, account } = await connected();
    const base = { content_type: 'Photo', url: 'https://cdn.example.com/p.jpg' };
    const mixed = await env.api('POST', '/posts', {
      body: { ...base, instagram_id: id, user_id: account.igUserId },
      token: env.token,
    });
    expect(mixed.status).toBe(400);
    expect(mixed.body.issues).toEqual([
      { path: 'user_id', message: 'give instagram_id, or user_id with token, not both' },
    ]);
    const neither = await env.api('POST', '/posts', { body: base, token: env.token });
    expect(neither.body.issues.map((i: { path: string }) => i.path)).toEqual(['user_id', 'token']);

    const stranger = await userWithToken(env.server.database.db);
    const theirs = await env.api('POST', '/posts', {
      body: { ...base, instagram_id: id },
      token: stranger.token,
    });
    expect(theirs.status).toBe(404);
    expect(theirs.body.code).toBe('INSTAGRAM_NOT_FOUND');

    const p = await post(id, { date_pub: inSeconds(3600) });
    const alone = await env.api('PATCH', `/posts/${p.id}`, { body: { user_id: '42' }, token: env.token });
    expect(alone.status).toBe(400);
    // Switching to its own token and back.
    const own = await env.api('PATCH', `/posts/${p.id}`, { body: { token: GRAPH_TOKEN }, token: env.token });
    expect(own.body).toMatchObject({ instagram_id: null, user_id: account.igUserId });
    const back = await env.api('PATCH', `/posts/${p.id}`, { body: { instagram_id: id }, token: env.token });
    expect(back.body).toMatchObject({ instagram_id: id, user_id: account.igUserId });
    expect((await get(`/posts?instagram_id=${id}`)).items.map((x: { id: number }) => x.id)).toContain(p.id);
    await env.api('DELETE', `/posts/${p.id}`, { token: env.token });
  });

  it('counts the publishing limit per Instagram account, whichever form the posts use', async () => {
    const { id, account } = await connected();
    const later = inSeconds(7200);
    for (let i = 0; i < 2; i++) {
      const res = await env.api('POST', '/posts', {
        body: {
          user_id: account.igUserId,
          token: GRAPH_TOKEN,
          content_type: 'Photo',
          url: 'https://cdn.example.com/a.jpg',
          date_pub: later,
        },
        token: env.token,
      });
      expect(res.status).toBe(201);
    }
    await post(id, { date_pub: later });
    const refused = await env.api('POST', '/posts', {
      body: {
        instagram_id: id,
        content_type: 'Photo',
        url: 'https://cdn.example.com/a.jpg',
        date_pub: later,
      },
      token: env.token,
    });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('PUBLISH_LIMIT_REACHED');
  });
});

describe('a revoked token', () => {
  it('makes the account suspected and holds its posts; a new token releases them and each is published once', async () => {
    const { account, id } = await connected();
    env.fake.revokeAccount(account.igUserId);
    const first = await post(id);
    const second = await post(id, { date_pub: inSeconds(2) });
    await held(first.id);
    const suspected = await get(`/instagrams/${id}`);
    expect(suspected.state).toBe('suspected');
    expect(suspected.state_reason.code).toBe('GRAPH_TOKEN_INVALID');
    await held(second.id);
    // The second post waited without asking Meta anything.
    expect(env.fake.requests.filter((r) => r.params.caption === second.caption)).toHaveLength(0);
    for (const p of [first, second]) {
      const row = await get(`/posts/${p.id}`);
      expect(row).toMatchObject({ status: 'scheduled', error: null });
    }

    // start with the same token: Meta still refuses it.
    const start = await env.api('POST', `/instagrams/${id}/start`, { token: env.token });
    expect(start.status).toBe(409);
    expect(start.body).toMatchObject({ code: 'INSTAGRAM_SUSPECTED', number: 1050 });

    const again = await env.api('POST', '/instagrams', {
      body: { token: env.fake.tokenFor(account.igUserId, 'ig_long') },
      token: env.token,
    });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id, state: 'start', state_reason: null });
    await published(first.id);
    await published(second.id);
    await new Promise((r) => setTimeout(r, 500));
    expect(outCount(first.caption)).toBe(1);
    expect(outCount(second.caption)).toBe(1);
    expect(await postEvents(first.id)).toEqual(expect.arrayContaining(['held', 'released', 'published']));
    expect(await accountEvents(id)).toEqual(['connected', 'suspected', 'reconnected']);
  });

  it('suspects the account on a missing permission too, naming it', async () => {
    const { id } = await connected();
    env.fake.failNext('create', {
      status: 403,
      code: 10,
      message: '(#10) Application does not have permission for this action',
    });
    const p = await post(id);
    await held(p.id);
    const account = await get(`/instagrams/${id}`);
    expect(account.state).toBe('suspected');
    expect(account.state_reason).toMatchObject({ code: 'GRAPH_PERMISSION_MISSING' });
    expect(account.state_reason.message).toContain('permission');
  });
});

describe('stop and start', () => {
  it('holds due posts while stopped, through edits and deletes, and publishes each once after start', async () => {
    const { id } = await connected();
    await env.api('POST', `/instagrams/${id}/stop`, { token: env.token });
    const a = await post(id);
    const b = await post(id);
    const c = await post(id, { date_pub: inSeconds(3600) });
    await held(a.id);
    await held(b.id);
    // Held on purpose: the minutely reconcile leaves them alone.
    await env.server.database
      .sql`update posts set date_pub = date_pub - interval '1 minute' where id in (${a.id}, ${b.id})`;
    const { readded } = await reconcile(env.server.database.db, {
      logger: captureLogger().logger,
      deadWorkerMs: 3_000,
    });
    expect(readded).toBe(0);
    expect(await postEvents(a.id)).not.toContain('recovered');
    // An edit re-adds the post's job; the run holds it again rather than publishing.
    const edited = await env.api('PATCH', `/posts/${a.id}`, {
      body: { caption: `${a.caption} edited` },
      token: env.token,
    });
    expect(edited.status).toBe(200);
    await waitFor('a held twice', async () =>
      (await postEvents(a.id)).filter((t) => t === 'held').length === 2 ? true : undefined,
    );
    expect((await env.api('DELETE', `/posts/${b.id}`, { token: env.token })).status).toBe(200);
    // Reconnecting a stopped account keeps it stopped.
    const { account } = { account: await get(`/instagrams/${id}`) };
    const re = await env.api('POST', '/instagrams', {
      body: { token: env.fake.tokenFor(account.user_id, 'ig_long') },
      token: env.token,
    });
    expect(re.body.state).toBe('stop');
    expect(env.fake.mediaWithCaption(`${a.caption} edited`)).toHaveLength(0);

    const started = await env.api('POST', `/instagrams/${id}/start`, { token: env.token });
    expect(started.body.state).toBe('start');
    await published(a.id);
    await new Promise((r) => setTimeout(r, 500));
    expect(outCount(`${a.caption} edited`)).toBe(1);
    expect(outCount(b.caption)).toBe(0);
    // Not yet due: it keeps its time.
    expect((await get(`/posts/${c.id}`)).status).toBe('scheduled');
    expect(await postEvents(c.id)).not.toContain('held');
  });

  it('a stop and start before the post is due change nothing about it', async () => {
    const { id } = await connected();
    const p = await post(id, { date_pub: inSeconds(2) });
    await env.api('POST', `/instagrams/${id}/stop`, { token: env.token });
    await env.api('POST', `/instagrams/${id}/start`, { token: env.token });
    await env.api('POST', `/instagrams/${id}/stop`, { token: env.token });
    await env.api('GET', `/instagrams/${id}/start`, { token: env.token });
    await published(p.id);
    expect(await postEvents(p.id)).not.toContain('held');
    expect(outCount(p.caption)).toBe(1);
  });
});

describe('stop, start and reconnect while posts come due', () => {
  it('publishes each post exactly once, fails none, whatever the interleaving', async () => {
    // Three accounts of three posts each (this file's limit is 3 posts per account a day).
    const accounts = [await connected(), await connected(), await connected()];
    const made: { id: number; caption: string }[] = [];
    const start = Date.now() + 1500;
    for (const a of accounts)
      for (let i = 0; i < 3; i++)
        made.push(await post(a.id, { date_pub: new Date(start + i * 700).toISOString() }));
    // Toggle the accounts while their posts come due: holds, releases and runs interleave.
    for (let round = 0; Date.now() < start + 2500; round++) {
      await Promise.all(
        accounts.map((a) => env.api('POST', `/instagrams/${a.id}/stop`, { token: env.token })),
      );
      await new Promise((r) => setTimeout(r, 100 + (round % 4) * 40));
      if (round % 3 === 2)
        await Promise.all(
          accounts.map((a) =>
            env.api('POST', '/instagrams', {
              body: { token: env.fake.tokenFor(a.account.igUserId, 'ig_long') },
              token: env.token,
            }),
          ),
        );
      await Promise.all(
        accounts.map((a) => env.api('POST', `/instagrams/${a.id}/start`, { token: env.token })),
      );
      await new Promise((r) => setTimeout(r, 40));
    }
    for (const p of made) await published(p.id);
    await new Promise((r) => setTimeout(r, 500));
    let holds = 0;
    for (const p of made) {
      expect(outCount(p.caption), p.caption).toBe(1);
      const types = await postEvents(p.id);
      expect(types).not.toContain('failed');
      holds += types.filter((t) => t === 'held').length;
    }
    // The interleaving did happen: posts were held and released on the way.
    expect(holds).toBeGreaterThan(0);
    const [jobs] = await env.server.database.sql<{ n: number }[]>`
      select count(*)::int as n from graphile_worker.jobs
      where key = any(${made.map((p) => `post:${p.id}`)}::text[])`;
    expect(jobs!.n).toBe(0);
  }, 60_000);
});

describe('deleting an account', () => {
  it('is refused with the count while posts wait, and keeps published posts afterwards', async () => {
    const { id } = await connected();
    const done = await post(id);
    await published(done.id);
    const w1 = await post(id, { date_pub: inSeconds(3600) });
    const w2 = await post(id, { date_pub: inSeconds(7200) });
    const refused = await env.api('DELETE', `/instagrams/${id}`, { token: env.token });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'INSTAGRAM_IN_USE', number: 2100 });
    expect(refused.body.message).toContain('2 post(s)');
    for (const w of [w1, w2]) await env.api('DELETE', `/posts/${w.id}`, { token: env.token });
    expect((await env.api('DELETE', `/instagrams/${id}`, { token: env.token })).status).toBe(200);
    expect(await get(`/posts/${done.id}`)).toMatchObject({ status: 'published', instagram_id: null });
  });
});

describe('a failed post whose account was deleted', () => {
  it('asks for a new way to publish when edited, and goes out with it', async () => {
    const gone = await connected();
    env.fake.failNext('create', {
      status: 400,
      code: 100,
      subcode: 2207023,
      message: 'The media type is not supported',
    });
    const p = await post(gone.id);
    await until(p.id, (x) => x.status === 'failed', 'failed');
    expect((await env.api('DELETE', `/instagrams/${gone.id}`, { token: env.token })).status).toBe(200);
    expect(await get(`/posts/${p.id}`)).toMatchObject({ status: 'failed', instagram_id: null });

    const caption = await env.api('PATCH', `/posts/${p.id}`, {
      body: { caption: `${p.caption}!` },
      token: env.token,
    });
    expect(caption.status).toBe(400);
    expect(caption.body.issues).toEqual([
      {
        path: 'instagram_id',
        message: 'the post’s account was disconnected: send instagram_id, or user_id with token',
      },
    ]);
    const other = await connected();
    const moved = await env.api('PATCH', `/posts/${p.id}`, {
      body: { instagram_id: other.id },
      token: env.token,
    });
    expect(moved.body).toMatchObject({
      status: 'scheduled',
      instagram_id: other.id,
      user_id: other.account.igUserId,
    });
    await published(p.id);
    expect(outCount(p.caption)).toBe(1);
  });
});

describe('tokens over time', () => {
  const deps = () => ({
    db: env.server.database.db,
    meta: createMeta(env.server.env),
    cipher: env.cipher,
    logger: captureLogger().logger,
  });

  it('POST refresh: Meta declines a token younger than 24 hours, which is reported, not suspected', async () => {
    const { id } = await connected();
    const res = await env.api('POST', `/instagrams/${id}/refresh`, { token: env.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_refreshed: false, instagram: { state: 'start' } });
    expect(res.body.message).toContain('less than 24 hours');
    expect(await accountEvents(id)).toEqual(['connected', 'profile_synced', 'refresh_failed']);
  });

  it('POST refresh after a day: a new token, used by the next post, and the profile read again', async () => {
    const { id, account, token } = await connected();
    account.followersCount = 4321;
    env.fake.now = () => Date.now() + 2 * 86_400_000;
    try {
      const res = await env.api('POST', `/instagrams/${id}/refresh`, { token: env.token });
      expect(res.body.token_refreshed).toBe(true);
      expect(res.body.instagram.info.follower_count).toBe(4321);
      expect(await accountEvents(id)).toEqual(['connected', 'profile_synced', 'token_refreshed']);
    } finally {
      env.fake.now = Date.now;
    }
    const p = await post(id);
    await published(p.id);
    const used = env.fake.requests.find(
      (r) => r.endpoint === 'create' && r.params.caption === p.caption,
    )!.token;
    expect(used).not.toBe(token);
    expect(used!.startsWith('IGAA')).toBe(true);
  });

  it('the daily job refreshes tokens that expire within 30 days, and suspects expired ones with TOKEN_EXPIRED', async () => {
    const fresh = await connected();
    const due = await connected();
    const dying = await connected();
    const pageAccount = await connected('fb_user');
    const day = 86_400_000;
    // 40 days later: `due` expires in 20 days.
    await env.server.database.sql`update instagrams set token_refreshed_at = now() - interval '40 days',
      token_expires_at = now() + interval '20 days' where id = ${due.id}`;
    await env.server.database.sql`update instagrams set token_refreshed_at = now() - interval '60 days',
      token_expires_at = now() - interval '1 minute' where id = ${dying.id}`;
    env.fake.now = () => Date.now() + 40 * day;
    try {
      await refreshDueAccounts(deps());
    } finally {
      env.fake.now = Date.now;
    }
    expect(await accountEvents(due.id)).toEqual(['connected', 'token_refreshed']);
    const refreshed = await get(`/instagrams/${due.id}`);
    expect(Date.parse(refreshed.token_expires_at)).toBeGreaterThan(Date.now() + 59 * day);
    // Fresh tokens and Page tokens only get their profile read: an event only when it changed.
    expect(await accountEvents(fresh.id)).toEqual(['connected']);
    const before = (await get(`/instagrams/${pageAccount.id}`)).info;
    pageAccount.account.followersCount += 7;
    await refreshDueAccounts(deps());
    const after = await get(`/instagrams/${pageAccount.id}`);
    expect(after.info.follower_count).toBe(before.follower_count + 7);
    expect(await accountEvents(pageAccount.id)).toEqual(['connected', 'profile_synced']);
    const dead = await get(`/instagrams/${dying.id}`);
    expect(dead).toMatchObject({ state: 'suspected', state_reason: { code: 'TOKEN_EXPIRED' } });
    expect(await accountEvents(dying.id)).toEqual(['connected', 'suspected']);
    // Its posts wait for a new token instead of failing.
    const p = await post(dying.id);
    await held(p.id);
    expect((await get(`/posts/${p.id}`)).status).toBe('scheduled');
  });
});
