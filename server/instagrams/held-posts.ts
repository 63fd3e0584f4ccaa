import { sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { PUBLISH_JOB_KEY_PREFIX, schedulePublishJob } from '../jobs/publish-post.ts';
import { eventInsert } from '../posts/events.ts';

/**
 * Puts the account's held posts back in line: every `scheduled` post of it
 * without a job (a run found the account stopped or suspected and let its
 * job end). Due ones run at once. Called in the transaction that starts or
 * reconnects the account, which holds its row lock, so a run holding a post
 * at the same moment either sees the account started or is released here.
 */
export async function releaseHeldPosts(tx: Tx, instagramId: number, now: Date): Promise<number> {
  const held = await tx.execute<{ id: string; date_pub: string }>(sql`
    select p.id, p.date_pub from posts p
    where p.instagram_id = ${instagramId} and p.status = 'scheduled'
      and not exists (select 1 from graphile_worker.jobs j where j.key = ${PUBLISH_JOB_KEY_PREFIX} || p.id)
    order by p.date_pub, p.id
    for update of p`);
  for (const post of held) {
    const postId = Number(post.id);
    const datePub = new Date(post.date_pub);
    const runAt = datePub.getTime() > now.getTime() ? datePub : now;
    await schedulePublishJob(tx, {
      postId,
      runAt,
      event: eventInsert(postId, {
        type: 'released',
        message: 'The account is started again; publishing.',
        datePub: runAt,
      }),
    });
  }
  return held.length;
}
