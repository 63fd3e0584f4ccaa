import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../db/client.ts';
import { posts, postUserTags, type PostError } from '../db/schema.ts';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import { GraphError, GraphNetworkError, type GraphAction } from '../graph/errors.ts';
import type { ContainerStatus, GraphClient } from '../graph/graph-client.ts';
import { schedulePublishJob } from '../jobs/publish-job.ts';
import { formatInstant } from '../lib/time.ts';
import { describeError, type Logger } from '../logger.ts';
import { appendEvent, eventInsert } from '../posts/service.ts';

type PostRow = typeof posts.$inferSelect;

export interface PublisherSettings {
  /** How long a run owns a post; longer than the slowest run (every Graph call timing out). Default 5 min. */
  leaseMs: number;
  /** Transient failures tolerated before the post fails; default 6. */
  maxAttempts: number;
  /** Longest wait for Meta to process a video; default 10 min. */
  maxProcessingMs: number;
  /** Shortest wait between video status checks (they grow to half the time waited, up to 30 s); default 3 s. */
  pollDelayMs: number;
  /** First backoff after a transient error (x3 each time, capped 10 min); default 5 s. */
  retryDelayMs: number;
  /** A worker whose heartbeat is older than this is dead; default 20 s. */
  deadWorkerMs: number;
}

export const DEFAULT_PUBLISHER_SETTINGS: PublisherSettings = {
  leaseMs: 5 * 60_000,
  maxAttempts: 6,
  maxProcessingMs: 10 * 60_000,
  pollDelayMs: 3_000,
  retryDelayMs: 5_000,
  deadWorkerMs: 20_000,
};

export interface PublisherDeps {
  db: Db;
  graph: GraphClient;
  cipher: TokenCipher;
  logger: Logger;
  settings: PublisherSettings;
  /** Records `owner` as alive before its first claim, so other runs never mistake it for dead. */
  ensureAlive(owner: string): Promise<void>;
}

/** The lease was taken over (the run was presumed dead): stop without touching the post. */
class LeaseLost extends Error {}

const seconds = (ms: number) => sql.raw(`interval '${Math.round(ms)} milliseconds'`);

/**
 * Claims a post for this run: a due `scheduled` post, or a `publishing` one
 * that was handed over between runs (no owner), whose lease passed, or whose
 * owner's process stopped heartbeating. One short UPDATE, so two workers can
 * never both hold the same post.
 */
async function claim(deps: PublisherDeps, postId: number, owner: string): Promise<PostRow | undefined> {
  const { leaseMs, deadWorkerMs } = deps.settings;
  const [row] = await deps.db
    .update(posts)
    .set({
      status: 'publishing',
      leaseOwner: owner,
      leaseExpiresAt: sql`now() + ${seconds(leaseMs)}`,
      // A fresh start or a recovery from a dead run counts as an attempt; a hand-over does not.
      attempts: sql`${posts.attempts} + case when ${posts.status} = 'scheduled' or ${posts.leaseOwner} is not null then 1 else 0 end`,
    })
    .where(
      and(
        eq(posts.id, postId),
        sql`(
          (${posts.status} = 'scheduled' and ${posts.datePub} <= now() + interval '1 second')
          or (${posts.status} = 'publishing' and (
            ${posts.leaseOwner} is null
            or ${posts.leaseExpiresAt} < now()
            or not exists (
              select 1 from worker_heartbeats h
              where h.worker_id = ${posts.leaseOwner} and h.seen_at > now() - ${seconds(deadWorkerMs)}
            )
          ))
        )`,
      ),
    )
    .returning();
  return row;
}

/** Writes to a post this run still owns (renewing the lease); throws LeaseLost otherwise. */
async function writeOwned(
  tx: DbOrTx,
  deps: PublisherDeps,
  post: PostRow,
  owner: string,
  set: Partial<typeof posts.$inferInsert>,
): Promise<void> {
  const rows = await tx
    .update(posts)
    .set({ leaseExpiresAt: sql`now() + ${seconds(deps.settings.leaseMs)}`, ...set })
    .where(and(eq(posts.id, post.id), eq(posts.leaseOwner, owner)))
    .returning({ id: posts.id });
  if (rows.length === 0) throw new LeaseLost();
  Object.assign(post, set);
}

export function errorOf(error: unknown): PostError {
  if (error instanceof GraphError) {
    return {
      code: error.errorCode,
      message: error.userMessage,
      graph_code: error.code,
      graph_subcode: error.subcode,
    };
  }
  if (error instanceof GraphNetworkError) return { code: error.errorCode, message: error.userMessage };
  return { code: 'INTERNAL', message: 'Publishing failed unexpectedly.' };
}

