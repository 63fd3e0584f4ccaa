import { sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { DbOrTx } from '../db/client.ts';
import { defineJob } from './job.ts';

/** Publishes one post; the post row is the truth, the payload only names it. */
export const publishPostJob = defineJob({
  task: 'publish_post',
  payload: z.object({ postId: z.number().int().positive() }),
  maxAttempts: 25,
});

/** Every post has at most one publishing job, keyed `post:<id>`. */
export const PUBLISH_JOB_KEY_PREFIX = 'post:';
const publishJobKey = (postId: number) => `${PUBLISH_JOB_KEY_PREFIX}${postId}`;

/**
 * Adds or replaces the post's one publishing job, in the caller's
 * transaction, so the job exists exactly when the row change commits.
 * graphile-worker's add_job can return NULL when it races another writer on
 * the same job key; that is retried a few times before giving up.
 */
export async function schedulePublishJob(
  db: DbOrTx,
  opts: {
    postId: number;
    runAt: Date;
    /** An event INSERT to run in the same statement (one round trip instead of two). */
    event?: SQL | undefined;
    /**
     * graphile-worker priority (lower runs first among due jobs). By default
     * the post's place in its owner's queue, computed in the same statement
     * (see FAIR_PRIORITY); a job re-added by its own run keeps what it had.
     */
    priority?: number | undefined;
  },
): Promise<void> {
  const { postId, runAt, event } = opts;
  for (let attempt = 1; ; attempt++) {
    // Only the first attempt carries the event: a retry must not append it twice.
    const withEvent = event && attempt === 1 ? sql`with event as (${event}) ` : sql``;
    const rows = await db.execute<{ id: string | null }>(sql`
      ${withEvent}select (graphile_worker.add_job(
        ${publishPostJob.task},
        json_build_object('postId', ${postId}::bigint),
        run_at := ${runAt.toISOString()}::timestamptz,
        job_key := ${publishJobKey(postId)},
        job_key_mode := 'replace',
        priority := ${opts.priority === undefined ? fairPriority(postId) : sql`${opts.priority}::int`},
        max_attempts := ${publishPostJob.maxAttempts}::int
      )).id::text as id`);
    if (rows[0]?.id) return;
    if (attempt >= 5) throw new Error(`add_job returned no job for post ${postId} after ${attempt} attempts`);
  }
}

/** Job priorities past this are all alike: a backlog this deep is already last in line. */
const MAX_PRIORITY = 1000;

/**
 * How many of the owner's waiting posts are due at or before this one
 * (capped). graphile-worker runs lower numbers first among due jobs, so when
 * the workers are busy, one user's burst of thousands of due posts takes
 * turns with other users' posts instead of going ahead of them all. An
 * index range scan of at most MAX_PRIORITY entries (posts_owner_scheduled_idx).
 */
function fairPriority(postId: number): SQL {
  return sql`(select count(*)::int from (
      select 1 from posts o, posts p
      where p.id = ${postId} and o.owner_id = p.owner_id and o.status = 'scheduled'
        and o.date_pub <= p.date_pub and o.id <> p.id
      limit ${MAX_PRIORITY}) earlier)`;
}

/** Removes the post's job in the caller's transaction (a no-op when there is none). */
export async function unschedulePublishJob(db: DbOrTx, postId: number): Promise<void> {
  await db.execute(sql`select graphile_worker.remove_job(${publishJobKey(postId)})`);
}
