import { sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.ts';
import type { PostEventType } from '../db/schema.ts';
import type { PostError } from './post-error.ts';

/**
 * A post's history is append-only and written in the same transaction as the
 * change it records, by the API and by the publisher alike.
 */
export interface PostEventInput {
  type: PostEventType;
  message: string;
  datePub?: Date | null;
  error?: PostError | null;
}

/** The INSERT of one history event, to run alone (appendEvent) or beside another statement. */
export function eventInsert(postId: number, event: PostEventInput): SQL {
  return sql`insert into post_events (post_id, type, message, date_pub, error) values (${postId}, ${event.type}, ${event.message},
    ${event.datePub?.toISOString() ?? null}::timestamptz, ${event.error ? JSON.stringify(event.error) : null}::jsonb)`;
}

export async function appendEvent(tx: DbOrTx, postId: number, event: PostEventInput): Promise<void> {
  await tx.execute(eventInsert(postId, event));
}
