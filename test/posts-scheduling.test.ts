import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createTokenCipher } from '../server/crypto/token-cipher.ts';
import { busiestWindow } from '../server/posts/publish-limit.ts';
import { createPost, deletePost, updatePost } from '../server/posts/service.ts';
import { photo } from './helpers/post-fixtures.ts';
import { jsonClient } from './helpers/http.ts';
import { startTestServer } from './helpers/server.ts';
import { useTestServer } from './helpers/setup.ts';
import { userWithToken } from './helpers/users.ts';

const LIMIT = 3;
const t = useTestServer({ env: { PUBLISH_LIMIT_PER_24H: String(LIMIT) } });
const deps = {
  cipher: createTokenCipher(randomBytes(32)),
  publishLimit: 1000,
  maxScheduled: 10_000,
  waitingCounts: new Map(),
};

async function jobsFor(postId: number) {
  // drizzle's driver leaves timestamps as strings on this connection.
  const rows = await t.server.database.sql<
    { task_identifier: string; run_at: string; payload: { postId: number } }[]
  >`
    select t.identifier as task_identifier, j.run_at, j.payload
    from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
    where j.key = ${`post:${postId}`}`;
  return rows.map((r) => ({ ...r, run_at: new Date(r.run_at) }));
}

/** Every live post has exactly one publish job at its date_pub; there are no other jobs. */
async function expectJobsMatchPosts(): Promise<void> {
  const rows = await t.server.database.sql<
    { id: number; date_pub: string; jobs: number; run_at: string | null }[]
  >`
    select p.id, p.date_pub, count(j.id)::int as jobs, max(j.run_at) as run_at
    from posts p left join graphile_worker.jobs j on j.key = 'post:' || p.id
    where p.status = 'scheduled' group by p.id`;
  for (const row of rows) {
    expect(row.jobs, `post ${row.id}`).toBe(1);
    expect(new Date(row.run_at!).getTime(), `post ${row.id}`).toBe(new Date(row.date_pub).getTime());
  }
  const [orphans] = await t.server.database.sql<{ n: number }[]>`
    select count(*)::int as n from graphile_worker.jobs j
    where not exists (select 1 from posts p where 'post:' || p.id = j.key)`;
  expect(orphans!.n).toBe(0);
}

