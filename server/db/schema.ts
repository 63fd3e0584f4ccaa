import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';
import type { FailureRecord as PostError } from '../graph/errors.ts';
import type { CommentPollState, InstagramInfo, StateReason } from './columns.ts';

const instant = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const users = pgTable(
  'users',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    username: text('username').notNull(),
    /** The lookup key: see server/auth/username.ts. */
    usernameKey: text('username_key').notNull(),
    passwordHash: text('password_hash'),
    createdAt: instant('created_at').notNull().defaultNow(),
    updatedAt: instant('updated_at').notNull().defaultNow(),
  },
  // "Ann@x.com" and "ann@x.com" are one person, by the rule of server/auth/username.ts.
  (t) => [uniqueIndex('users_username_key_idx').on(t.usernameKey)],
);

/**
 * The answers of POST requests sent with an Idempotency-Key, kept 24 hours per
 * user and key, written in the transaction of what the request created
 * (server/idempotency/), so a retry after a lost answer creates nothing twice.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    userId: bigint('user_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    /** SHA-256 of the operation and its input: the same key with another request is refused. */
    fingerprint: text('fingerprint').notNull(),
    /** The HTTP status of the kept answer. */
    status: integer('status').notNull(),
    /** The operation's output, or the error body for a kept 4xx. */
    response: jsonb('response').notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.key] }),
    index('idempotency_keys_created_at_idx').on(t.createdAt),
  ],
);

