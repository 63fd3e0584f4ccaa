import { z } from 'zod';

/** Puts stuck posts back on track (server/publisher/reconcile.ts). */
export const RECONCILE_TASK = 'reconcile';

export const ZReconcilePayload = z.object({}).passthrough();

/** Every minute; `max=1` so a slow run is never retried on top of the next one. */
export const RECONCILE_CRONTAB = `* * * * * ${RECONCILE_TASK} ?max=1&jobKey=${RECONCILE_TASK}`;

type AddJob = (task: string, payload: object, spec: { jobKey: string; runAt?: Date }) => Promise<unknown>;

/**
 * After a worker starts: once at once (catch up after a restart), and once
 * after a dead predecessor's heartbeat has gone stale, so its posts are
 * recovered without waiting for the next minute.
 */
export async function enqueueReconcileAfterStart(addJob: AddJob, deadWorkerMs: number): Promise<void> {
  await addJob(RECONCILE_TASK, {}, { jobKey: 'reconcile:start' });
  await addJob(
    RECONCILE_TASK,
    {},
    { jobKey: 'reconcile:after-start', runAt: new Date(Date.now() + deadWorkerMs + 2_000) },
  );
}
