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

/** The add_job call for deliveries inserted in the same statement (`id` is an SQL expression over them). */
export function addDeliveryJobs(id: SQL): SQL {
  return sql`graphile_worker.add_job(${deliverWebhookJob.task}, json_build_object('deliveryId', ${id}),
    job_key := ${JOB_KEY_PREFIX} || ${id}, max_attempts := ${deliverWebhookJob.maxAttempts}::int)`;
}

/** The delivery's next try at `runAt`, replacing its job, in the transaction that records the last try. */
export async function scheduleDelivery(db: DbOrTx, deliveryId: number, runAt: Date): Promise<void> {
  await db.execute(sql`select graphile_worker.add_job(
    ${deliverWebhookJob.task}, json_build_object('deliveryId', ${deliveryId}::bigint),
    run_at := ${runAt.toISOString()}::timestamptz, job_key := ${`${JOB_KEY_PREFIX}${deliveryId}`},
    job_key_mode := 'replace', max_attempts := ${deliverWebhookJob.maxAttempts}::int)`);
}
