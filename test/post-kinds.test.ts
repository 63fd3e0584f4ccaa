import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GRAPH_TOKEN } from './helpers/post-fixtures.ts';
import { startPublisherEnv, waitFor, type PublisherEnv } from './helpers/publisher.ts';

let env: PublisherEnv;
let account = 500;
const nextAccount = () => String(++account);

beforeAll(async () => {
  env = await startPublisherEnv({
    worker: { firstCommentRetryDelaysMs: [100, 100, 100] },
    // Small, so a test can reach it; each test uses an account of its own.
    settings: { containersPer24h: 6 },
  });
});
afterAll(() => env.close());

async function create(body: Record<string, unknown>) {
  return env.api('POST', '/posts', { body: { token: GRAPH_TOKEN, ...body }, token: env.token });
}

async function publishedParams(body: Record<string, unknown>) {
  const ig = nextAccount();
  const res = await create({ user_id: ig, ...body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const done = await waitFor(
    `post ${res.body.id} published`,
    async () => {
      const p = (await env.api('GET', `/posts/${res.body.id}`, { token: env.token })).body;
      if (p.status === 'failed') throw new Error(JSON.stringify(p.error));
      return p.status === 'published' ? p : undefined;
    },
    15_000,
  );
  const creates = env.fake.requests.filter((r) => r.endpoint === 'create' && r.path === `/${ig}/media`);
  const publishes = env.fake.requests.filter(
    (r) => r.endpoint === 'publish' && r.path === `/${ig}/media_publish`,
  );
  expect(creates).toHaveLength(1);
  expect(publishes).toHaveLength(1);
  return { post: res.body, done, params: creates[0]!.params };
}

describe('kinds of posts, published with exactly Meta’s parameters', () => {
  it('a reel with cover, audio name, trial mode, collaborators and share_to_feed false', async () => {
    const { post, params } = await publishedParams({
      content_type: 'Video',
      url: 'https://cdn.example.com/r.mp4',
      caption: 'New reel',
      cover_url: 'https://cdn.example.com/cover.jpg',
      audio_name: 'Morning song',
      trial_reel: 'manual',
      share_to_feed: false,
      collaborators: ['partner.one', 'partner.two'],
    });
    expect(post).toMatchObject({
      placement: 'feed',
      cover_url: 'https://cdn.example.com/cover.jpg',
      audio_name: 'Morning song',
      trial_reel: 'manual',
      share_to_feed: false,
      collaborators: ['partner.one', 'partner.two'],
      alt_text: null,
    });
    expect(params).toEqual({
      media_type: 'REELS',
      video_url: 'https://cdn.example.com/r.mp4',
      caption: 'New reel',
      share_to_feed: 'false',
      cover_url: 'https://cdn.example.com/cover.jpg',
      audio_name: 'Morning song',
      trial_params: '{"graduation_strategy":"MANUAL"}',
      collaborators: '["partner.one","partner.two"]',
    });
  });

  it('a photo with alt text and a collaborator', async () => {
    const { post, params } = await publishedParams({
      content_type: 'Photo',
      url: 'https://cdn.example.com/p.jpg',
      alt_text: 'A red bicycle against a white wall',
      collaborators: ['partner.one'],
    });
    expect(post).toMatchObject({ alt_text: 'A red bicycle against a white wall', share_to_feed: null });
    expect(params).toEqual({
      image_url: 'https://cdn.example.com/p.jpg',
      alt_text: 'A red bicycle against a white wall',
      collaborators: '["partner.one"]',
    });
  });

  it('stories, a photo with a tag and a video', async () => {
    const photo = await publishedParams({
      placement: 'story',
      content_type: 'Photo',
      url: 'https://cdn.example.com/s.jpg',
      user_tags: [{ username: 'friend', x: 0.5, y: 0.5 }],
    });
    expect(photo.post.placement).toBe('story');
    expect(photo.params).toEqual({
      media_type: 'STORIES',
      image_url: 'https://cdn.example.com/s.jpg',
      user_tags: '[{"username":"friend","x":0.5,"y":0.5}]',
    });
    const video = await publishedParams({
      placement: 'story',
      content_type: 'Video',
      url: 'https://cdn.example.com/s.mp4',
    });
    expect(video.params).toEqual({ media_type: 'STORIES', video_url: 'https://cdn.example.com/s.mp4' });
  });
});

describe('carousels', () => {
  const items = (ig: string) =>
    [...env.fake.containers.values()].filter(
      (c) => c.igUserId === ig && c.params.is_carousel_item === 'true',
    );

  it('two photos and a video: each item made once in order, the video waited for, then one carousel, published once', async () => {
    const ig = nextAccount();
    const res = await create({
      user_id: ig,
      content_type: 'Carousel',
      caption: 'Our weekend',
      location_id: '110843418940484',
      collaborators: ['partner.one'],
      first_comment: '#weekend',
      children: [
        {
          content_type: 'Photo',
          url: 'https://cdn.example.com/1.jpg',
          alt_text: 'A lake',
          user_tags: [{ username: 'friend', x: 0.1, y: 0.2 }],
        },
        { content_type: 'Video', url: 'https://cdn.example.com/2.mp4', user_tags: [{ username: 'friend' }] },
        { content_type: 'Photo', url: 'https://cdn.example.com/3.jpg' },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ content_type: 'Carousel', url: null, user_tags: [] });
    expect(res.body.children.map((c: { url: string }) => c.url)).toEqual([
      'https://cdn.example.com/1.jpg',
      'https://cdn.example.com/2.mp4',
      'https://cdn.example.com/3.jpg',
    ]);
    const done = await waitFor(
      'carousel published',
      async () => {
        const p = (await env.api('GET', `/posts/${res.body.id}`, { token: env.token })).body;
        if (p.status === 'failed') throw new Error(JSON.stringify(p.error));
        return p.status === 'published' ? p : undefined;
      },
      15_000,
    );
    const made = items(ig);
    expect(made.map((c) => c.params)).toEqual([
      {
        is_carousel_item: 'true',
        image_url: 'https://cdn.example.com/1.jpg',
        alt_text: 'A lake',
        user_tags: '[{"username":"friend","x":0.1,"y":0.2}]',
      },
      {
        is_carousel_item: 'true',
        media_type: 'VIDEO',
        video_url: 'https://cdn.example.com/2.mp4',
        user_tags: '[{"username":"friend"}]',
      },
      { is_carousel_item: 'true', image_url: 'https://cdn.example.com/3.jpg' },
    ]);
    const parents = [...env.fake.containers.values()].filter(
      (c) => c.igUserId === ig && c.params.media_type === 'CAROUSEL',
    );
    expect(parents).toHaveLength(1);
    expect(parents[0]!.params).toEqual({
      media_type: 'CAROUSEL',
      children: made.map((c) => c.id).join(','),
      caption: 'Our weekend',
      location_id: '110843418940484',
      collaborators: '["partner.one"]',
    });
    // The video item was checked until Meta finished it.
    expect(
      env.fake.requests.filter((r) => r.endpoint === 'status' && r.path === `/${made[1]!.id}`).length,
    ).toBeGreaterThan(0);
    expect(
      env.fake.requests.filter((r) => r.endpoint === 'publish' && r.path === `/${ig}/media_publish`),
    ).toHaveLength(1);
    expect(done.children.map((c: { creation_id: string }) => c.creation_id)).toEqual(made.map((c) => c.id));
    expect(done.creation_id).toBe(parents[0]!.id);
    await waitFor('first comment', async () =>
      (await env.api('GET', `/posts/${res.body.id}`, { token: env.token })).body.first_comment_id
        ? true
        : undefined,
    );
  });

  it('a failure after some items exist reuses them on the retry', async () => {
    const ig = nextAccount();
    // Item 1 is made, item 2 meets Meta's temporary trouble: the retry makes items 2 and 3 only.
    env.fake.failNext('create', { status: 500, code: 2, message: 'Temporary', transient: true }, 1, 1);
    const res = await create({
      user_id: ig,
      content_type: 'Carousel',
      caption: 'retried carousel',
      children: ['a', 'b', 'c'].map((n) => ({
        content_type: 'Photo',
        url: `https://cdn.example.com/${n}.jpg`,
      })),
    });
    const done = await waitFor('published', async () => {
      const p = (await env.api('GET', `/posts/${res.body.id}`, { token: env.token })).body;
      return p.status === 'published' ? p : undefined;
    });
    expect(items(ig).map((c) => c.params.image_url)).toEqual([
      'https://cdn.example.com/a.jpg',
      'https://cdn.example.com/b.jpg',
      'https://cdn.example.com/c.jpg',
    ]);
    expect(done.attempts).toBe(2);
    expect(env.fake.mediaWithCaption('retried carousel')).toHaveLength(1);
  });

  it('counts carousel items against the 400-containers-a-day budget (6 here) and waits instead of going over', async () => {
    const ig = nextAccount();
    const carousel = (caption: string) =>
      create({
        user_id: ig,
        content_type: 'Carousel',
        caption,
        children: ['a', 'b', 'c'].map((n) => ({
          content_type: 'Photo',
          url: `https://cdn.example.com/${n}.jpg`,
        })),
      });
    const first = await carousel('budget one');
    await waitFor('first published', async () =>
      (await env.api('GET', `/posts/${first.body.id}`, { token: env.token })).body.status === 'published'
        ? true
        : undefined,
    );
    const second = await carousel('budget two');
    const waiting = await waitFor('quota_wait', async () => {
      const events = (await env.api('GET', `/posts/${second.body.id}/events`, { token: env.token })).body
        .items;
      return events.find((e: { type: string }) => e.type === 'quota_wait');
    });
    expect(waiting.message).toContain('made 4 of the 6 media containers');
    expect((await env.api('GET', `/posts/${second.body.id}`, { token: env.token })).body.status).toBe(
      'scheduled',
    );
    expect(items(ig)).toHaveLength(3);
    await env.api('DELETE', `/posts/${second.body.id}`, { token: env.token });
  });

  it('refuses what does not fit a carousel', async () => {
    const issuesOf = async (body: Record<string, unknown>) => {
      const r = await create({ user_id: '3', content_type: 'Carousel', ...body });
      expect(r.status).toBe(400);
      return r.body.issues.map((i: { path: string }) => i.path).sort();
    };
    const one = [{ content_type: 'Photo', url: 'https://cdn.example.com/1.jpg' }];
    expect(await issuesOf({ children: one })).toEqual(['children']);
    expect(await issuesOf({ children: Array(11).fill(one[0]) })).toEqual(['children']);
    const two = [...one, { content_type: 'Video', url: 'https://cdn.example.com/2.mp4', alt_text: 'x' }];
    expect(
      await issuesOf({
        children: two,
        url: 'https://cdn.example.com/x.jpg',
        placement: 'story',
        thumb_offset: 5,
        cover_url: 'https://cdn.example.com/c.jpg',
        alt_text: 'top',
      }),
    ).toEqual(['alt_text', 'children.1.alt_text', 'cover_url', 'placement', 'thumb_offset', 'url']);
    const untagged = [
      { content_type: 'Photo', url: 'https://cdn.example.com/1.jpg', user_tags: [{ username: 'a' }] },
      one[0],
    ];
    expect(await issuesOf({ children: untagged })).toEqual([
      'children.0.user_tags.0.x',
      'children.0.user_tags.0.y',
    ]);
    const single = await create({
      user_id: '3',
      content_type: 'Photo',
      url: 'https://cdn.example.com/1.jpg',
      children: two,
    });
    expect(single.body.issues.map((i: { path: string }) => i.path)).toEqual(['children']);
  });
});

describe('the first comment', () => {
  const events = async (id: number) =>
    (await env.api('GET', `/posts/${id}/events`, { token: env.token })).body.items as {
      type: string;
      message: string;
    }[];
  const commented = (id: number) =>
    waitFor(`post ${id}'s first comment`, async () => {
      const p = (await env.api('GET', `/posts/${id}`, { token: env.token })).body;
      return p.first_comment_id ? p : undefined;
    });

  it('is posted once after the post is live, and its id stored', async () => {
    const { done } = await publishedParams({
      content_type: 'Photo',
      url: 'https://cdn.example.com/fc.jpg',
      caption: 'Sunset',
      first_comment: '#sunset #beach #nofilter',
    });
    const post = await commented(done.id);
    const comments = env.fake.comments.get(done.media_id)!;
    expect(comments.map((c) => c.text)).toEqual(['#sunset #beach #nofilter']);
    expect(post.first_comment_id).toBe(comments[0]!.id);
    expect((await events(done.id)).map((e) => e.type).slice(-2)).toEqual([
      'published',
      'first_comment_posted',
    ]);
  });

  it('after a lost answer, finds its comment instead of posting it twice', async () => {
    env.fake.failNext('comment', 'lose_answer');
    const { done } = await publishedParams({
      content_type: 'Photo',
      url: 'https://cdn.example.com/fc.jpg',
      first_comment: 'lost then found',
    });
    const post = await commented(done.id);
    const comments = env.fake.comments.get(done.media_id)!;
    expect(comments).toHaveLength(1);
    expect(post.first_comment_id).toBe(comments[0]!.id);
    expect(
      env.fake.requests.filter((r) => r.endpoint === 'comments' && r.path === `/${done.media_id}/comments`)
        .length,
    ).toBeGreaterThan(0);
  });

  it('that cannot be posted is an event, and the post stays published', async () => {
    env.fake.failNext('comment', { status: 400, code: 100, message: 'Comments are turned off' });
    const { done } = await publishedParams({
      content_type: 'Photo',
      url: 'https://cdn.example.com/fc.jpg',
      first_comment: 'nope',
    });
    const failed = await waitFor('first_comment_failed', async () =>
      (await events(done.id)).find((e) => e.type === 'first_comment_failed'),
    );
    expect(failed.message).toContain('Comments are turned off');
    const post = (await env.api('GET', `/posts/${done.id}`, { token: env.token })).body;
    expect(post).toMatchObject({ status: 'published', first_comment_id: null, error: null });
  });

  it('transient failures are tried again, a bounded number of times', async () => {
    env.fake.failNext('comment', { status: 500, code: 2, message: 'Temporary', transient: true }, 2);
    const { done } = await publishedParams({
      content_type: 'Photo',
      url: 'https://cdn.example.com/fc.jpg',
      first_comment: 'third time',
    });
    await commented(done.id);
    expect(env.fake.comments.get(done.media_id)!.map((c) => c.text)).toEqual(['third time']);
  });
});

describe('fields that do not apply are refused, each with its own issue', () => {
  const issues = async (body: Record<string, unknown>) => {
    const res = await create({ user_id: '1', ...body });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    return Object.fromEntries(
      res.body.issues.map((i: { path: string; message: string }) => [i.path, i.message]),
    );
  };

  it('on a story', async () => {
    const found = await issues({
      placement: 'story',
      content_type: 'Video',
      url: 'https://cdn.example.com/s.mp4',
      caption: 'x',
      location_id: '123',
      collaborators: ['a.b'],
      thumb_offset: 10,
      cover_url: 'https://cdn.example.com/c.jpg',
      audio_name: 'x',
      trial_reel: 'manual',
      share_to_feed: true,
    });
    expect(Object.keys(found).sort()).toEqual(
      [
        'audio_name',
        'caption',
        'collaborators',
        'cover_url',
        'location_id',
        'share_to_feed',
        'thumb_offset',
        'trial_reel',
      ].sort(),
    );
    expect(found.caption).toContain('does not apply to a story');
    const photoStory = await issues({
      placement: 'story',
      content_type: 'Photo',
      url: 'https://cdn.example.com/s.jpg',
      alt_text: 'x',
    });
    expect(Object.keys(photoStory)).toEqual(['alt_text']);
  });

  it('reel options on a photo, alt text on a reel, and bad values', async () => {
    const onPhoto = await issues({
      content_type: 'Photo',
      url: 'https://cdn.example.com/p.jpg',
      cover_url: 'https://cdn.example.com/c.jpg',
      share_to_feed: false,
      audio_name: 'x',
      trial_reel: 'performance',
    });
    expect(onPhoto).toEqual({
      cover_url: 'cover_url is only for videos (reels)',
      share_to_feed: 'share_to_feed is only for videos (reels)',
      audio_name: 'audio_name is only for videos (reels)',
      trial_reel: 'trial_reel is only for videos (reels)',
    });
    const onReel = await issues({
      content_type: 'Video',
      url: 'https://cdn.example.com/r.mp4',
      alt_text: 'x',
    });
    expect(Object.keys(onReel)).toEqual(['alt_text']);
    const bad = await issues({
      content_type: 'Video',
      url: 'https://cdn.example.com/r.mp4',
      collaborators: ['a', 'b', 'c', 'd'],
      cover_url: 'http://127.0.0.1/c.jpg',
      audio_name: 'x'.repeat(101),
      trial_reel: 'sometimes',
      placement: 'reel',
    });
    expect(Object.keys(bad).sort()).toEqual([
      'audio_name',
      'collaborators',
      'cover_url',
      'placement',
      'trial_reel',
    ]);
    const long = await issues({
      content_type: 'Photo',
      url: 'https://cdn.example.com/p.jpg',
      alt_text: 'x'.repeat(1001),
    });
    expect(long.alt_text).toBe('alt_text is at most 1000 characters');
  });

  it('PATCH checks the merged post: a reel with a cover cannot become a photo without clearing it', async () => {
    const reel = await create({
      user_id: '2',
      content_type: 'Video',
      url: 'https://cdn.example.com/r.mp4',
      cover_url: 'https://cdn.example.com/c.jpg',
      date_pub: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const refused = await env.api('PATCH', `/posts/${reel.body.id}`, {
      body: { content_type: 'Photo', url: 'https://cdn.example.com/p.jpg' },
      token: env.token,
    });
    expect(refused.status).toBe(400);
    expect(refused.body.issues).toEqual([
      { path: 'cover_url', message: 'cover_url is only for videos (reels)' },
    ]);
    const ok = await env.api('PATCH', `/posts/${reel.body.id}`, {
      body: {
        content_type: 'Photo',
        url: 'https://cdn.example.com/p.jpg',
        cover_url: null,
        alt_text: 'Now a photo',
      },
      token: env.token,
    });
    expect(ok.body).toMatchObject({
      content_type: 'Photo',
      cover_url: null,
      alt_text: 'Now a photo',
      share_to_feed: null,
    });
    const story = await env.api('PATCH', `/posts/${reel.body.id}`, {
      body: { placement: 'story' },
      token: env.token,
    });
    expect(story.body.issues.map((i: { path: string }) => i.path)).toEqual(['alt_text']);
    await env.api('DELETE', `/posts/${reel.body.id}`, { token: env.token });
  });
});
