/**
 * Every write that changes a post while it is being published, each with the
 * event it records, one operation per function. A run writes only while it
 * still holds the post's lease (`lease_owner` = its worker id); a write that
 * finds the lease gone throws LeaseLost and the run stops without touching
 * the post again. See docs/publishing.md for the state machine.
 */
import { and, eq, is, sql, SQL } from 'drizzle-orm';
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import type { Db, DbOrTx } from '../db/client.ts';
import { rowMapper } from '../db/rows.ts';
import { postChildren, posts, type PostRow } from '../db/schema.ts';
import { kindOf } from '../kinds/index.ts';
import { lockAccountState, suspectInstagram } from '../instagrams/service.ts';
import { getPost } from '../posts/service.ts';
import { emitWebhookEvent } from '../webhooks/outbox.ts';
import type { StateReason } from '../db/columns.ts';
import { arrayLiteral, intervalOf } from '../db/sql.ts';
import { scheduleFirstComment } from '../jobs/first-comment.ts';
import { schedulePublishJob } from '../jobs/publish-post.ts';
import { appendEvent, eventInsert, type PostEventInput } from '../posts/events.ts';
import type { PostError } from '../posts/post-error.ts';
import type { PublishRun } from './types.ts';

/** The lease was taken over (the run was presumed dead): stop without touching the post. */
export class LeaseLost extends Error {
  override name = 'LeaseLost';
}

const toPostRow = rowMapper(posts);

/**
 * A `publishing` post whose run is gone: handed over between runs (no
 * owner), past its lease, or owned by a process that stopped heartbeating.
 * `p` is the posts table's alias in the surrounding statement.
 */
export function publishingRunGone(deadWorkerMs: number): SQL {
  return sql`(p.status = 'publishing' and (
    p.lease_owner is null
    or p.lease_expires_at < now()
    or not exists (
      select 1 from worker_heartbeats h
      where h.worker_id = p.lease_owner and h.seen_at > now() - ${intervalOf(deadWorkerMs)}
    )
  ))`;
}

/**
 * Claims a post for a run: a due `scheduled` post, or a `publishing` one whose
 * run is gone, or one leased to a worker of this same process (see
 * PublisherDeps.ownWorkerIds). One UPDATE, so two workers can never both hold the same post.
 * A fresh start or a recovery from a dead run counts as an attempt; taking
 * over a post handed over between runs does not.
 */
export async function claim(
  db: Db,
  opts: { postId: number; owner: string; leaseMs: number; deadWorkerMs: number; ownWorkerIds: string[] },
): Promise<Claimed | undefined> {
  const [row] = await db.execute<Record<string, unknown>>(sql`
    update posts p set
      status = 'publishing',
      lease_owner = ${opts.owner},
      lease_version = p.lease_version + 1,
      lease_expires_at = now() + ${intervalOf(opts.leaseMs)},
      attempts = p.attempts + case when p.status = 'scheduled' or p.lease_owner is not null then 1 else 0 end
    where p.id = ${opts.postId}
      and ((p.status = 'scheduled' and p.date_pub <= now() + interval '1 second')
           or ${publishingRunGone(opts.deadWorkerMs)}
           or (p.status = 'publishing' and p.lease_owner = any(${arrayLiteral(opts.ownWorkerIds)}::text[])))
    returning p.*,
      greatest(0, ceil(extract(epoch from p.publish_inflight_until - now()) * 1000))::int as inflight_ms`);
  if (!row) return undefined;
  return { post: toPostRow(row), inflightMs: Number(row.inflight_ms ?? 0) };
}

export interface Claimed {
  post: PostRow;
  /** How long (by the database's clock) an earlier run's media_publish request may still be in flight. */
  inflightMs: number;
}

/** What a write needs of a run: the post and who holds its lease. */
type Owned = Pick<PublishRun, 'deps' | 'post' | 'owner'>;

/** The owner's webhooks hear of the change, in its transaction (server/webhooks/outbox.ts). */
async function notify(
  tx: DbOrTx,
  run: Owned,
  type: 'post.published' | 'post.failed' | 'post.retrying',
  written: { hasWebhooks: boolean },
): Promise<void> {
  if (!written.hasWebhooks) return;
  const { ownerId, id } = run.post;
  await emitWebhookEvent(tx, { ownerId, type, data: () => getPost(tx, ownerId, id) });
}

/** The post as this run claimed it: its owner and the lease version of the claim (the fencing token). */
function owned(run: Owned): SQL {
  return and(
    eq(posts.id, run.post.id),
    eq(posts.leaseOwner, run.owner),
    eq(posts.leaseVersion, run.post.leaseVersion),
  )!;
}

/**
 * Writes to a post the run still owns, renewing its lease; throws LeaseLost
 * otherwise. The ownership check is the UPDATE's own condition, so nothing
 * can take the post between the check and the write.
 */