function actionOf(error: unknown): GraphAction | 'unknown' {
  if (error instanceof GraphError || error instanceof GraphNetworkError) return error.action;
  return 'unknown';
}

/** Runs one `publish_post` job. Every exit leaves the post in a consistent, visible state. */
export async function publishPost(deps: PublisherDeps, postId: number, owner: string): Promise<void> {
  await deps.ensureAlive(owner);
  const post = await claim(deps, postId, owner);
  if (!post) return handleUnclaimable(deps, postId);
  const log = deps.logger.child({ postId, owner });
  try {
    await work(deps, post, owner, log);
  } catch (error) {
    if (error instanceof LeaseLost) {
      log.warn('lease taken over by another run; stopping');
      return;
    }
    try {
      await onFailure(deps, post, owner, error, log);
    } catch (inner) {
      if (inner instanceof LeaseLost) return;
      // Could not even record the failure (database trouble?): let go of the post so
      // graphile-worker's own retry of this job can claim it again.
      await deps.db
        .update(posts)
        .set({ leaseOwner: null, leaseExpiresAt: sql`now()` })
        .where(and(eq(posts.id, post.id), eq(posts.leaseOwner, owner)))
        .catch(() => undefined);
      throw inner;
    }
  }
}

/** Deleted, done, not due yet (moved later), or owned by a live run: nothing to do, or re-add the job. */
async function handleUnclaimable(deps: PublisherDeps, postId: number): Promise<void> {
  const [post] = await deps.db
    .select({ status: posts.status, datePub: posts.datePub })
    .from(posts)
    .where(eq(posts.id, postId));
  if (post?.status === 'scheduled' && post.datePub.getTime() > Date.now()) {
    // Moved to a later time: the API already replaced the job, but make sure.
    await schedulePublishJob(deps.db, postId, post.datePub);
  }
}

async function work(deps: PublisherDeps, post: PostRow, owner: string, log: Logger): Promise<void> {
  const token = deps.cipher.open({ keyId: post.tokenKeyId, ciphertext: post.tokenCiphertext });
  const { graph } = deps;

  // After media_publish was asked for, never publish blind: the container says what happened.
  if (post.publishRequestedAt && post.creationId) {
    const status = await graph.containerStatus(post.creationId, token);
    if (status.statusCode === 'PUBLISHED') return finishPublished(deps, post, owner, token, null, log);
    if (status.statusCode !== 'FINISHED') {
      const resolved = await handleContainerStatus(deps, post, owner, status.statusCode, status.status);
      if (resolved) return;
    }
  }

  if (!post.creationId) {
    const limit = await graph.publishingLimit(post.igUserId, token);
    if (limit.quotaUsage >= limit.quotaTotal) return waitForQuota(deps, post, owner, limit);
    const tags = await deps.db
      .select({ username: postUserTags.username, x: postUserTags.x, y: postUserTags.y })
      .from(postUserTags)
      .where(eq(postUserTags.postId, post.id))
      .orderBy(asc(postUserTags.position));
    const creationId = await graph.createContainer(post.igUserId, token, {
      contentType: post.contentType,
      url: post.url,
      caption: post.caption,
      locationId: post.locationId,
      thumbOffset: post.thumbOffset,
      userTags: tags,
    });
    // Stored at once: a crash after this point reuses the container instead of making another.
    await deps.db.transaction(async (tx) => {
      await writeOwned(tx, deps, post, owner, { creationId, containerCreatedAt: new Date() });
      await appendEvent(tx, post.id, 'container_created', `Media container ${creationId} created.`);
    });
  }

  if (post.contentType === 'Video' && !post.publishRequestedAt) {
    const status = await graph.containerStatus(post.creationId!, token);
    if (status.statusCode !== 'FINISHED') {
      const resolved = await handleContainerStatus(deps, post, owner, status.statusCode, status.status);
      if (resolved) return;
    }
  }

  await deps.db.transaction(async (tx) => {
    await writeOwned(tx, deps, post, owner, { publishRequestedAt: new Date() });
    await appendEvent(tx, post.id, 'publish_attempted', `Publishing container ${post.creationId}.`);
  });
  let mediaId: string;
  try {
    mediaId = await graph.publish(post.igUserId, token, post.creationId!);
  } catch (error) {
    // A definite "not ready", "gone" or "over quota" means nothing went out: the mark can go.
    const action = actionOf(error);
    if (action === 'poll' || action === 'quota') {
      await writeOwned(deps.db, deps, post, owner, { publishRequestedAt: null });
    }
    if (action === 'new_container') {
      // The retry must make a fresh container, not publish the dead one again.
      await writeOwned(deps.db, deps, post, owner, {
        publishRequestedAt: null,
        creationId: null,
        containerCreatedAt: null,
      });
    }
    if (action === 'poll')
      return handOver(
        deps,
        post,
        owner,
        Date.now() + deps.settings.pollDelayMs,
        'container_processing',
        'Meta is still processing the media.',
      );
    throw error;
  }
  return finishPublished(deps, post, owner, token, mediaId, log);
}