describe('jobs live and die with their posts', () => {
  it('creating a post adds one publish_post job keyed by it, at date_pub', async () => {
    const at = '2030-03-03T03:03:03Z';
    const res = await t.api('POST', '/posts', {
      body: photo({ user_id: '500', date_pub: at }),
      token: t.user.token,
    });
    const jobs = await jobsFor(res.body.id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ task_identifier: 'publish_post', payload: { postId: res.body.id } });
    expect(jobs[0]!.run_at.toISOString()).toBe('2030-03-03T03:03:03.000Z');
  });

  it('a rolled-back transaction leaves neither post nor job', async () => {
    const before = await t.server.database.sql`select count(*)::int as n from graphile_worker.jobs`;
    let createdId = 0;
    await expect(
      t.server.database.db.transaction(async (tx) => {
        const post = await createPost(tx, t.user.id, photo({ user_id: '501' }), deps);
        createdId = post.id;
        expect(
          await tx.execute(`select 1 from graphile_worker.jobs where key = 'post:${post.id}'`),
        ).toHaveLength(1);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(createdId).toBeGreaterThan(0);
    expect(await jobsFor(createdId)).toHaveLength(0);
    expect(await t.server.database.sql`select 1 from posts where id = ${createdId}`).toHaveLength(0);
    const after = await t.server.database.sql`select count(*)::int as n from graphile_worker.jobs`;
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it('a rolled-back reschedule keeps the old job time; a rolled-back delete keeps the job', async () => {
    const created = await t.api('POST', '/posts', {
      body: photo({ user_id: '502', date_pub: '2030-04-04T04:04:04Z' }),
      token: t.user.token,
    });
    const id = created.body.id;
    for (const change of [
      (tx: never) =>
        updatePost(tx, t.user.id, { input: { id, date_pub: '2031-01-01T00:00:00Z' }, mode: 'patch' }, deps),
      (tx: never) => deletePost(tx, t.user.id, id),
    ]) {
      await expect(
        t.server.database.db.transaction(async (tx) => {
          await change(tx as never);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      const jobs = await jobsFor(id);
      expect(jobs).toHaveLength(1);
      expect(jobs[0]!.run_at.toISOString()).toBe('2030-04-04T04:04:04.000Z');
    }
  });

  it('after any sequence of creates, updates and deletes, each live post has exactly one job at date_pub', async () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const live: number[] = [];
    for (let step = 0; step < 80; step++) {
      const roll = random();
      const minutes = Math.floor(random() * 10_000);
      const when = new Date(Date.UTC(2030, 5, 1) + minutes * 60_000).toISOString();
      if (live.length === 0 || roll < 0.35) {
        const res = await t.api('POST', '/posts', {
          body: photo({ user_id: String(600 + (step % 50)), date_pub: when }),
          token: t.user.token,
        });
        expect(res.status).toBe(201);
        live.push(res.body.id);
      } else {
        const id = live[Math.floor(random() * live.length)]!;
        if (roll < 0.6) {
          expect(
            (await t.api('PATCH', `/posts/${id}`, { body: { date_pub: when }, token: t.user.token })).status,
          ).toBe(200);
        } else if (roll < 0.75) {
          const res = await t.api('PUT', `/posts/${id}`, {
            body: photo({ user_id: String(700 + step), date_pub: random() < 0.3 ? null : when }),
            token: t.user.token,
          });
          expect(res.status).toBe(200);
        } else if (roll < 0.85) {
          expect(
            (await t.api('PATCH', `/posts/${id}`, { body: { caption: `c${step}` }, token: t.user.token }))
              .status,
          ).toBe(200);
        } else {
          expect((await t.api('DELETE', `/posts/${id}`, { token: t.user.token })).status).toBe(200);
          live.splice(live.indexOf(id), 1);
        }
      }
    }
    expect(live.length).toBeGreaterThan(5);
    await expectJobsMatchPosts();
  });
});

describe('what can change in each status', () => {
  async function postIn(status: string, extra = ''): Promise<number> {
    const res = await t.api('POST', '/posts', { body: photo({ user_id: '800' }), token: t.user.token });
    await t.server.database.sql.unsafe(
      `update posts set status = '${status}' ${extra} where id = ${res.body.id}`,
    );
    return res.body.id;
  }

  it('refuses PATCH, PUT and DELETE with 409 POST_NOT_EDITABLE while publishing', async () => {
    const id = await postIn('publishing');
    for (const [method, body] of [
      ['PATCH', { caption: 'late' }],
      ['PUT', photo({ user_id: '800' })],
      ['DELETE', undefined],
    ] as const) {
      const res = await t.api(method, `/posts/${id}`, { body, token: t.user.token });
      expect(res.status, method).toBe(409);
      expect(res.body.code).toBe('POST_NOT_EDITABLE');
    }
    expect(await jobsFor(id)).toHaveLength(1);
  });

  it('refuses edits of a published post but lets it be deleted from the list', async () => {
    const id = await postIn('published', ", media_id = '1789', published_at = now()");
    const res = await t.api('PATCH', `/posts/${id}`, { body: { caption: 'edit' }, token: t.user.token });
    expect(res.status).toBe(409);
    expect(res.body.message).toBe('The post has been published and can no longer change.');
    expect((await t.api('DELETE', `/posts/${id}`, { token: t.user.token })).status).toBe(200);
  });

  it('schedules a failed post again when it is edited, clearing its error', async () => {
    const id = await postIn(
      'failed',
      `, last_error = '{"code":"GRAPH_TOKEN_INVALID","message":"bad token","graph_code":190}', attempts = 3,
         creation_id = '999', date_pub = now() - interval '1 hour'`,
    );
    await t.server.database.sql`select graphile_worker.remove_job(${`post:${id}`})`;
    const before = Date.now();
    const res = await t.api('PATCH', `/posts/${id}`, {
      body: { token: 'EAAG-a-fresh-token' },
      token: t.user.token,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'scheduled', error: null, attempts: 0, creation_id: null });
    expect(Date.parse(res.body.date_pub)).toBeGreaterThanOrEqual(before - 1000);
    const jobs = await jobsFor(id);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]!.run_at.getTime()).toBe(Date.parse(res.body.date_pub));
    const events = await t.api('GET', `/posts/${id}/events`, { token: t.user.token });
    expect(events.body.items.at(-1)).toMatchObject({ type: 'rescheduled' });
  });
});

describe('the publishing limit (PUBLISH_LIMIT_PER_24H=3 here)', () => {
  const at = (hours: number) => new Date(Date.UTC(2030, 8, 1) + hours * 3600_000).toISOString();

  it('refuses the fourth post in 24 hours with 409 PUBLISH_LIMIT_REACHED, and allows it a day later', async () => {
    for (const h of [0, 5, 10]) {
      expect(
        (
          await t.api('POST', '/posts', {
            body: photo({ user_id: '900', date_pub: at(h) }),
            token: t.user.token,
          })
        ).status,
      ).toBe(201);
    }
    const res = await t.api('POST', '/posts', {
      body: photo({ user_id: '900', date_pub: at(20) }),
      token: t.user.token,
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('PUBLISH_LIMIT_REACHED');
    expect(res.body.message).toContain('900');
    // 24 hours after the first post the window has moved on.
    expect(
      (
        await t.api('POST', '/posts', {
          body: photo({ user_id: '900', date_pub: at(24) }),
          token: t.user.token,
        })
      ).status,
    ).toBe(201);
    // Another account is not affected.
    expect(
      (
        await t.api('POST', '/posts', {
          body: photo({ user_id: '901', date_pub: at(20) }),
          token: t.user.token,
        })
      ).status,
    ).toBe(201);
  });

  it('checks a reschedule too, and does not count the moved post against itself', async () => {
    const ids: number[] = [];
    for (const h of [100, 101, 102]) {
      ids.push(
        (
          await t.api('POST', '/posts', {
            body: photo({ user_id: '910', date_pub: at(h) }),
            token: t.user.token,
          })
        ).body.id,
      );
    }
    const lone = await t.api('POST', '/posts', {
      body: photo({ user_id: '910', date_pub: at(200) }),
      token: t.user.token,
    });
    const into = await t.api('PATCH', `/posts/${lone.body.id}`, {
      body: { date_pub: at(103) },
      token: t.user.token,
    });
    expect(into.status).toBe(409);
    expect(into.body.code).toBe('PUBLISH_LIMIT_REACHED');
    const within = await t.api('PATCH', `/posts/${ids[0]}`, {
      body: { date_pub: at(104) },
      token: t.user.token,
    });
    expect(within.status).toBe(200);
  });

  it('does not count failed posts', async () => {
    for (const h of [300, 301, 302]) {
      const res = await t.api('POST', '/posts', {
        body: photo({ user_id: '920', date_pub: at(h) }),
        token: t.user.token,
      });
      await t.server.database.sql`update posts set status = 'failed' where id = ${res.body.id}`;
    }
    expect(
      (
        await t.api('POST', '/posts', {
          body: photo({ user_id: '920', date_pub: at(303) }),
          token: t.user.token,
        })
      ).status,
    ).toBe(201);
  });

  it('lets exactly one of several racing creates take the last slot', async () => {
    for (const h of [400, 401]) {
      await t.api('POST', '/posts', {
        body: photo({ user_id: '930', date_pub: at(h) }),
        token: t.user.token,
      });
    }
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        t.api('POST', '/posts', {
          body: photo({ user_id: '930', date_pub: at(402 + i / 10) }),
          token: t.user.token,
        }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    const [count] = await t.server.database
      .sql`select count(*)::int as n from posts where ig_user_id = '930'`;
    expect(count!.n).toBe(LIMIT);
  });

  it('finds the busiest window that would contain the new post', () => {
    const h = 3600_000;
    expect(busiestWindow(0, [])).toBe(1);
    expect(busiestWindow(0, [-23 * h, 23 * h])).toBe(2);
    expect(busiestWindow(0, [-23 * h, -22 * h, 1 * h])).toBe(3);
    expect(busiestWindow(0, [-23 * h, -22 * h, 0.5 * h])).toBe(4);
    expect(busiestWindow(0, [-24 * h, 24 * h])).toBe(1);
    expect(busiestWindow(0, [0, 0])).toBe(3);
  });
});

describe('the cap on waiting posts (MAX_SCHEDULED_POSTS)', () => {
  it('refuses the post past the cap with 409 TOO_MANY_SCHEDULED_POSTS, and takes one again after a delete', async () => {
    const capped = await startTestServer({ MAX_SCHEDULED_POSTS: '3' });
    try {
      const owner = await userWithToken(capped.database.db);
      const other = await userWithToken(capped.database.db);
      const api = jsonClient(`${capped.baseUrl}/api/v1`);
      const made: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await api('POST', '/posts', { body: photo({ user_id: `90${i}` }), token: owner.token });
        expect(res.status).toBe(201);
        made.push(res.body.id);
      }
      const refused = await api('POST', '/posts', { body: photo({ user_id: '909' }), token: owner.token });
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe('TOO_MANY_SCHEDULED_POSTS');
      // The cap is per user: someone else is not affected.
      expect((await api('POST', '/posts', { body: photo(), token: other.token })).status).toBe(201);
      await api('DELETE', `/posts/${made[0]}`, { token: owner.token });
      expect(
        (await api('POST', '/posts', { body: photo({ user_id: '909' }), token: owner.token })).status,
      ).toBe(201);
    } finally {
      await capped.close();
    }
  });
});