async function writeOwned(
  tx: DbOrTx,
  run: Owned,
  set: PgUpdateSetSource<typeof posts>,
): Promise<{ hasWebhooks: boolean }> {
  const rows = await tx
    .update(posts)
    .set({ leaseExpiresAt: sql`now() + ${intervalOf(run.deps.settings.leaseMs)}`, ...set })
    .where(owned(run))
    // Asked in the same statement: most owners have no webhook, and a round trip per publish to learn it adds up.
    .returning({
      hasWebhooks: sql<boolean>`exists (select 1 from webhook_endpoints e where e.owner_id = ${posts.ownerId} and e.enabled)`,
    });
  if (rows.length === 0) throw new LeaseLost();
  // Values computed by the database (SQL) are not known here; the run never reads them back.
  for (const [key, value] of Object.entries(set))
    if (!is(value, SQL)) Object.assign(run.post, { [key]: value });
  return rows[0]!;
}

/** Stored at once: a crash after this point reuses the container instead of making another. */
export async function recordContainer(run: PublishRun, creationId: string): Promise<void> {
  await run.deps.db.transaction(async (tx) => {
    await writeOwned(tx, run, { creationId, containerCreatedAt: new Date() });
    await appendEvent(tx, run.post.id, {
      type: 'container_created',
      message: `Media container ${creationId} created.`,
    });
  });
}

/** A carousel item's container, stored at once like the post's own (a crash reuses it). */
export async function recordChildContainer(
  run: PublishRun,
  position: number,
  creationId: string,
): Promise<Date> {
  const at = new Date();
  await run.deps.db.transaction(async (tx) => {
    await writeOwned(tx, run, {});
    await tx
      .update(postChildren)
      .set({ creationId, containerCreatedAt: at })
      .where(and(eq(postChildren.postId, run.post.id), eq(postChildren.position, position)));
    await appendEvent(tx, run.post.id, {
      type: 'container_created',
      message: `Carousel item ${position + 1}: media container ${creationId} created.`,
    });
  });
  return at;
}

/** A carousel item whose container expired or failed: the next try makes a new one. */
export async function forgetChildContainer(run: PublishRun, position: number): Promise<void> {
  await run.deps.db.transaction(async (tx) => {
    await writeOwned(tx, run, {});
    await tx
      .update(postChildren)
      .set({ creationId: null, containerCreatedAt: null })
      .where(and(eq(postChildren.postId, run.post.id), eq(postChildren.position, position)));
  });
}

/**
 * From this mark on, no retry publishes blind: it reads the container's
 * status first, and no other run publishes until the mark's in-flight window
 * (settings.publishInFlightMs, database time) has passed or Meta answered.
 * The ownership check is part of the same UPDATE (writeOwned). Returns how
 * long the mark took: a slow one means the database was stuck meanwhile.
 */
export async function markPublishRequested(run: PublishRun): Promise<number> {
  const started = performance.now();
  await run.deps.db.transaction(async (tx) => {
    await writeOwned(tx, run, {
      publishRequestedAt: new Date(),
      publishInflightUntil: sql`now() + ${intervalOf(run.deps.settings.publishInFlightMs)}`,
    });
    await appendEvent(tx, run.post.id, {
      type: 'publish_attempted',
      message: `Publishing container ${run.post.creationId}.`,
    });
  });
  return performance.now() - started;
}

/** Meta answered the publish request (with an error): it is no longer on its way, the window can close. */
export async function publishAnswered(run: PublishRun): Promise<void> {
  await writeOwned(run.deps.db, run, { publishInflightUntil: null });
}

/** Meta said for certain that nothing was published (not ready, over quota): the mark can go. */
export async function clearPublishRequest(run: PublishRun): Promise<void> {
  await writeOwned(run.deps.db, run, { publishRequestedAt: null, publishInflightUntil: null });
}

/** The container is gone or unusable and was not published: the next try makes a new one. */
export async function dropContainer(run: PublishRun): Promise<void> {
  await run.deps.db.transaction(async (tx) => {
    await writeOwned(tx, run, {
      creationId: null,
      containerCreatedAt: null,
      publishRequestedAt: null,
      publishInflightUntil: null,
    });
    // A carousel whose container is gone is rebuilt whole: its items' containers age alike.
    if (kindOf(run.post.contentType, run.post.placement).hasItems)
      await tx
        .update(postChildren)
        .set({ creationId: null, containerCreatedAt: null })
        .where(eq(postChildren.postId, run.post.id));
  });
}

export interface HandOver {
  /** When the post's job runs again. */
  runAt: Date;
  /** The event to record; none for a quiet re-check (the first video poll). */
  event?: PostEventInput | undefined;
  /** `scheduled` while waiting for the account's quota; otherwise it stays `publishing`. */
  status?: 'scheduled';
  /** A failed try: counts towards maxAttempts. */
  countAttempt?: boolean;
  /** This run marked the post but did not ask Meta after all: the mark goes with the hand-over. */
  withdrawPublishRequest?: boolean;
}