/**
 * Deals with a container that is not FINISHED. Returns true when the run is
 * over (handed over or failed), false when publishing can go on.
 */
async function handleContainerStatus(
  deps: PublisherDeps,
  post: PostRow,
  owner: string,
  statusCode: ContainerStatus,
  detail: string | null,
): Promise<boolean> {
  const { settings } = deps;
  if (statusCode === 'IN_PROGRESS') {
    const age = Date.now() - (post.containerCreatedAt?.getTime() ?? Date.now());
    if (age > settings.maxProcessingMs) {
      await fail(deps, post, owner, {
        code: 'GRAPH_PROCESSING_TIMEOUT',
        message: `Meta did not finish processing the video within ${Math.round(settings.maxProcessingMs / 60_000)} minutes.`,
      });
      return true;
    }
    // Check again after half the time waited so far (pollDelayMs to 30 s); the worker slot is freed meanwhile.
    const delay = Math.min(30_000, Math.max(settings.pollDelayMs, age / 2));
    const first = !post.publishRequestedAt && age < settings.pollDelayMs;
    await handOver(
      deps,
      post,
      owner,
      Date.now() + delay,
      'container_processing',
      'Meta is processing the video.',
      first,
    );
    return true;
  }
  if (statusCode === 'EXPIRED' || statusCode === 'ERROR') {
    const subcode = Number(/(\d{7})/.exec(detail ?? '')?.[1] ?? NaN);
    const error = new GraphError({
      httpStatus: null,
      code: statusCode === 'EXPIRED' ? -2 : 1,
      subcode: Number.isNaN(subcode) ? (statusCode === 'EXPIRED' ? 2207020 : 2207001) : subcode,
      isTransient: false,
      type: null,
      fbtraceId: null,
      message: `The media container is ${statusCode}${detail ? ` (${detail})` : ''}.`,
    });
    if (error.action === 'permanent') {
      await fail(deps, post, owner, errorOf(error));
      return true;
    }
    // Not published and not usable: start over with a new container.
    await writeOwned(deps.db, deps, post, owner, {
      creationId: null,
      containerCreatedAt: null,
      publishRequestedAt: null,
    });
    throw error;
  }
  return false;
}

async function finishPublished(
  deps: PublisherDeps,
  post: PostRow,
  owner: string,
  token: string,
  mediaId: string | null,
  log: Logger,
): Promise<void> {
  let permalink: string | null = null;
  let publishedAt = new Date();
  try {
    if (!mediaId) {
      // The container says PUBLISHED but the answer with the media id was lost: find it among recent media.
      const since = (post.publishRequestedAt?.getTime() ?? 0) - 60_000;
      const recent = await deps.graph.recentMedia(post.igUserId, token, 25);
      const match = recent
        .filter(
          (m) => (m.timestamp?.getTime() ?? 0) >= since && (m.caption ?? null) === (post.caption ?? null),
        )
        .at(-1);
      if (match) {
        mediaId = match.id;
        permalink = match.permalink;
        publishedAt = match.timestamp ?? publishedAt;
      }
    } else {
      const media = await deps.graph.media(mediaId, token);
      permalink = media.permalink;
      publishedAt = media.timestamp ?? publishedAt;
    }
  } catch (error) {
    // The post is out; a missing permalink is not worth failing or retrying it.
    log.warn({ err: errorOf(error) }, 'published, but could not read the permalink');
  }
  await deps.db.transaction(async (tx) => {
    await writeOwned(tx, deps, post, owner, {
      status: 'published',
      mediaId,
      permalink,
      publishedAt,
      lastError: null,
      leaseOwner: null,
      leaseExpiresAt: null,
    });
    await appendEvent(tx, post.id, 'published', mediaId ? `Published as media ${mediaId}.` : 'Published.');
  });
  log.info({ mediaId }, 'published');
}

