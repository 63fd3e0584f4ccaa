/**
 * One run of a `publish_post` job: the steps in order. Every exit leaves the
 * post in a consistent, visible state; the writes themselves are in
 * transitions.ts, the media-specific Graph calls in containers.ts. The rules
 * (never publish blind after asking to publish, container stored at once, no
 * worker slot held while Meta processes a video) are in docs/publishing.md.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { posts, type PostRow } from '../db/schema.ts';
import { intervalOf } from '../db/sql.ts';
import { actionOf, errorOf, GraphError, type GraphAction } from '../graph/errors.ts';
import type { ContainerStatus, PublishingLimit } from '../graph/graph-client.ts';
import { loginTypeOf } from '../instagrams/meta.ts';
import { suspicionOf } from '../instagrams/suspicion.ts';
import { readAccountToken } from '../instagrams/token.ts';
import { schedulePublishJob } from '../jobs/publish-post.ts';
import { formatInstant } from '../lib/time.ts';
import { describeError } from '../logger.ts';
import {
  createContainer,
  findPublishedMedia,
  kindOfPost,
  needsProcessing,
  prepareCarouselItems,
} from './containers.ts';
import {
  claim,
  clearPublishRequest,
  type Claimed,
  dropContainer,
  handOver,
  hold,
  LeaseLost,
  markFailed,
  markPublished,
  markPublishRequested,
  publishAnswered,
  recordContainer,
  releaseLease,
} from './transitions.ts';
import type { Credentials, PublishJob, PublisherDeps, PublishRun } from './types.ts';
import { handle } from '../jobs/job.ts';
import { publishPostJob } from '../jobs/publish-post.ts';

/** A post's token and host: the named account's current ones, or the post's own (null if it has none left). */
export async function credentialsOf(
  deps: Pick<PublisherDeps, 'db' | 'meta' | 'cipher'>,
  post: PostRow,
): Promise<Credentials | null> {
  if (post.instagramId !== null) {
    const account = await readAccountToken(deps, post.instagramId);
    if (!account) return null;
    const { token, graph, ...rest } = account;
    return { account: rest, token, graph };
  }
  if (!post.tokenKeyId || !post.tokenCiphertext) return null;
  const token = deps.cipher.open({ keyId: post.tokenKeyId, ciphertext: post.tokenCiphertext });
  return { account: null, token, graph: deps.meta.graph[loginTypeOf(token)] };
}

async function makeRun(deps: PublisherDeps, claimed: Claimed, job: PublishJob): Promise<PublishRun | null> {
  const { post, inflightMs } = claimed;
  const credentials = await credentialsOf(deps, post);
  if (!credentials) return null;
  const { owner, priority } = job;
  const log = deps.logger.child({ postId: post.id, owner });
  return { deps, post, owner, priority, log, inflightMs, ...credentials };
}

/** Runs one `publish_post` job. */
export async function publishPost(deps: PublisherDeps, job: PublishJob): Promise<void> {
  if (deps.running.has(job.postId)) {
    deps.logger.warn({ postId: job.postId }, 'the post is already being published by this process');
    return;
  }
  deps.running.add(job.postId);
  try {
    await runClaimed(deps, job);
  } finally {
    deps.running.delete(job.postId);
  }
}

async function runClaimed(deps: PublisherDeps, job: PublishJob): Promise<void> {
  await deps.ensureAlive(job.owner);
  const { leaseMs, deadWorkerMs } = deps.settings;
  const claimed = await claim(deps.db, {
    postId: job.postId,
    owner: job.owner,
    leaseMs,
    deadWorkerMs,
    ownWorkerIds: deps.ownWorkerIds(),
  });
  if (!claimed) return rescheduleIfMoved(deps.db, job);
  const { post } = claimed;
  let run: PublishRun | null;
  try {
    run = await makeRun(deps, claimed, job);
  } catch (error) {
    // The account could not be read or the token opened (database trouble, a key removed too soon):
    // let go, so graphile-worker's retry of the job finds the post claimable.
    await releaseLease({ deps, post, owner: job.owner }).catch(() => undefined);
    throw error;
  }
  if (!run) return failWithoutToken(deps, post, job);
  try {
    // A stopped or suspected account's posts wait; a run that already asked Meta to publish settles that first.
    if (run.account && run.account.state !== 'start' && !post.publishRequestedAt) return await hold(run, {});
    await publishSteps(run);
  } catch (error) {
    if (error instanceof LeaseLost) {
      run.log.warn('lease taken over by another run; stopping');
      return;
    }
    try {
      await onFailure(run, error);
    } catch (inner) {
      if (inner instanceof LeaseLost) return;
      // Could not even record the failure (database trouble?): let go of the post so
      // graphile-worker's own retry of this job can claim it again.
      await releaseLease(run).catch(() => undefined);
      throw inner;
    }
  }
}

