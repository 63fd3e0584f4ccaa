import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify, GraphError, GraphNetworkError } from '../server/graph/errors.ts';
import { FakeGraph } from '../server/graph/fake-graph.ts';
import { createGraphClient, parseGraphTime, readUsageHeaders } from '../server/graph/graph-client.ts';
import { containerForm } from '../server/kinds/index.ts';
import type { ContainerParams } from '../server/kinds/kind.ts';

/** A single feed post's options, all unset. */
const PLAIN = {
  placement: 'feed',
  altText: null,
  collaborators: [],
  coverUrl: null,
  shareToFeed: null,
  audioName: null,
  trialReel: null,
  caption: null,
  locationId: null,
  thumbOffset: null,
  userTags: [],
} as const satisfies Partial<ContainerParams>;

const fields = (
  code: number | null,
  subcode: number | null = null,
  extra: Partial<{ isTransient: boolean; httpStatus: number }> = {},
) => ({
  code,
  subcode,
  isTransient: false,
  httpStatus: 400,
  message: 'x',
  ...extra,
});

describe('classifying Graph errors (docs/graph-api.md)', () => {
  it.each([
    [1, null, 'retry', 'GRAPH_TEMPORARY'],
    [2, null, 'retry', 'GRAPH_TEMPORARY'],
    [-1, 2207001, 'retry', 'GRAPH_TEMPORARY'],
    [-2, 2207003, 'retry', 'GRAPH_TEMPORARY'],
    [-1, 2207032, 'retry', 'GRAPH_TEMPORARY'],
    [4, null, 'retry_later', 'GRAPH_RATE_LIMITED'],
    [17, null, 'retry_later', 'GRAPH_RATE_LIMITED'],
    [32, null, 'retry_later', 'GRAPH_RATE_LIMITED'],
    [613, null, 'retry_later', 'GRAPH_RATE_LIMITED'],
    [80002, null, 'retry_later', 'GRAPH_RATE_LIMITED'],
    [10, 2534022, 'permanent', 'GRAPH_ACTION_REFUSED'],
    [10900, null, 'permanent', 'GRAPH_ACTION_REFUSED'],
    [9007, 2207027, 'poll', 'GRAPH_CONTAINER_NOT_READY'],
    [24, 2207008, 'new_container', 'GRAPH_CONTAINER_EXPIRED'],
    [-2, 2207020, 'new_container', 'GRAPH_CONTAINER_EXPIRED'],
    [-1, 2207053, 'new_container', 'GRAPH_CONTAINER_EXPIRED'],
    [9, 2207042, 'quota', 'GRAPH_QUOTA_EXCEEDED'],
    [190, null, 'permanent', 'GRAPH_TOKEN_INVALID'],
    [10, null, 'permanent', 'GRAPH_PERMISSION_MISSING'],
    [200, null, 'permanent', 'GRAPH_PERMISSION_MISSING'],
    [299, null, 'permanent', 'GRAPH_PERMISSION_MISSING'],
    [368, null, 'permanent', 'GRAPH_POLICY_BLOCK'],
    [4, 2207051, 'permanent', 'GRAPH_ACCOUNT_RESTRICTED'],
    [25, 2207050, 'permanent', 'GRAPH_ACCOUNT_RESTRICTED'],
    [100, 2207023, 'permanent', 'GRAPH_MEDIA_REJECTED'],
    [100, 2207028, 'permanent', 'GRAPH_MEDIA_REJECTED'],
    [352, 2207026, 'permanent', 'GRAPH_MEDIA_REJECTED'],
    [9004, 2207052, 'permanent', 'GRAPH_MEDIA_REJECTED'],
    [36003, null, 'permanent', 'GRAPH_MEDIA_REJECTED'],
    [1, 2207057, 'permanent', 'GRAPH_MEDIA_REJECTED'],
  ])('code %s / %s → %s (%s)', (code, subcode, action, errorCode) => {
    expect(classify(fields(code, subcode))).toMatchObject({ action, errorCode });
  });

  it('retries an unknown error that Meta marks transient or that is a 5xx, and fails other unknown ones', () => {
    expect(classify(fields(12345, null, { isTransient: true })).action).toBe('retry');
    expect(classify(fields(null, null, { httpStatus: 502 })).action).toBe('retry');
    expect(classify(fields(12345)).action).toBe('permanent');
  });

  it('tells the user what to fix', () => {
    const e = new GraphError({ ...fields(352, 2207026), type: null, fbtraceId: null });
    expect(e.userMessage).toBe(
      'The video format is not supported: use MP4 or MOV, H.264 or HEVC, 3 s to 15 min.',
    );
  });
});

describe('Graph timestamps', () => {
  it('reads the offset without a colon', () => {
    expect(parseGraphTime('2026-11-22T17:00:00+0000')!.toISOString()).toBe('2026-11-22T17:00:00.000Z');
    expect(parseGraphTime('2026-11-22T19:00:00+0200')!.toISOString()).toBe('2026-11-22T17:00:00.000Z');
    expect(parseGraphTime('garbage')).toBeNull();
  });
});

