/**
 * The `process_comments` job: stored comments meet the started channels of
 * their account. Each match is a `channel_actions` row, inserted with
 * ON CONFLICT on (channel_id, comment_id), so a comment is acted on at most
 * once per channel whatever arrives how often; new rows get their slots and
 * jobs in the same transaction that marks the comments processed.
 */
import { randomInt } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import type { ChannelAction } from '../db/schema.ts';
import type { Logger } from '../logger.ts';
import type { IncomingComment } from './intake.ts';
import { planQueuedActions } from './queue.ts';
import { handle } from '../jobs/job.ts';
import { processCommentsJob } from '../jobs/process-comments.ts';

const BATCH = 500;

type StoredComment = IncomingComment & { id: string };

type StartedChannel = {
  id: string;
  instagram_id: string;
  ig_user_id: string;
  account_username: string;
  action: ChannelAction;
  value: string;
  comments: string[];
  acting_since: string;
};

/** A template with `{username}` filled in (the name without a leading @, which templates may write). */
export function fillTemplate(template: string, username: string | null): string {
  return template.replaceAll('{username}', username ?? '');
}

/** Whether the channel acts on this comment. */
export function matches(
  channel: Pick<StartedChannel, 'action' | 'value' | 'ig_user_id' | 'account_username' | 'acting_since'>,
  c: StoredComment,
): boolean {
  // Our own comments and replies: answering them would answer our answers.
  if (c.own || c.from_id === channel.ig_user_id) return false;
  if (c.username && c.username.toLowerCase() === channel.account_username.toLowerCase()) return false;
  // Meta's times have whole seconds: a comment in the second the channel started counts.
  const since = Math.floor(new Date(channel.acting_since).getTime() / 1000) * 1000;
  if (new Date(c.commented_at).getTime() < since) return false;
  // Replies and private replies answer top-level comments; hiding covers replies too.
  if (channel.action !== 'hide' && c.parent_id !== null) return false;
  return channel.value === '' || c.text.toLowerCase().includes(channel.value.toLowerCase());
}

/** Processes stored comments in batches until none is left; returns how many actions were queued. */
export async function processComments(deps: { db: Db; logger: Logger; now?: () => Date }): Promise<number> {
  let queued = 0;
  for (;;) {
    const batch = await deps.db.transaction(async (tx) => {
      const comments = await tx.execute<StoredComment>(sql`
        select id, ig_user_id, comment_id, media_id, parent_id, from_id, username, text, own, commented_at
        from instagram_comments where processed_at is null
        order by id limit ${BATCH} for update skip locked`);
      if (comments.length === 0) return null;
      const igUserIds = [...new Set(comments.map((c) => c.ig_user_id))];
      const started = await tx.execute<StartedChannel>(sql`
        select c.id, c.instagram_id, i.ig_user_id, i.username as account_username, c.action, c.value,
               c.comments, c.acting_since
        from channels c join instagrams i on i.id = c.instagram_id
        where i.ig_user_id = any(${`{${igUserIds.join(',')}}`}::text[]) and c.state = 'start'`);
      const rows: Record<string, unknown>[] = [];
      for (const c of comments)
        for (const channel of started)
          if (channel.ig_user_id === c.ig_user_id && matches(channel, c)) {
            const template =
              channel.comments.length > 0 ? channel.comments[randomInt(channel.comments.length)]! : null;
            rows.push({
              channel_id: channel.id,
              instagram_id: channel.instagram_id,
              action: channel.action,
              comment_id: c.comment_id,
              media_id: c.media_id,
              from_id: c.from_id,
              username: c.username,
              message: template === null ? null : fillTemplate(template, c.username),
              commented_at: c.commented_at,
            });
          }
      const added =
        rows.length === 0
          ? []
          : await tx.execute<{ instagram_id: string }>(sql`
              insert into channel_actions
                (channel_id, instagram_id, action, comment_id, media_id, from_id, username, message, commented_at)
              select x.channel_id, x.instagram_id, x.action, x.comment_id, x.media_id, x.from_id, x.username,
                     x.message, x.commented_at
              from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(channel_id bigint, instagram_id bigint,
                action text, comment_id text, media_id text, from_id text, username text, message text,
                commented_at timestamptz)
              on conflict (channel_id, comment_id) do nothing
              returning instagram_id`);
      const now = deps.now?.() ?? new Date();
      for (const instagramId of new Set(added.map((a) => Number(a.instagram_id))))
        await planQueuedActions(tx, instagramId, now, 'append');
      await tx.execute(sql`
        update instagram_comments set processed_at = now()
        where id = any(${`{${comments.map((c) => c.id).join(',')}}`}::bigint[])`);
      return { comments: comments.length, added: added.length };
    });
    if (!batch) return queued;
    queued += batch.added;
    deps.logger.debug(batch, 'comments processed');
  }
}

/**
 * Stored comments are kept 8 days: Meta retries a delivery for 36 hours and
 * a private reply is possible for 7 days; channel_actions' own unique key
 * keeps at-most-once after that.
 */
export async function pruneComments(db: Db): Promise<number> {
  const removed = await db.execute(sql`
    delete from instagram_comments where received_at < now() - interval '8 days' and processed_at is not null`);
  return removed.count;
}

export const processCommentsHandler = handle(processCommentsJob, async (deps: { db: Db; logger: Logger }) => {
  await processComments(deps);
});