/**
 * Gives the post back until `runAt`, with its job re-added for then, in one
 * transaction. The lease stays in force a while past `runAt`, so reconcile
 * leaves a post alone that is only waiting for its job.
 */
export async function handOver(run: PublishRun, opts: HandOver): Promise<void> {
  const { post, deps } = run;
  await deps.db.transaction(async (tx) => {
    const written = await writeOwned(tx, run, {
      leaseOwner: null,
      leaseExpiresAt: new Date(opts.runAt.getTime() + deps.settings.leaseMs),
      ...(opts.status ? { status: opts.status } : {}),
      ...(opts.countAttempt ? { attempts: post.attempts + 1 } : {}),
      ...(opts.withdrawPublishRequest ? { publishRequestedAt: null, publishInflightUntil: null } : {}),
    });
    await schedulePublishJob(tx, {
      postId: post.id,
      runAt: opts.runAt,
      priority: run.priority,
      event: opts.event ? eventInsert(post.id, { datePub: opts.runAt, ...opts.event }) : undefined,
    });
    if (opts.countAttempt) await notify(tx, run, 'post.retrying', written);
  });
}

export async function markPublished(
  run: PublishRun,
  opts: { mediaId: string | null; permalink: string | null; publishedAt: Date },
): Promise<void> {
  await run.deps.db.transaction(async (tx) => {
    const written = await writeOwned(tx, run, {
      status: 'published',
      ...opts,
      lastError: null,
      leaseOwner: null,
      leaseExpiresAt: null,
      publishInflightUntil: null,
    });
    await appendEvent(tx, run.post.id, {
      type: 'published',
      message: opts.mediaId ? `Published as media ${opts.mediaId}.` : 'Published.',
    });
    await notify(tx, run, 'post.published', written);
    if (run.post.firstComment) await scheduleFirstComment(tx, run.post.id);
  });
}

export async function markFailed(run: Owned, error: PostError): Promise<void> {
  await run.deps.db.transaction(async (tx) => {
    const written = await writeOwned(tx, run, {
      status: 'failed',
      lastError: error,
      leaseOwner: null,
      leaseExpiresAt: null,
      publishInflightUntil: null,
    });
    await appendEvent(tx, run.post.id, { type: 'failed', message: error.message, error });
    await notify(tx, run, 'post.failed', written);
  });
}

/**
 * The post waits while its account is stopped or suspected: back to
 * `scheduled` with a `held` event, and no job (this run's ends), until
 * starting or reconnecting the account releases it (instagrams/held-posts.ts).
 * With `suspect`, Meta's refusal first makes the account suspected, unless
 * its token was replaced since the run read it: then the post simply runs
 * again with the new one. Takes the account's row lock, as a start does, so
 * a post is never held after its account was started.
 */
export async function hold(
  run: PublishRun,
  opts: { suspect?: StateReason; error?: PostError },
): Promise<void> {
  const account = run.account!;
  await run.deps.db.transaction(async (tx) => {
    const current = await lockAccountState(tx, account.id);
    const sameToken = current?.tokenCiphertext === account.tokenCiphertext;
    if (opts.suspect && sameToken) await suspectInstagram(tx, account.id, opts.suspect);
    else if (current?.state === 'start') {
      // Started or reconnected since the run looked: go on at once, with whatever token it has now.
      await writeOwned(tx, run, { leaseOwner: null });
      await schedulePublishJob(tx, { postId: run.post.id, runAt: new Date(), priority: run.priority });
      return;
    }
    const state = opts.suspect && sameToken ? 'suspected' : (current?.state ?? 'stop');
    await writeOwned(tx, run, {
      status: 'scheduled',
      leaseOwner: null,
      leaseExpiresAt: null,
      // Not an attempt: the claim that counted it found the account paused.
      attempts: Math.max(0, run.post.attempts - 1),
    });
    await appendEvent(tx, run.post.id, {
      type: 'held',
      message:
        state === 'suspected'
          ? `The Instagram account is suspected (${opts.suspect?.message ?? 'see its events'}); the post waits for a new token.`
          : 'The Instagram account is stopped; the post waits until it is started.',
      error: opts.error ?? null,
    });
  });
}

/**
 * Lets go of the post without any other change, when even recording a
 * failure did not work (database trouble): graphile-worker's own retry of
 * the job can then claim it again at once.
 */
export async function releaseLease(run: Owned): Promise<void> {
  await run.deps.db
    .update(posts)
    .set({ leaseOwner: null, leaseExpiresAt: sql`now()` })
    .where(owned(run));
}