/** The post's account was disconnected after it failed, and it was scheduled again without a new one. */
async function failWithoutToken(deps: PublisherDeps, post: PostRow, job: PublishJob): Promise<void> {
  await markFailed(
    { deps, post, owner: job.owner },
    {
      code: 'GRAPH_TOKEN_INVALID',
      message:
        'The post has no token: its Instagram account was disconnected. Name a connected account in instagram_id.',
      graph_code: null,
      graph_subcode: null,
    },
  );
}

/** Not claimable: deleted, done, owned by a live run, or moved later (make sure its job follows). */
async function rescheduleIfMoved(db: Db, { postId, priority }: PublishJob): Promise<void> {
  const [post] = await db
    .select({ status: posts.status, datePub: posts.datePub })
    .from(posts)
    .where(eq(posts.id, postId));
  if (post?.status === 'scheduled' && post.datePub.getTime() > Date.now()) {
    await schedulePublishJob(db, { postId, runAt: post.datePub, priority });
  }
}

async function publishSteps(run: PublishRun): Promise<void> {
  const { graph, post } = run;

  // 1. After media_publish was asked for, never publish blind: the container says what happened,
  //    and while an earlier run's request may still be on its way, FINISHED is not yet an answer.
  if (post.publishRequestedAt && post.creationId) {
    const status = await graph.containerStatus(post.creationId, run.token);
    if (status.statusCode === 'PUBLISHED') return finish(run, null);
    if (status.statusCode !== 'FINISHED' && (await settleContainer(run, status))) return;
    if (run.inflightMs > 0) return waitForEarlierRequest(run);
  }

  // 2. The container, made once and stored at once (a carousel's items first, each stored at once).
  if (!post.creationId) {
    const limit = await graph.publishingLimit(post.igUserId, run.token);
    if (limit.quotaUsage >= limit.quotaTotal) return waitForQuota(run, limit);
    if (await overContainerBudget(run)) return;
    if (kindOfPost(post).hasItems) {
      const waitingSince = await prepareCarouselItems(run);
      if (waitingSince)
        return waitWhileProcessing(run, waitingSince, 'Meta is processing the carousel’s videos.');
    }
    await recordContainer(run, await createContainer(run));
  }

  // 3. Media Meta processes first: wait for FINISHED without holding a worker slot.
  if (needsProcessing(post) && !post.publishRequestedAt) {
    const status = await graph.containerStatus(post.creationId!, run.token);
    if (status.statusCode !== 'FINISHED' && (await settleContainer(run, status))) return;
  }

  // 4. Publish, marked first so that any retry reads the container before publishing again. The mark
  //    is also the last ownership check: if it was slow, the database was stuck and the lease may
  //    have moved on meanwhile, so Meta is not asked on the strength of it.
  const markMs = await markPublishRequested(run);
  if (markMs > run.deps.settings.markBudgetMs) {
    run.log.warn({ markMs: Math.round(markMs) }, 'the publish mark was slow; not asking Meta on it');
    const runAt = new Date(Date.now() + 1000);
    return handOver(run, {
      runAt,
      withdrawPublishRequest: true,
      event: {
        type: 'retry_scheduled',
        message: `The database took ${(markMs / 1000).toFixed(1)} s to record the publish request, so Meta was not asked; trying again at ${formatInstant(runAt)}.`,
      },
    });
  }
  let mediaId: string;
  try {
    mediaId = await graph.publish(post.igUserId, run.token, post.creationId!);
  } catch (error) {
    const action = actionOf(error);
    // A definite "not ready" or "over quota" means nothing went out: the mark can go.
    if (action === 'poll' || action === 'quota') await clearPublishRequest(run);
    // "Gone": the retry must make a fresh container, not publish the dead one again.
    else if (action === 'new_container') await dropContainer(run);
    // Any other definite refusal (a bad token, a missing permission) also means nothing went out.
    else if (action === 'permanent') await clearPublishRequest(run);
    // Meta answered (a 5xx): the request is no longer on its way; the retry reads the container first.
    else if (error instanceof GraphError && error.httpStatus !== null) await publishAnswered(run);
    if (action === 'poll') {
      return handOver(run, {
        runAt: new Date(Date.now() + run.deps.settings.pollDelayMs),
        event: { type: 'container_processing', message: 'Meta is still processing the media.' },
      });
    }
    throw error;
  }
  return finish(run, mediaId);
}

