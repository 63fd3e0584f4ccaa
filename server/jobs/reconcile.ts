import { z } from 'zod';
import { defineJob } from './job.ts';

/** Puts stuck posts back on track (server/publisher/reconcile.ts); every minute. */
export const reconcileJob = defineJob({
  task: 'reconcile',
  payload: z.object({}).passthrough(),
  maxAttempts: 1,
  schedule: '* * * * *',
});

type AddJob = (task: string, payload: object, spec: { jobKey: string; runAt?: Date }) => Promise<unknown>;

/**
 * After a worker starts: once at once (catch up after a restart), and once
 * after a dead predecessor's heartbeat has gone stale, so its posts are
 * recovered without waiting for the next minute.
 */
export async function enqueueReconcileAfterStart(addJob: AddJob, deadWorkerMs: number): Promise<void> {
  await addJob(reconcileJob.task, {}, { jobKey: 'reconcile:start' });
  await addJob(
    reconcileJob.task,
    {},
    { jobKey: 'reconcile:after-start', runAt: new Date(Date.now() + deadWorkerMs + 2_000) },
  );
}
