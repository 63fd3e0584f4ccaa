import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { DbOrTx } from '../db/client.ts';
import { defineJob } from './job.ts';

/** Posts a published post's first comment (server/publisher/first-comment.ts). */
export const firstCommentJob = defineJob({
  task: 'first_comment',
  payload: z.object({ postId: z.number().int().positive() }),
  maxAttempts: 10,
});

/** One job per post, keyed `first_comment:<id>`; added in the transaction that marks the post published. */
export async function scheduleFirstComment(db: DbOrTx, postId: number, runAt = new Date()): Promise<void> {
  await db.execute(sql`select graphile_worker.add_job(
    ${firstCommentJob.task}, json_build_object('postId', ${postId}::bigint),
    run_at := ${runAt.toISOString()}::timestamptz, job_key := ${`first_comment:${postId}`},
    job_key_mode := 'replace', max_attempts := ${firstCommentJob.maxAttempts}::int)`);
}