/** Gives the post back until `runAt`, with the same job key re-added for then. */
async function handOver(
  deps: PublisherDeps,
  post: PostRow,
  owner: string,
  runAt: number,
  event: 'container_processing' | 'retry_scheduled' | 'quota_wait',
  message: string,
  record = true,
  extra: { status?: 'scheduled'; error?: PostError } = {},
): Promise<void> {
  const at = new Date(runAt);
  await deps.db.transaction(async (tx) => {
    await writeOwned(tx, deps, post, owner, {
      leaseOwner: null,
      leaseExpiresAt: new Date(runAt + deps.settings.leaseMs),
      ...(extra.status ? { status: extra.status } : {}),
    });
    await schedulePublishJob(
      tx,
      post.id,
      at,
      record
        ? eventInsert(post.id, event, message, {
            datePub: at,
            ...(extra.error ? { error: extra.error } : {}),
          })
        : undefined,
    );
  });
}

async function waitForQuota(
  deps: PublisherDeps,
  post: PostRow,
  owner: string,
  limit: { quotaUsage: number; quotaTotal: number; quotaDurationSeconds: number },
): Promise<void> {
  // When our own oldest publish in the window leaves it, a slot frees up; wait 1 to 30 minutes.
  const [oldest] = await deps.db
    .select({ at: sql<string | null>`min(${posts.publishedAt})` })
    .from(posts)
    .where(
      and(
        eq(posts.igUserId, post.igUserId),
        sql`${posts.publishedAt} > now() - ${seconds(limit.quotaDurationSeconds * 1000)}`,
      ),
    );
  const frees = oldest?.at
    ? new Date(oldest.at).getTime() + limit.quotaDurationSeconds * 1000
    : Date.now() + 15 * 60_000;
  const runAt =
    Math.ceil(Math.min(Math.max(frees, Date.now() + 60_000), Date.now() + 30 * 60_000) / 1000) * 1000;
  await handOver(
    deps,
    post,
    owner,
    runAt,
    'quota_wait',
    `Instagram's publishing quota for this account is used up (${limit.quotaUsage}/${limit.quotaTotal} in 24 hours); trying again at ${formatInstant(new Date(runAt))}.`,
    true,
    { status: 'scheduled' },
  );
}

async function fail(deps: PublisherDeps, post: PostRow, owner: string, error: PostError): Promise<void> {
  await deps.db.transaction(async (tx) => {
    await writeOwned(tx, deps, post, owner, {
      status: 'failed',
      lastError: error,
      leaseOwner: null,
      leaseExpiresAt: null,
    });
    await appendEvent(tx, post.id, 'failed', error.message, { error });
  });
}

async function onFailure(
  deps: PublisherDeps,
  post: PostRow,
  owner: string,
  error: unknown,
  log: Logger,
): Promise<void> {
  const action = actionOf(error);
  const postError = errorOf(error);
  if (action === 'quota') {
    const limit = await deps.graph
      .publishingLimit(
        post.igUserId,
        deps.cipher.open({ keyId: post.tokenKeyId, ciphertext: post.tokenCiphertext }),
      )
      .catch(() => ({ quotaUsage: 0, quotaTotal: 0, quotaDurationSeconds: 86_400 }));
    return waitForQuota(deps, post, owner, limit);
  }
  if (action === 'permanent') {
    log.info({ code: postError.code }, 'publishing failed permanently');
    return fail(deps, post, owner, postError);
  }
  if (action === 'unknown') log.error(describeError(error), 'unexpected error while publishing');
  if (post.attempts >= deps.settings.maxAttempts) {
    return fail(deps, post, owner, {
      ...postError,
      message: `${postError.message} Gave up after ${post.attempts} attempts.`,
    });
  }
  const base = action === 'retry_later' ? 60_000 : deps.settings.retryDelayMs;
  const delay = Math.min(
    action === 'retry_later' ? 30 * 60_000 : 10 * 60_000,
    base * 3 ** Math.max(0, post.attempts - 1),
  );
  await deps.db
    .update(posts)
    .set({ attempts: sql`${posts.attempts} + 1` })
    .where(and(eq(posts.id, post.id), eq(posts.leaseOwner, owner)));
  await handOver(
    deps,
    post,
    owner,
    Date.now() + delay,
    'retry_scheduled',
    `${postError.message} Retrying at ${formatInstant(new Date(Date.now() + delay))}.`,
    true,
    {
      error: postError,
    },
  );
}