/**
 * An earlier run asked Meta to publish and may still be waiting for its
 * answer (it was presumed dead, or its answer was lost): publishing now could
 * publish twice. Check the container again once its window has passed; by
 * then it says PUBLISHED, or FINISHED and publishing is safe.
 */
async function waitForEarlierRequest(run: PublishRun): Promise<void> {
  const runAt = new Date(Date.now() + run.inflightMs);
  run.log.warn({ inflightMs: run.inflightMs }, 'an earlier publish request may still be in flight; waiting');
  await handOver(run, {
    runAt,
    event: {
      type: 'retry_scheduled',
      message: `An earlier publish request may still be on its way to Meta; checking the container again at ${formatInstant(runAt)} instead of publishing now.`,
    },
  });
}

/**
 * Meta is still processing a video made at `since`: check again after half
 * the time waited so far (pollDelayMs to 30 s), the worker slot freed
 * meanwhile; past maxProcessingMs the post fails.
 */
async function waitWhileProcessing(run: PublishRun, since: Date, message: string): Promise<void> {
  const { settings } = run.deps;
  const age = Date.now() - since.getTime();
  if (age > settings.maxProcessingMs) {
    return markFailed(run, {
      code: 'GRAPH_PROCESSING_TIMEOUT',
      message: `Meta did not finish processing the video within ${Math.round(settings.maxProcessingMs / 60_000)} minutes.`,
      graph_code: null,
      graph_subcode: null,
    });
  }
  const delay = Math.min(30_000, Math.max(settings.pollDelayMs, age / 2));
  // The first quick re-check is routine; only a longer wait is worth an event.
  const quiet = !run.post.publishRequestedAt && age < settings.pollDelayMs;
  await handOver(run, {
    runAt: new Date(Date.now() + delay),
    event: quiet ? undefined : { type: 'container_processing', message },
  });
}

/**
 * Deals with a container that is neither FINISHED nor PUBLISHED. Returns true
 * when the run is over (handed over or failed), false when publishing can go on.
 */
async function settleContainer(
  run: PublishRun,
  container: { statusCode: ContainerStatus; status: string | null },
): Promise<boolean> {
  const { post } = run;
  if (container.statusCode === 'IN_PROGRESS') {
    await waitWhileProcessing(run, post.containerCreatedAt ?? new Date(), 'Meta is processing the video.');
    return true;
  }
  if (container.statusCode === 'EXPIRED' || container.statusCode === 'ERROR') {
    const expired = container.statusCode === 'EXPIRED';
    const subcode = Number(/(\d{7})/.exec(container.status ?? '')?.[1] ?? NaN);
    const error = new GraphError({
      httpStatus: null,
      code: expired ? -2 : 1,
      subcode: Number.isNaN(subcode) ? (expired ? 2207020 : 2207001) : subcode,
      isTransient: false,
      type: null,
      fbtraceId: null,
      message: `The media container is ${container.statusCode}${container.status ? ` (${container.status})` : ''}.`,
    });
    if (error.action === 'permanent') {
      await markFailed(run, errorOf(error));
      return true;
    }
    // Not published and not usable: start over with a new container.
    await dropContainer(run);
    throw error;
  }
  return false;
}

async function finish(run: PublishRun, mediaId: string | null): Promise<void> {
  let found: Awaited<ReturnType<typeof findPublishedMedia>> = { mediaId, permalink: null, publishedAt: null };
  try {
    found = await findPublishedMedia(run, mediaId);
  } catch (error) {
    // The post is out; a missing permalink is not worth failing or retrying it.
    run.log.warn({ err: errorOf(error) }, 'published, but could not read the permalink');
  }
  await markPublished(run, { ...found, publishedAt: found.publishedAt ?? new Date() });
  run.log.info({ mediaId: found.mediaId }, 'published');
}

/** When a 24-hour window frees a slot (`frees`, unknown: 15 minutes), kept between 1 and 30 minutes, whole seconds. */
function whenWindowFrees(frees: number | null): Date {
  const now = Date.now();
  const at = Math.min(Math.max(frees ?? now + 15 * 60_000, now + 60_000), now + 30 * 60_000);
  return new Date(Math.ceil(at / 1000) * 1000);
}

/**
 * Meta allows 400 containers per account in a rolling 24 hours, carousel
 * items counted. Counted from the containers we made (the post's and its
 * items'); when this post's would go over, it waits, like for the
 * publishing quota, until the oldest leaves the window. True when it waits.
 */