export const sessions = pgTable(
  'sessions',
  {
    /** SHA-256 of the token, hex. The token itself is never stored. */
    id: text('id').primaryKey(),
    userId: bigint('user_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** `login` from the API, `api` from the CLI. */
    kind: text('kind', { enum: ['login', 'api'] }).notNull(),
    label: text('label'),
    /** Each use renews expiry to now + ttl once less than half of it is left. */
    ttlSeconds: integer('ttl_seconds').notNull(),
    expiresAt: instant('expires_at').notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  (t) => [index('sessions_user_id_idx').on(t.userId), index('sessions_expires_at_idx').on(t.expiresAt)],
);

/**
 * Counters of rate-limiter-flexible's PostgreSQL (drizzle) store, shared by
 * every process: login attempts per username and per address, and API
 * requests per user. `expire` ends the current window.
 */
export const rateLimits = pgTable('rate_limits', {
  key: text('key').primaryKey(),
  points: integer('points').notNull(),
  expire: instant('expire'),
});

export const LOGIN_TYPES = ['instagram', 'facebook'] as const;
export type LoginType = (typeof LOGIN_TYPES)[number];
export const INSTAGRAM_STATES = ['start', 'stop', 'suspected'] as const;
export type InstagramState = (typeof INSTAGRAM_STATES)[number];

/** An Instagram professional account a user connected once (seed 002's "instagrams"). */
export const instagrams = pgTable(
  'instagrams',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    ownerId: bigint('owner_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** Meta's id of the professional account (ig-user-id): what posts are published to. */
    igUserId: text('ig_user_id').notNull(),
    username: text('username').notNull(),
    loginType: text('login_type', { enum: LOGIN_TYPES }).notNull(),
    state: text('state', { enum: INSTAGRAM_STATES }).notNull().default('start'),
    stateReason: jsonb('state_reason').$type<StateReason>(),
    info: jsonb('info').$type<InstagramInfo>().notNull(),
    trusted: boolean('trusted').notNull().default(false),
    hours: jsonb('hours').$type<{ min: number; max: number }>().notNull(),
    speed: jsonb('speed').$type<Record<string, number>>().notNull(),
    timezone: text('timezone').notNull().default('UTC'),
    /** The Graph token, AES-256-GCM like posts' tokens; never returned. */
    tokenKeyId: text('token_key_id').notNull(),
    tokenCiphertext: text('token_ciphertext').notNull(),
    /** Null: a Page token, which does not expire. */
    tokenExpiresAt: instant('token_expires_at'),
    /** When the current token was obtained or last refreshed (Meta refreshes only tokens ≥ 24 h old). */
    tokenRefreshedAt: instant('token_refreshed_at').notNull(),
    /** When Meta last confirmed `subscribed_apps`; null: its comments are polled (server/channels/poll.ts). */
    webhooksSubscribedAt: instant('webhooks_subscribed_at'),
    /** Polling's memory: comments_count per recent media at the last read, and the current interval. */
    commentPoll: jsonb('comment_poll').$type<CommentPollState>(),
    /**
     * A second user's connection of an account from before one account had one owner (migration
     * 0017): kept as it was, outside the one-owner index. Nothing sets it now.
     */
    legacyShared: boolean('legacy_shared').notNull().default(false),
    createdAt: instant('created_at').notNull().defaultNow(),
    updatedAt: instant('updated_at').notNull().defaultNow(),
  },
  (t) => [
    // Connecting the same account again updates its row.
    uniqueIndex('instagrams_owner_ig_user_idx').on(t.ownerId, t.igUserId),
    // One owner per Instagram account: its comments get one set of channels, its posts one queue.
    uniqueIndex('instagrams_one_owner_idx')
      .on(t.igUserId)
      .where(sql`not legacy_shared`),
    index('instagrams_token_expires_idx').on(t.tokenExpiresAt),
    // Meta's webhooks name the account by its ig-user-id (`entry.id`).
    index('instagrams_ig_user_id_idx').on(t.igUserId),
  ],
);

export type InstagramRow = typeof instagrams.$inferSelect;

export const INSTAGRAM_EVENT_TYPES = [
  'connected',
  'reconnected',
  'token_refreshed',
  'refresh_failed',
  'suspected',
  'started',
  'stopped',
  'profile_synced',
] as const;
export type InstagramEventType = (typeof INSTAGRAM_EVENT_TYPES)[number];

export const instagramEvents = pgTable(
  'instagram_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    instagramId: bigint('instagram_id', { mode: 'number' })
      .notNull()
      .references(() => instagrams.id, { onDelete: 'cascade' }),
    type: text('type', { enum: INSTAGRAM_EVENT_TYPES }).notNull(),
    message: text('message').notNull(),
    reason: jsonb('reason').$type<StateReason>(),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  (t) => [index('instagram_events_instagram_id_id_idx').on(t.instagramId, t.id)],
);

/** An OAuth connect in progress: the state's SHA-256 (never the state), single use, 15 minutes. */
export const oauthStates = pgTable(
  'oauth_states',
  {
    id: text('id').primaryKey(),
    ownerId: bigint('owner_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    loginType: text('login_type', { enum: LOGIN_TYPES }).notNull(),
    redirectUri: text('redirect_uri').notNull(),
    expiresAt: instant('expires_at').notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  (t) => [index('oauth_states_expires_at_idx').on(t.expiresAt)],
);

export const POST_STATUSES = ['scheduled', 'publishing', 'published', 'failed'] as const;
export type PostStatus = (typeof POST_STATUSES)[number];
export const CONTENT_TYPES = ['Photo', 'Video', 'Carousel'] as const;
export type ContentType = (typeof CONTENT_TYPES)[number];
/** What a carousel child is. */
export const CHILD_CONTENT_TYPES = ['Photo', 'Video'] as const;

export const posts = pgTable(
  'posts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** The API user who owns the post; every query is scoped by it. */
    ownerId: bigint('owner_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The Instagram professional account id (`user_id` in the API, as in the seeds). */
    igUserId: text('ig_user_id').notNull(),
    contentType: text('content_type', { enum: CONTENT_TYPES }).notNull(),
    /** Null for a carousel: its media are its children's. */
    url: text('url'),
    caption: text('caption'),
    locationId: text('location_id'),
    thumbOffset: integer('thumb_offset'),
    /** `feed` or `story`. */
    placement: text('placement', { enum: ['feed', 'story'] })
      .notNull()
      .default('feed'),
    altText: text('alt_text'),
    collaborators: text('collaborators')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    /** Reel options, sent to Meta as given (docs/publishing.md). */
    coverUrl: text('cover_url'),
    shareToFeed: boolean('share_to_feed'),
    audioName: text('audio_name'),
    trialReel: text('trial_reel', { enum: ['manual', 'performance'] }),
    /** Posted as a comment on the media once it is published (server/publisher/first-comment.ts). */
    firstComment: text('first_comment'),
    firstCommentId: text('first_comment_id'),
    /** Tries made: after one, a retry reads the media's comments before posting again (never twice). */
    firstCommentAttempts: integer('first_comment_attempts').notNull().default(0),
    /** The connected account whose current token publishes the post; null when the post carries its own. */
    instagramId: bigint('instagram_id', { mode: 'number' }).references(() => instagrams.id, {
      onDelete: 'set null',
    }),
    /** The post's own Graph access token, AES-256-GCM (server/crypto/token-cipher.ts); null with instagram_id. */
    tokenKeyId: text('token_key_id'),
    tokenCiphertext: text('token_ciphertext'),
    datePub: instant('date_pub').notNull(),
    status: text('status', { enum: POST_STATUSES }).notNull().default('scheduled'),
    creationId: text('creation_id'),
    mediaId: text('media_id'),
    permalink: text('permalink'),
    attempts: integer('attempts').notNull().default(0),
    lastError: jsonb('last_error').$type<PostError>(),
    publishedAt: instant('published_at'),
    /** The graphile-worker id of the run working on the post; null between runs. */
    leaseOwner: text('lease_owner'),
    /**
     * Raised by every claim: a run writes only while the post still carries the version it
     * claimed (a fencing token), so a run presumed dead can never write after its successor.
     */
    leaseVersion: integer('lease_version').notNull().default(0),
    /** A `publishing` post whose lease has passed (or whose owner died) is picked up again. */
    leaseExpiresAt: instant('lease_expires_at'),
    /** Set just before media_publish: from then on, a retry reads the container status before anything else. */
    publishRequestedAt: instant('publish_requested_at'),
    /**
     * Until then (database time) a media_publish request of the run that set the mark may still be
     * on its way to Meta or in Meta's hands: no other run publishes the post before. Cleared when Meta answers.
     */
    publishInflightUntil: instant('publish_inflight_until'),
    containerCreatedAt: instant('container_created_at'),
    createdAt: instant('created_at').notNull().defaultNow(),
    updatedAt: instant('updated_at').notNull().defaultNow(),
  },
  (t) => [
    index('posts_owner_id_id_idx').on(t.ownerId, t.id),
    index('posts_ig_user_id_date_pub_idx').on(t.igUserId, t.datePub),
    index('posts_status_date_pub_idx').on(t.status, t.datePub),
    // A user's waiting posts, counted on every create (MAX_SCHEDULED_POSTS and the fair priority).
    index('posts_owner_scheduled_idx')
      .on(t.ownerId, t.datePub)
      .where(sql`${t.status} = 'scheduled'`),
    index('posts_instagram_id_idx').on(t.instagramId, t.status),
    // The account's containers of the last 24 hours, counted before each new one (Meta allows 400).
    index('posts_ig_user_container_idx')
      .on(t.igUserId, t.containerCreatedAt)
      .where(sql`${t.containerCreatedAt} is not null`),
    // A waiting post always has a way to publish: its account or its own token.
    check(
      'posts_waiting_has_token',
      sql`${t.status} in ('published', 'failed') or ${t.instagramId} is not null or ${t.tokenCiphertext} is not null`,
    ),
  ],
);

export type PostRow = typeof posts.$inferSelect;

/** Seed 001 keeps user tags in a table of their own: post_id, username, x, y. */
export const postUserTags = pgTable(
  'post_user_tags',
  {
    postId: bigint('post_id', { mode: 'number' })
      .notNull()
      .references(() => posts.id, { onDelete: 'cascade' }),
    /** Order as sent, so the app reads back what it wrote. */
    position: integer('position').notNull(),
    username: text('username').notNull(),
    x: doublePrecision('x'),
    y: doublePrecision('y'),
  },
  (t) => [primaryKey({ columns: [t.postId, t.position] })],
);

/** A carousel's items, in order, each with its own container once made (reused after a crash or retry). */
export const postChildren = pgTable(
  'post_children',
  {
    postId: bigint('post_id', { mode: 'number' })
      .notNull()
      .references(() => posts.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    contentType: text('content_type', { enum: CHILD_CONTENT_TYPES }).notNull(),
    url: text('url').notNull(),
    altText: text('alt_text'),
    userTags: jsonb('user_tags')
      .$type<{ username: string; x: number | null; y: number | null }[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
    /** The child's container id, stored as soon as Meta gives it. */
    creationId: text('creation_id'),
    containerCreatedAt: instant('container_created_at'),
  },
  (t) => [primaryKey({ columns: [t.postId, t.position] })],
);

export type PostChildRow = typeof postChildren.$inferSelect;

export const POST_EVENT_TYPES = [
  'created',
  'updated',
  'rescheduled',
  'container_created',
  'container_processing',
  'publish_attempted',
  'published',
  'retry_scheduled',
  'quota_wait',
  'failed',
  'recovered',
  'held',
  'released',
  'first_comment_posted',
  'first_comment_failed',
  'media_warning',
] as const;
export type PostEventType = (typeof POST_EVENT_TYPES)[number];

/** Append-only history of what happened to a post. */
export const postEvents = pgTable(
  'post_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    postId: bigint('post_id', { mode: 'number' })
      .notNull()
      .references(() => posts.id, { onDelete: 'cascade' }),
    type: text('type', { enum: POST_EVENT_TYPES }).notNull(),
    message: text('message').notNull(),
    datePub: instant('date_pub'),
    error: jsonb('error').$type<PostError>(),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  (t) => [index('post_events_post_id_id_idx').on(t.postId, t.id)],
);

/** Each graphile-worker worker id of a live process, refreshed every few seconds. */
export const workerHeartbeats = pgTable('worker_heartbeats', {
  workerId: text('worker_id').primaryKey(),
  seenAt: instant('seen_at').notNull(),
});

export const WEBHOOK_EVENT_TYPES = [
  'post.published',
  'post.failed',
  'post.retrying',
  'instagram.suspected',
  'instagram.token_expiring',
  'channel.action_failed',
  'ping',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Where a user's backend wants to hear about their posts and accounts. */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    ownerId: bigint('owner_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    events: text('events').array().notNull(),
    description: text('description'),
    enabled: boolean('enabled').notNull().default(true),
    /** The signing secret (`whsec_…`), sealed like Graph tokens; shown once. */
    secretKeyId: text('secret_key_id').notNull(),
    secretCiphertext: text('secret_ciphertext').notNull(),
    /** After a rotation the old secret signs too, until this instant. */
    previousSecretKeyId: text('previous_secret_key_id'),
    previousSecretCiphertext: text('previous_secret_ciphertext'),
    previousSecretExpiresAt: instant('previous_secret_expires_at'),
    createdAt: instant('created_at').notNull().defaultNow(),
    updatedAt: instant('updated_at').notNull().defaultNow(),
  },
  (t) => [index('webhook_endpoints_owner_id_idx').on(t.ownerId)],
);

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

/**
 * One event for one endpoint: the outbox row, written in the transaction of
 * the change it reports; (endpoint_id, event_id) is the at-most-once key.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    endpointId: bigint('endpoint_id', { mode: 'number' })
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    /** `webhook-id`: the same for every endpoint and every attempt of one event. */
    eventId: text('event_id').notNull(),
    type: text('type', { enum: WEBHOOK_EVENT_TYPES }).notNull(),
    /** The body sent: {id, type, timestamp, data}. */
    payload: jsonb('payload').notNull(),
    status: text('status', { enum: DELIVERY_STATUSES }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    /** The first 1 KB of the last answer. */
    lastResponse: text('last_response'),
    nextAttemptAt: instant('next_attempt_at'),
    deliveredAt: instant('delivered_at'),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_endpoint_event_idx').on(t.endpointId, t.eventId),
    index('webhook_deliveries_endpoint_id_id_idx').on(t.endpointId, t.id),
    // How many deliveries each owner has waiting (fair turns, server/jobs/deliver-webhook.ts), without reading history.
    index('webhook_deliveries_pending_idx')
      .on(t.endpointId)
      .where(sql`status = 'pending'`),
  ],
);

export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

export const MEDIA_KINDS = ['image', 'video'] as const;
export type MediaKind = (typeof MEDIA_KINDS)[number];

/**
 * A file uploaded through POST /media, Meta-ready (server/media/). Its bytes
 * are in media_chunks; `size` and `sha256` are null until the last chunk is
 * stored, and a row that never gets them is an abandoned upload.
 */
export const media = pgTable(
  'media',
  {
    /** 144 random bits, base64url: the file's public URL is its only key. */
    id: text('id').primaryKey(),
    ownerId: bigint('owner_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: MEDIA_KINDS }).notNull(),
    contentType: text('content_type').notNull(),
    /** `jpg`, `mp4` or `mov`: the URL's extension. */
    ext: text('ext').notNull(),
    /** Bytes per chunk; every chunk but the last has exactly this many. */
    chunkSize: integer('chunk_size').notNull(),
    size: bigint('size', { mode: 'number' }),
    sha256: text('sha256'),
    width: integer('width'),
    height: integer('height'),
    durationMs: integer('duration_ms'),
    createdAt: instant('created_at').notNull().defaultNow(),
    /** When an upload no post uses is removed. */
    expiresAt: instant('expires_at').notNull(),
  },
  (t) => [index('media_owner_id_created_idx').on(t.ownerId, t.createdAt, t.id)],
);

export type MediaRow = typeof media.$inferSelect;

export const mediaChunks = pgTable(
  'media_chunks',
  {
    mediaId: text('media_id')
      .notNull()
      .references(() => media.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    data: bytea('data').notNull(),
  },
  (t) => [primaryKey({ columns: [t.mediaId, t.seq] })],
);

/**
 * Which uploads a post uses, rewritten with the post. The foreign key to
 * media is what keeps retention from removing a file a post was just given
 * (server/media/retention.ts).
 */
export const postMedia = pgTable(
  'post_media',
  {
    postId: bigint('post_id', { mode: 'number' })
      .notNull()
      .references(() => posts.id, { onDelete: 'cascade' }),
    mediaId: text('media_id')
      .notNull()
      .references(() => media.id, { onDelete: 'cascade' }),
  },
  (t) => [primaryKey({ columns: [t.postId, t.mediaId] }), index('post_media_media_id_idx').on(t.mediaId)],
);

export const CHANNEL_ACTIONS = ['comment', 'dm', 'hide'] as const;
export type ChannelAction = (typeof CHANNEL_ACTIONS)[number];
/** Stored states; `empty` is computed (started, nothing queued). */
export const CHANNEL_STATES = ['start', 'stop'] as const;

/** Seed 002's channel, on the official API: acting on comments left on the account's own media. */
export const channels = pgTable(
  'channels',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    ownerId: bigint('owner_id', { mode: 'number' })
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    instagramId: bigint('instagram_id', { mode: 'number' })
      .notNull()
      .references(() => instagrams.id, { onDelete: 'cascade' }),
    action: text('action', { enum: CHANNEL_ACTIONS }).notNull(),
    target: text('target', { enum: ['comments'] })
      .notNull()
      .default('comments'),
    /** The keyword a comment must contain (case-insensitive); empty: every comment. */
    value: text('value').notNull().default(''),
    /** Reply templates; `{username}` becomes the commenter's name. */
    comments: jsonb('comments').$type<string[]>().notNull(),
    state: text('state', { enum: CHANNEL_STATES }).notNull().default('start'),
    /** The last start: comments made before it are not acted on (nothing old is answered). */
    actingSince: instant('acting_since').notNull(),
    createdAt: instant('created_at').notNull().defaultNow(),
    updatedAt: instant('updated_at').notNull().defaultNow(),
  },
  (t) => [index('channels_instagram_id_idx').on(t.instagramId, t.id)],
);

export type ChannelRow = typeof channels.$inferSelect;

/**
 * Comments on accounts' media as they arrive, from Meta's webhooks or from
 * polling: (ig_user_id, comment_id) is unique, so a delivery Meta repeats,
 * or a comment both paths bring, is stored once. `processed_at` null: the
 * channels have not looked at it yet.
 */
export const instagramComments = pgTable(
  'instagram_comments',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    igUserId: text('ig_user_id').notNull(),
    commentId: text('comment_id').notNull(),
    mediaId: text('media_id'),
    parentId: text('parent_id'),
    fromId: text('from_id'),
    username: text('username'),
    text: text('text').notNull(),
    /** Written by the account itself (or a reply to nobody else): never acted on. */
    own: boolean('own').notNull(),
    commentedAt: instant('commented_at').notNull(),
    source: text('source', { enum: ['webhook', 'poll'] }).notNull(),
    receivedAt: instant('received_at').notNull().defaultNow(),
    processedAt: instant('processed_at'),
  },
  (t) => [
    uniqueIndex('instagram_comments_ig_user_comment_idx').on(t.igUserId, t.commentId),
    index('instagram_comments_unprocessed_idx')
      .on(t.id)
      .where(sql`processed_at is null`),
    index('instagram_comments_received_at_idx').on(t.receivedAt),
  ],
);

export const CHANNEL_ACTION_STATUSES = ['queued', 'done', 'skipped', 'failed'] as const;
export type ChannelActionStatus = (typeof CHANNEL_ACTION_STATUSES)[number];

/**
 * What a channel does about one comment. (channel_id, comment_id) is unique:
 * at most one reply, private reply or hide per comment per channel, however
 * often and by whichever path the comment arrives.
 */
export const channelActions = pgTable(
  'channel_actions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    channelId: bigint('channel_id', { mode: 'number' })
      .notNull()
      .references(() => channels.id, { onDelete: 'cascade' }),
    instagramId: bigint('instagram_id', { mode: 'number' })
      .notNull()
      .references(() => instagrams.id, { onDelete: 'cascade' }),
    action: text('action', { enum: CHANNEL_ACTIONS }).notNull(),
    commentId: text('comment_id').notNull(),
    mediaId: text('media_id'),
    /** The commenter: leads are counted by it. */
    fromId: text('from_id'),
    username: text('username'),
    /** The text sent (template filled in when queued), so a retry sends the same words. */
    message: text('message'),
    commentedAt: instant('commented_at').notNull(),
    status: text('status', { enum: CHANNEL_ACTION_STATUSES }).notNull().default('queued'),
    /** Meta's id of the reply or message. */
    resultId: text('result_id'),
    error: jsonb('error').$type<{ code: string; message: string }>(),
    /** Tries that reached Meta: from the second on, a lost answer is looked for first. */
    attempts: integer('attempts').notNull().default(0),
    /** Its place in the account's hourly budget: planned while queued, when Meta was asked once done. */
    slotAt: instant('slot_at'),
    createdAt: instant('created_at').notNull().defaultNow(),
    /** When it was done, skipped or failed. */
    finishedAt: instant('finished_at'),
  },
  (t) => [
    uniqueIndex('channel_actions_channel_comment_idx').on(t.channelId, t.commentId),
    index('channel_actions_channel_id_id_idx').on(t.channelId, t.id),
    index('channel_actions_budget_idx').on(t.instagramId, t.action, t.slotAt),
  ],
);

export type ChannelActionRow = typeof channelActions.$inferSelect;
