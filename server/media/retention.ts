/**
 * Removes uploads nobody needs any more (MEDIA.md "Retention"): one used by
 * published posts MEDIA_RETENTION after the last of them was published, one
 * no post uses at its expires_at, an upload abandoned half-way after 6 hours;
 * never one a `scheduled` or `publishing` post uses.
 *
 * The race with a post being given the file: a post's transaction share-locks
 * the media row (post_media's foreign key, and checkPostMedia's FOR KEY
 * SHARE) until it commits. This job first locks its candidates FOR UPDATE,
 * which waits for such a transaction, then deletes with the conditions
 * checked again by a new statement, which sees that post. A post that comes
 * after the lock waits for the delete and is refused: its upload is gone.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { handle } from '../jobs/job.ts';
import { pruneMediaJob } from '../jobs/prune-media.ts';
import type { Logger } from '../logger.ts';

const BATCH = 200;
const ABANDONED_AFTER = '6 hours';

function removable(now: Date, retentionMs: number): SQL {
  const at = sql`${now.toISOString()}::timestamptz`;
  return sql`(
    (m.size is null and m.created_at < ${at} - ${ABANDONED_AFTER}::interval)
    or (m.size is not null
      and not exists (
        select 1 from post_media pm join posts p on p.id = pm.post_id
        where pm.media_id = m.id and p.status in ('scheduled', 'publishing'))
      and coalesce(
        (select max(p.published_at) from post_media pm join posts p on p.id = pm.post_id
         where pm.media_id = m.id and p.status = 'published') + ${retentionMs} * interval '1 millisecond',
        m.expires_at) <= ${at}))`;
}

export async function pruneMedia(
  db: Db,
  opts: {
    retentionMs: number;
    now?: Date;
    /** Tests: runs between locking the candidates and deleting them. */
    afterLock?: () => Promise<void>;
  },
): Promise<number> {
  const now = opts.now ?? new Date();
  let removed = 0;
  for (;;) {
    const batch = await db.transaction(async (tx) => {
      const locked = await tx.execute<{ id: string }>(sql`
        select m.id from media m where ${removable(now, opts.retentionMs)}
        order by m.id limit ${BATCH} for update of m skip locked`);
      if (locked.length === 0) return { locked: 0, deleted: 0 };
      await opts.afterLock?.();
      const ids = `{${locked.map((r) => r.id).join(',')}}`;
      const deleted = await tx.execute<{ id: string }>(sql`
        delete from media m where m.id = any(${ids}::text[]) and ${removable(now, opts.retentionMs)}
        returning m.id`);
      return { locked: locked.length, deleted: deleted.length };
    });
    removed += batch.deleted;
    if (batch.locked < BATCH) return removed;
  }
}

/** The hourly `prune_media` job; MEDIA_RETENTION comes in `media.retentionMs`. */
export const pruneMediaHandler = handle(
  pruneMediaJob,
  async (deps: { db: Db; logger: Logger; media: { retentionMs: number } }) => {
    const removed = await pruneMedia(deps.db, { retentionMs: deps.media.retentionMs });
    deps.logger.info({ removed }, 'removed uploads no post needs');
  },
);