async function overContainerBudget(run: PublishRun): Promise<boolean> {
  const { post, deps } = run;
  const [row] = await deps.db.execute<{ used: number; oldest: string | null; needed: number }>(sql`
    with made as (
      select p.container_created_at as at from posts p
      where p.ig_user_id = ${post.igUserId} and p.container_created_at > now() - interval '24 hours'
      union all
      select c.container_created_at from post_children c join posts p on p.id = c.post_id
      where p.ig_user_id = ${post.igUserId} and c.container_created_at > now() - interval '24 hours'
    )
    select (select count(*)::int from made) as used, (select min(at) from made) as oldest,
           1 + (select count(*)::int from post_children c where c.post_id = ${post.id} and c.creation_id is null) as needed`);
  const budget = deps.settings.containersPer24h;
  if (!row || row.used + row.needed <= budget) return false;
  const runAt = whenWindowFrees(row.oldest ? new Date(row.oldest).getTime() + 86_400_000 : null);
  await handOver(run, {
    runAt,
    status: 'scheduled',
    event: {
      type: 'quota_wait',
      message: `This account made ${row.used} of the ${budget} media containers Meta allows in 24 hours, and this post needs ${row.needed}; trying again at ${formatInstant(runAt)}.`,
    },
  });
  return true;
}

/** When our own oldest publish in Meta's window leaves it, a slot frees up; wait 1 to 30 minutes. */
async function waitForQuota(run: PublishRun, limit: PublishingLimit): Promise<void> {
  const windowMs = limit.quotaDurationSeconds * 1000;
  const [oldest] = await run.deps.db
    .select({ at: sql<string | null>`min(${posts.publishedAt})` })
    .from(posts)
    .where(
      and(eq(posts.igUserId, run.post.igUserId), sql`${posts.publishedAt} > now() - ${intervalOf(windowMs)}`),
    );
  const runAt = whenWindowFrees(oldest?.at ? new Date(oldest.at).getTime() + windowMs : null);
  await handOver(run, {
    runAt,
    status: 'scheduled',
    event: {
      type: 'quota_wait',
      message: `Instagram's publishing quota for this account is used up (${limit.quotaUsage}/${limit.quotaTotal} in 24 hours); trying again at ${formatInstant(runAt)}.`,
    },
  });
}

/** Backoff after the n-th failed try: x3 each time, from 5 s (60 s when rate limited). */
function retryDelay(run: PublishRun, action: GraphAction | 'unknown'): number {
  const rateLimited = action === 'retry_later';
  const base = rateLimited ? 60_000 : run.deps.settings.retryDelayMs;
  const cap = rateLimited ? 30 * 60_000 : 10 * 60_000;
  return Math.min(cap, base * 3 ** Math.max(0, run.post.attempts - 1));
}

async function onFailure(run: PublishRun, error: unknown): Promise<void> {
  const action = actionOf(error);
  const postError = errorOf(error);
  if (action === 'quota') {
    const limit = await run.graph
      .publishingLimit(run.post.igUserId, run.token)
      .catch(() => ({ quotaUsage: 0, quotaTotal: 0, quotaDurationSeconds: 86_400 }));
    return waitForQuota(run, limit);
  }
  if (action === 'permanent') {
    // Meta's word on the account, not the post: the account is suspected and its posts wait for a new token.
    const suspicion = run.account ? suspicionOf(error) : null;
    if (suspicion) {
      run.log.info({ code: postError.code }, 'the account is suspected; holding the post');
      return hold(run, { suspect: suspicion, error: postError });
    }
    run.log.info({ code: postError.code }, 'publishing failed permanently');
    return markFailed(run, postError);
  }
  if (action === 'unknown') run.log.error(describeError(error), 'unexpected error while publishing');
  if (run.post.attempts >= run.deps.settings.maxAttempts) {
    return markFailed(run, {
      ...postError,
      message: `${postError.message} Gave up after ${run.post.attempts} attempts.`,
    });
  }
  const runAt = new Date(Date.now() + retryDelay(run, action));
  await handOver(run, {
    runAt,
    countAttempt: true,
    event: {
      type: 'retry_scheduled',
      message: `${postError.message} Retrying at ${formatInstant(runAt)}.`,
      error: postError,
    },
  });
}

/** The `publish_post` job: the worker id that holds it owns the post's lease while the run lasts. */
export const publishPostHandler = handle(publishPostJob, (deps: PublisherDeps, { postId }, helpers) =>
  publishPost(deps, {
    postId,
    owner: helpers.job.locked_by ?? `worker-${process.pid}`,
    priority: helpers.job.priority,
  }),
);
