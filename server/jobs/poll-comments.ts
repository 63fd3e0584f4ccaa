import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { DbOrTx } from '../db/client.ts';
import { defineJob } from './job.ts';

/** Reads an account's recent comments when Meta's webhooks do not bring them (server/channels/poll.ts). */
export const pollCommentsJob = defineJob({
  task: 'poll_comments',
  payload: z.object({ instagramId: z.number().int().positive() }),
  maxAttempts: 25,
});

/** Polls the account at `runAt`; an earlier poll already waiting is kept (`preserve_run_at`) unless `replace`. */
export async function schedulePoll(
  db: DbOrTx,
  instagramId: number,
  runAt: Date,
  mode: 'preserve_run_at' | 'replace' = 'preserve_run_at',
): Promise<void> {
  await db.execute(sql`select graphile_worker.add_job(${pollCommentsJob.task},
    json_build_object('instagramId', ${instagramId}::bigint), run_at := ${runAt.toISOString()}::timestamptz,
    job_key := ${`poll_comments:${instagramId}`}, job_key_mode := ${mode},
    max_attempts := ${pollCommentsJob.maxAttempts}::int)`);
}