describe('Meta’s rate-limit headers', () => {
  it('reads the highest figure of X-App-Usage and of each business in X-Business-Use-Case-Usage', () => {
    const read = readUsageHeaders(
      new Headers({
        'x-app-usage': '{"call_count":28,"total_time":25,"total_cputime":31}',
        'x-business-use-case-usage':
          '{"17841400000000001":[{"type":"instagram","call_count":97,"total_cputime":23,"total_time":23,"estimated_time_to_regain_access":4}]}',
      }),
    );
    expect(read.app).toBe(31);
    expect(read.business.get('17841400000000001')).toEqual({ percent: 97, regainMinutes: 4 });
  });

  it('ignores headers it cannot read', () => {
    const read = readUsageHeaders(new Headers({ 'x-app-usage': 'nope', 'x-business-use-case-usage': '[1' }));
    expect(read).toEqual({ app: null, business: new Map() });
  });
});

describe('the Graph client over HTTP', () => {
  const fake = new FakeGraph();
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());

  it('never puts the access token in a URL', async () => {
    const client = createGraphClient({ baseUrl: fake.url });
    const id = await client.createContainer(
      '555',
      'SECRET-TOKEN',
      containerForm({
        ...PLAIN,
        contentType: 'Photo',
        url: 'https://cdn.example.com/a.jpg',
        caption: null,
        locationId: null,
        thumbOffset: null,
        userTags: [],
      }),
    );
    await client.containerStatus(id, 'SECRET-TOKEN');
    await client.publishingLimit('555', 'SECRET-TOKEN');
    for (const r of fake.requests) {
      expect(r.path).not.toContain('SECRET');
      expect(r.token).toBe('SECRET-TOKEN');
    }
  });

  it('parses Meta’s error body into a typed error', async () => {
    fake.failNext('create', {
      status: 400,
      code: 190,
      subcode: 460,
      message: 'Error validating access token',
    });
    const client = createGraphClient({ baseUrl: fake.url });
    const error = await client
      .createContainer(
        '555',
        't',
        containerForm({
          ...PLAIN,
          contentType: 'Photo',
          url: 'https://x.example.com/a.jpg',
          caption: null,
          locationId: null,
          thumbOffset: null,
          userTags: [],
        }),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GraphError);
    expect(error).toMatchObject({
      httpStatus: 400,
      code: 190,
      subcode: 460,
      action: 'permanent',
      errorCode: 'GRAPH_TOKEN_INVALID',
    });
    expect((error as GraphError).fbtraceId).toMatch(/^FAKE/);
  });

  it('gives up on a slow answer after its timeout', async () => {
    fake.latencyMs = 500;
    try {
      const client = createGraphClient({ baseUrl: fake.url, timeoutMs: 100 });
      const started = Date.now();
      const error = await client.publishingLimit('555', 't').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GraphNetworkError);
      expect(Date.now() - started).toBeLessThan(450);
    } finally {
      fake.latencyMs = 0;
    }
  });

  it('reads the quota the account really has', async () => {
    fake.quotaTotal = 50;
    fake.quotaUsedElsewhere.set('777', 12);
    const limit = await createGraphClient({ baseUrl: fake.url }).publishingLimit('777', 't');
    expect(limit).toEqual({ quotaUsage: 12, quotaTotal: 50, quotaDurationSeconds: 86_400 });
  });
});

describe('container parameters for each kind of post', () => {
  const tags = [{ username: 'friend', x: 0.5, y: 0.25 }];
  it('a feed photo: alt text, collaborators, tags with x/y', () => {
    expect(
      containerForm({
        ...PLAIN,
        contentType: 'Photo',
        url: 'https://cdn.example.com/p.jpg',
        caption: 'Hi',
        altText: 'A red bicycle',
        collaborators: ['partner.one', 'partner.two'],
        userTags: tags,
      }),
    ).toEqual({
      image_url: 'https://cdn.example.com/p.jpg',
      alt_text: 'A red bicycle',
      collaborators: '["partner.one","partner.two"]',
      user_tags: '[{"username":"friend","x":0.5,"y":0.25}]',
      caption: 'Hi',
    });
  });

  it('a reel: every option as given, share_to_feed true unless false', () => {
    const reel = {
      ...PLAIN,
      contentType: 'Video' as const,
      url: 'https://cdn.example.com/r.mp4',
      coverUrl: 'https://cdn.example.com/cover.jpg',
      audioName: 'Morning song',
      trialReel: 'performance' as const,
      shareToFeed: false,
      thumbOffset: 1200,
      userTags: tags,
    };
    expect(containerForm(reel)).toEqual({
      media_type: 'REELS',
      video_url: 'https://cdn.example.com/r.mp4',
      share_to_feed: 'false',
      thumb_offset: '1200',
      cover_url: 'https://cdn.example.com/cover.jpg',
      audio_name: 'Morning song',
      trial_params: '{"graduation_strategy":"SS_PERFORMANCE"}',
      user_tags: '[{"username":"friend"}]',
    });
    expect(containerForm({ ...reel, shareToFeed: null, trialReel: 'manual' })).toMatchObject({
      share_to_feed: 'true',
      trial_params: '{"graduation_strategy":"MANUAL"}',
    });
  });

  it('a story: media_type STORIES with the media and tags only', () => {
    expect(
      containerForm({
        ...PLAIN,
        placement: 'story',
        contentType: 'Photo',
        url: 'https://cdn.example.com/s.jpg',
        userTags: tags,
      }),
    ).toEqual({
      media_type: 'STORIES',
      image_url: 'https://cdn.example.com/s.jpg',
      user_tags: '[{"username":"friend","x":0.5,"y":0.25}]',
    });
    expect(
      containerForm({
        ...PLAIN,
        placement: 'story',
        contentType: 'Video',
        url: 'https://cdn.example.com/s.mp4',
      }),
    ).toEqual({ media_type: 'STORIES', video_url: 'https://cdn.example.com/s.mp4' });
  });
});
