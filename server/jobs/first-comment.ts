import { sql } from 'drizzle-orm';
import { z } from 'zod';
import type { DbOrTx } from '../db/client.ts';

/** Posts a published post's first comment (server/publisher/first-comment.ts). */
export const FIRST_COMMENT_TASK = 'first_comment';

export const ZFirstCommentPayload = z.object({ postId: z.number().int().positive() });

/** One job per post, keyed `first_comment:<id>`; added in the transaction that marks the post published. */
export async function scheduleFirstComment(db: DbOrTx, postId: number, runAt = new Date()): Promise<void> {
  await db.execute(sql`select graphile_worker.add_job(
    ${FIRST_COMMENT_TASK}, json_build_object('postId', ${postId}::bigint),
    run_at := ${runAt.toISOString()}::timestamptz, job_key := ${`first_comment:${postId}`},
    job_key_mode := 'replace', max_attempts := 10)`);
}
