import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { arrayLiteral, intervalOf } from '../db/sql.ts';
import { PUBLISH_JOB_KEY_PREFIX, publishPostJob, schedulePublishJob } from '../jobs/publish-post.ts';
import type { Logger } from '../logger.ts';
import { eventInsert } from '../posts/events.ts';
import { publishingRunGone } from './transitions.ts';
import { handle } from '../jobs/job.ts';
import { reconcileJob } from '../jobs/reconcile.ts';
import type { PublisherDeps } from './types.ts';

/**
 * Puts stuck posts back on track; runs every minute (graphile-worker
 * crontab) and shortly after each worker start.
 * 1. Jobs locked by a worker whose process stopped heartbeating are unlocked
 *    (graphile-worker alone would keep them locked for 4 hours).
 * 2. A `scheduled` post that is overdue (and not held: its account is
 *    started), or a `publishing` post whose run is gone, gets its job back
 *    if it has none.
 * 3. Day-old heartbeats are deleted.
 */
export async function reconcile(
  db: Db,
  opts: {
    logger: Logger;
    deadWorkerMs: number;
    /**
     * The calling process's own workers: alive by definition, whatever their heartbeats say (after
     * a database stall they are all old). Unlocking their jobs would run jobs they still run.
     */
    ownWorkerIds?: string[];
    /** Posts this process is publishing right now (PublisherDeps.running). */
    runningHere?: number[];
    /** Jobs this process is running (fetched and not yet recorded as done). */
    jobsInFlight?: string[];
  },
): Promise<{ unlocked: number; readded: number }> {
  const dead = intervalOf(opts.deadWorkerMs);
  const deadWorkers = await db.execute<{ locked_by: string }>(sql`
    select distinct j.locked_by from graphile_worker.jobs j
    where j.locked_by is not null and j.locked_at < now() - ${dead}
      and j.locked_by <> all(${arrayLiteral(opts.ownWorkerIds ?? [])}::text[])
      and not exists (
        select 1 from worker_heartbeats h where h.worker_id = j.locked_by and h.seen_at > now() - ${dead}
      )`);
  const ids = deadWorkers.map((r) => r.locked_by);
  if (ids.length > 0) {
    await db.execute(sql`select graphile_worker.force_unlock_workers(${arrayLiteral(ids)}::text[])`);
    opts.logger.warn({ workers: ids }, 'unlocked the jobs of workers that stopped');
  }

  // A job locked by this process that it is not running: the answer to the fetch that locked it
  // was lost (the connection died after the commit). Nobody will run it until the lock is 4 hours
  // old, so it is unlocked; a minute's grace covers a fetch whose answer is still arriving.
  if (opts.ownWorkerIds?.length) {
    const orphans = await db.execute<{ id: string }>(sql`
      update graphile_worker._private_jobs set locked_by = null, locked_at = null
      where locked_by = any(${arrayLiteral(opts.ownWorkerIds)}::text[])
        and locked_at < now() - interval '1 minute'
        and id <> all(${arrayLiteral(opts.jobsInFlight ?? [])}::bigint[])
      returning id`);
    if (orphans.length > 0) opts.logger.warn({ jobs: orphans.length }, 'unlocked jobs whose fetch was lost');
  }

  const stuck = await db.execute<{ id: string }>(sql`
    select p.id from posts p
    where ((p.status = 'scheduled' and p.date_pub < now() - interval '30 seconds'
            -- A post of a stopped or suspected account is held on purpose: starting it brings it back.
            and (p.instagram_id is null
                 or exists (select 1 from instagrams i where i.id = p.instagram_id and i.state = 'start')))
           or ${publishingRunGone(opts.deadWorkerMs)}
           -- Leased to a worker of this process that is not running it: its run ended without
           -- handing over (its database calls failed, or a claim committed whose answer was lost).
           or (p.status = 'publishing' and p.lease_owner = any(${arrayLiteral(opts.ownWorkerIds ?? [])}::text[])
               and p.id <> all(${arrayLiteral(opts.runningHere ?? [])}::bigint[])))
      and not exists (select 1 from graphile_worker.jobs j where j.key = ${PUBLISH_JOB_KEY_PREFIX} || p.id)
    order by p.date_pub
    limit 1000`);
  for (const row of stuck) {
    const postId = Number(row.id);
    await schedulePublishJob(db, {
      postId,
      runAt: new Date(),
      event: eventInsert(postId, {
        type: 'recovered',
        message: 'Picked up again: its publishing job had gone missing.',
      }),
    });
  }
  if (stuck.length > 0) opts.logger.warn({ posts: stuck.length }, 're-added publishing jobs for stuck posts');

  // A publishing job fails in graphile-worker's eyes only when its run could not reach the database
  // (Meta's errors are handled by the run itself); graphile-worker then backs off for minutes.
  // The run is safe to repeat at once (docs/publishing.md), so the wait is cut short.
  await db.execute(sql`
    select graphile_worker.reschedule_jobs(
      array(select j.id from graphile_worker.jobs j
            where j.task_identifier = ${publishPostJob.task} and j.locked_at is null
              and j.attempts > 0 and j.last_error is not null and j.run_at > now() + interval '5 seconds'),
      run_at := now())`);

  await db.execute(sql`delete from worker_heartbeats where seen_at < now() - interval '1 day'`);
  return { unlocked: ids.length, readded: stuck.length };
}

/** The `reconcile` job, told what this process is running so it never takes back its own work. */
export const reconcileHandler = handle(
  reconcileJob,
  async (
    deps: Pick<PublisherDeps, 'db' | 'logger' | 'settings' | 'ownWorkerIds' | 'running'> & {
      /** Jobs this process has fetched and graphile-worker has not yet recorded as done. */
      jobsInFlight(): string[];
    },
  ) => {
    await reconcile(deps.db, {
      logger: deps.logger,
      deadWorkerMs: deps.settings.deadWorkerMs,
      ownWorkerIds: deps.ownWorkerIds(),
      runningHere: [...deps.running],
      jobsInFlight: deps.jobsInFlight(),
    });
  },
);
