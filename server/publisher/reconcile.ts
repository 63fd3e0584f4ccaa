import { sql } from 'drizzle-orm';
import { deleteExpiredSessions } from '../auth/sessions.ts';
import type { Db } from '../db/client.ts';
import { schedulePublishJob } from '../jobs/publish-job.ts';
import type { Logger } from '../logger.ts';
import { eventInsert } from '../posts/service.ts';

/**
 * Puts stuck posts back on track; runs every minute (graphile-worker
 * crontab) and shortly after each worker start.
 * 1. Jobs locked by a worker whose process stopped heartbeating are unlocked
 *    (graphile-worker alone would keep them locked for 4 hours).
 * 2. A `scheduled` post that is overdue, or a `publishing` post whose lease
 *    passed or whose owner died, gets its job back if it has none.
 * 3. Expired sessions and day-old heartbeats are deleted.
 */
export async function reconcile(
  db: Db,
  logger: Logger,
  deadWorkerMs: number,
): Promise<{ unlocked: number; readded: number }> {
  const dead = sql.raw(`interval '${Math.round(deadWorkerMs)} milliseconds'`);
  const deadWorkers = await db.execute<{ locked_by: string }>(sql`
    select distinct j.locked_by from graphile_worker.jobs j
    where j.locked_by is not null and j.locked_at < now() - ${dead}
      and not exists (
        select 1 from worker_heartbeats h where h.worker_id = j.locked_by and h.seen_at > now() - ${dead}
      )`);
  const ids = deadWorkers.map((r) => r.locked_by);
  if (ids.length > 0) {
    await db.execute(
      sql`select graphile_worker.force_unlock_workers(${`{${ids.map((id) => `"${id}"`).join(',')}}`}::text[])`,
    );
    logger.warn({ workers: ids }, 'unlocked the jobs of workers that stopped');
  }

  const stuck = await db.execute<{ id: string; status: string }>(sql`
    select p.id, p.status from posts p
    where (
        (p.status = 'scheduled' and p.date_pub < now() - interval '30 seconds')
        or (p.status = 'publishing' and (
          p.lease_expires_at < now()
          or (p.lease_owner is not null and not exists (
            select 1 from worker_heartbeats h where h.worker_id = p.lease_owner and h.seen_at > now() - ${dead}
          ))
        ))
      )
      and not exists (select 1 from graphile_worker.jobs j where j.key = 'post:' || p.id)
    order by p.date_pub
    limit 1000`);
  for (const row of stuck) {
    const id = Number(row.id);
    await schedulePublishJob(
      db,
      id,
      new Date(),
      eventInsert(id, 'recovered', 'Picked up again: its publishing job had gone missing.'),
    );
  }
  if (stuck.length > 0) logger.warn({ posts: stuck.length }, 're-added publishing jobs for stuck posts');

  // Housekeeping on the same schedule: old heartbeats, and sessions nobody presented before they expired.
  await db.execute(sql`delete from worker_heartbeats where seen_at < now() - interval '1 day'`);
  await deleteExpiredSessions(db);
  return { unlocked: ids.length, readded: stuck.length };
}
