import { sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { formatInstant } from '../lib/time.ts';

const DAY_MS = 86_400_000;

/**
 * The most posts that any 24-hour window containing `at` would hold if one
 * more post were placed at `at`. Windows are half-open [s, s + 24 h); the
 * busiest one containing `at` starts at `at` or at one of the other posts.
 */
export function busiestWindow(at: number, others: number[]): number {
  const starts = [at, ...others.filter((t) => t <= at && t > at - DAY_MS)];
  let best = 0;
  for (const start of starts) {
    const inWindow = others.filter((t) => t >= start && t < start + DAY_MS).length;
    best = Math.max(best, inWindow + 1);
  }
  return best;
}

/**
 * Refuses (PUBLISH_LIMIT_REACHED) to place a post of `igUserId` at `at` when
 * some 24-hour window would then hold more than `limit` of that account's
 * posts. A transaction-scoped advisory lock per account serializes racing
 * creates, so two requests cannot both take the last slot.
 */
export async function assertWithinPublishLimit(
  tx: Tx,
  opts: { igUserId: string; at: Date; limit: number; excludePostId?: number },
): Promise<void> {
  await tx.execute(
    sql`select pg_advisory_xact_lock(hashtextextended(${`publish-limit:${opts.igUserId}`}, 0))`,
  );
  const at = opts.at.getTime();
  const rows = await tx.execute<{ at: string }>(sql`
    select coalesce(published_at, date_pub) as at from posts
    where ig_user_id = ${opts.igUserId} and status <> 'failed' and id <> ${opts.excludePostId ?? 0}
      and date_pub > ${new Date(at - 2 * DAY_MS).toISOString()}::timestamptz
      and date_pub < ${new Date(at + DAY_MS).toISOString()}::timestamptz`);
  const others = rows.map((r) => new Date(r.at).getTime());
  if (busiestWindow(at, others) > opts.limit) {
    throw new AppError(
      'PUBLISH_LIMIT_REACHED',
      `Instagram account ${opts.igUserId} would have more than ${opts.limit} posts in a 24-hour window around ` +
        `${formatInstant(opts.at)}. Pick another time or delete a post.`,
      { issues: [{ path: 'date_pub', message: `at most ${opts.limit} posts per account in any 24 hours` }] },
    );
  }
}

/** Job priorities past this are all alike: a backlog this deep is already last in line. */
const MAX_PRIORITY = 1000;

/**
 * Places a post in its owner's queue, in one statement under a per-user
 * advisory lock (so racing creates count one by one):
 * - refuses (TOO_MANY_SCHEDULED_POSTS) a post that would give the owner more
 *   than `max` posts waiting;
 * - returns the publishing job's priority: how many of the owner's waiting
 *   posts are due at or before this one. graphile-worker runs lower numbers
 *   first, so when workers are busy, one user's burst of 5,000 due posts
 *   takes turns with other users' posts instead of going ahead of them all.
 */
export async function queuePlace(
  tx: Tx,
  opts: { ownerId: number; max: number; datePub: Date; excludePostId?: number },
): Promise<{ priority: number }> {
  await tx.execute(
    sql`select pg_advisory_xact_lock(hashtextextended(${`scheduled-cap:${opts.ownerId}`}, 0))`,
  );
  const [row] = await tx.execute<{ waiting: number; earlier: number }>(sql`
    select count(*)::int as waiting,
           count(*) filter (where date_pub <= ${opts.datePub.toISOString()}::timestamptz)::int as earlier
    from (
      select date_pub from posts
      where owner_id = ${opts.ownerId} and status = 'scheduled' and id <> ${opts.excludePostId ?? 0}
      limit ${opts.max}
    ) waiting`);
  if ((row?.waiting ?? 0) >= opts.max) {
    throw new AppError(
      'TOO_MANY_SCHEDULED_POSTS',
      `You already have ${opts.max} posts waiting to be published; delete some or wait until they are out.`,
    );
  }
  return { priority: Math.min(row?.earlier ?? 0, MAX_PRIORITY) };
}
