import { sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import type { DbOrTx } from '../db/client.ts';
import { defineJob } from './job.ts';

/** Sends one webhook delivery (server/webhooks/deliver.ts); its row is the truth, the payload names it. */
export const deliverWebhookJob = defineJob({
  task: 'deliver_webhook',
  payload: z.object({ deliveryId: z.number().int().positive() }),
  maxAttempts: 10,
});

/** One job per delivery, keyed `webhook:<id>`: a retry replaces it. */
const JOB_KEY_PREFIX = 'webhook:';

/** Priorities past this are all alike: a backlog this deep is already last in line. */
const MAX_PRIORITY = 1000;

/**
 * The owner's deliveries still waiting (capped): graphile-worker runs lower
 * numbers first among due jobs, so one user's thousands of deliveries (or a
 * receiver that never answers) take turns with other users' instead of
 * going ahead of them all, as posts do (server/jobs/publish-post.ts). An
 * index range scan of the owner's endpoints' pending rows
 * (webhook_deliveries_pending_idx).
 */
function fairPriority(ownerId: SQL): SQL {
  return sql`(select count(*)::int from (
      select 1 from webhook_deliveries d join webhook_endpoints e on e.id = d.endpoint_id
      where e.owner_id = ${ownerId} and d.status = 'pending'
      limit ${MAX_PRIORITY}) waiting)`;
}

/** The add_job call for deliveries of `ownerId` inserted in the same statement (`id` is an SQL expression over them). */
export function addDeliveryJobs(id: SQL, ownerId: number): SQL {
  return sql`graphile_worker.add_job(${deliverWebhookJob.task}, json_build_object('deliveryId', ${id}),
    job_key := ${JOB_KEY_PREFIX} || ${id}, max_attempts := ${deliverWebhookJob.maxAttempts}::int,
    priority := ${fairPriority(sql`${ownerId}::bigint`)})`;
}

/** The delivery's next try at `runAt`, replacing its job, in the transaction that records the last try. */
export async function scheduleDelivery(db: DbOrTx, deliveryId: number, runAt: Date): Promise<void> {
  await db.execute(sql`select graphile_worker.add_job(
    ${deliverWebhookJob.task}, json_build_object('deliveryId', ${deliveryId}::bigint),
    run_at := ${runAt.toISOString()}::timestamptz, job_key := ${`${JOB_KEY_PREFIX}${deliveryId}`},
    job_key_mode := 'replace', max_attempts := ${deliverWebhookJob.maxAttempts}::int,
    priority := ${fairPriority(sql`(select e.owner_id from webhook_deliveries d
      join webhook_endpoints e on e.id = d.endpoint_id where d.id = ${deliveryId}::bigint)`)})`);
}
