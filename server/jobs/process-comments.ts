import { sql } from 'drizzle-orm';
import { z } from 'zod';
import { defineJob } from './job.ts';

/** Looks at newly stored comments and queues what channels do about them (server/channels/process.ts). */
export const processCommentsJob = defineJob({
  task: 'process_comments',
  payload: z.object({}).passthrough(),
  maxAttempts: 25,
});

/**
 * SQL that adds the processing job: one job for all stored comments, so
 * many deliveries at once add one (a job already waiting keeps its run_at;
 * one already running gets a successor, which graphile-worker creates when
 * the keyed job is locked).
 */
export const addProcessCommentsJob = sql`graphile_worker.add_job(${processCommentsJob.task}, '{}'::json,
  job_key := ${processCommentsJob.task}, job_key_mode := 'preserve_run_at',
  max_attempts := ${processCommentsJob.maxAttempts}::int)`;
