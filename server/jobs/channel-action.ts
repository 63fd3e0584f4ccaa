import { sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { DbOrTx } from '../db/client.ts';
import { defineJob } from './job.ts';

/** One reply, private reply or hide (server/channels/act.ts), keyed `channel_action:<id>`. */
export const channelActionJob = defineJob({
  task: 'channel_action',
  payload: z.object({ actionId: z.number().int().positive() }),
  maxAttempts: 10,
});

const JOB_KEY_PREFIX = 'channel_action:';

/** The job key of an action (`id` an SQL expression), for statements that find or remove many jobs. */
export function channelActionJobKey(id: SQL): SQL {
  return sql`(${JOB_KEY_PREFIX} || ${id})`;
}

/** The action's job at `runAt`, replacing the one it had. */
export async function scheduleChannelAction(db: DbOrTx, actionId: number, runAt: Date): Promise<void> {
  await db.execute(sql`select graphile_worker.add_job(${channelActionJob.task},
    json_build_object('actionId', ${actionId}::bigint), run_at := ${runAt.toISOString()}::timestamptz,
    job_key := ${`${JOB_KEY_PREFIX}${actionId}`}, job_key_mode := 'replace',
    max_attempts := ${channelActionJob.maxAttempts}::int)`);
}

/**
 * The add_job call for many actions at once (server/channels/queue.ts plans a
 * whole account's queue in one statement): `id`, `at` and `place` are SQL
 * expressions over the rows it selects from. `place` is the action's place in
 * its account's queue: graphile-worker runs lower priorities first among due
 * jobs, so one account's burst of comments takes turns with other accounts'
 * actions instead of going ahead of them all (capped: past 1000 all alike).
 */
export function addChannelActionJobs(id: SQL, at: SQL, place: SQL): SQL {
  return sql`graphile_worker.add_job(${channelActionJob.task}, json_build_object('actionId', ${id}),
    run_at := ${at}, job_key := ${channelActionJobKey(id)}, job_key_mode := 'replace',
    max_attempts := ${channelActionJob.maxAttempts}::int, priority := least(${place}, 1000))`;
}
