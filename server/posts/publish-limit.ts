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

/**
 * What each user had waiting when last counted, per process: counting a
 * heavy user's thousands of waiting posts on every create would cost more
 * than the create itself.
 */
export type WaitingCounts = Map<number, { count: number; countedAt: number }>;

/** How long a count is trusted while the user stays well under the cap. */
const COUNT_TRUSTED_MS = 10_000;

/**
 * Refuses (TOO_MANY_SCHEDULED_POSTS) a post that would give the owner more
 * than `max` posts waiting. A user well under the cap (below 90 % by the
 * last count, plus what this process added since) is not counted again for
 * a few seconds; near the cap every create counts. It bounds a flood, it is
 * not an exact quota: creates racing in other processes may overshoot it by
 * their number (a per-user lock held to each commit would make one user's
 * creates run one at a time).
 */
export async function assertBelowScheduledCap(
  tx: Tx,
  opts: { ownerId: number; max: number; counts: WaitingCounts; excludePostId?: number },
): Promise<void> {
  const known = opts.counts.get(opts.ownerId);
  if (known && Date.now() - known.countedAt < COUNT_TRUSTED_MS && known.count + 1 < opts.max * 0.9) {
    known.count++;
    return;
  }
  const [row] = await tx.execute<{ waiting: number }>(sql`
    select count(*)::int as waiting from (
      select 1 from posts
      where owner_id = ${opts.ownerId} and status = 'scheduled' and id <> ${opts.excludePostId ?? 0}
      limit ${opts.max}
    ) waiting`);
  const waiting = row?.waiting ?? 0;
  if (waiting >= opts.max) {
    throw new AppError(
      'TOO_MANY_SCHEDULED_POSTS',
      `You already have ${opts.max} posts waiting to be published; delete some or wait until they are out.`,
    );
  }
  opts.counts.set(opts.ownerId, { count: waiting + 1, countedAt: Date.now() });
}
