/**
 * Channels: seed 002's automation, on what Meta's official API allows
 * (docs/channels.md). Validation with seed 002's numbered refusals, the
 * channel's computed state and counters, and the queue of its actions,
 * planned against the account's hourly budget and hours window. Every
 * function takes the caller's transaction.
 */
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../db/client.ts';
import {
  channelActions,
  channels,
  instagrams,
  type ChannelAction,
  type ChannelActionRow,
  type ChannelRow,
} from '../db/schema.ts';
import { AppError, type FieldIssue } from '../errors.ts';
import { getInstagramRow } from '../instagrams/service.ts';
import { channelActionJobKey } from '../jobs/channel-action.ts';
import { decodeIdCursor, encodeIdCursor } from '../lib/cursor.ts';
import { formatInstant } from '../lib/time.ts';
import { ensureFeed, resumeChannels, unplan } from './queue.ts';
import { MAX_DM_CHARS, type ChannelActionOutput, type ChannelFields, type ChannelOutput } from './schemas.ts';

const TERMS =
  "Instagram's official API has no like/follow/unfollow, and automating them breaks Instagram's Terms of Use.";
const TARGET_REASONS: Record<string, string> = {
  followers: "Meta's API does not list an account's followers or let an app act on them.",
  subscriptions: "Meta's API does not list the accounts an account follows or let an app act on them.",
  likes: "Meta's API does not say who liked a post.",
  hashtag:
    "Meta's hashtag search is read-only: commenting on other people's posts is not offered and automating it breaks Instagram's Terms of Use.",
};

/** The channel a request describes, or seed 002's refusal (nothing is stored for it). */
export function checkedFields(input: ChannelFields): {
  action: ChannelAction;
  value: string;
  comments: string[];
} {
  const action = input.action?.trim().toLowerCase() ?? '';
  if (action === '') throw new AppError('CHANNEL_EMPTY_ACTION');
  if (['like', 'follow', 'unfollow'].includes(action))
    throw new AppError('CHANNEL_ACTION_UNSUPPORTED', TERMS);
  if (action !== 'comment' && action !== 'dm' && action !== 'hide')
    throw new AppError(
      'CHANNEL_ACTION_UNSUPPORTED',
      `Undefined action type \`${action.slice(0, 40)}\`: a channel can \`comment\` (reply publicly), \`dm\` (reply privately) or \`hide\` comments.`,
    );
  const target = input.target?.trim().toLowerCase() || 'comments';
  if (target !== 'comments')
    throw new AppError(
      'CHANNEL_TARGET_UNSUPPORTED',
      TARGET_REASONS[target]
        ? `Target \`${target}\` is not possible: ${TARGET_REASONS[target]} A channel acts on \`comments\` left on the account's own media.`
        : `Undefined target type \`${target.slice(0, 40)}\`: a channel acts on \`comments\` left on the account's own media.`,
    );
  const value = input.value?.trim() ?? '';
  const comments = input.comments ?? [];
  const issues: FieldIssue[] = [];
  if (action === 'hide' && value === '')
    issues.push({ path: 'value', message: 'hide needs the word that marks a comment as spam in value' });
  if (action !== 'hide' && comments.length === 0)
    issues.push({ path: 'comments', message: `${action} needs at least one reply template in comments` });
  if (action === 'dm')
    comments.forEach((c, i) => {
      if ([...c].length > MAX_DM_CHARS)
        issues.push({
          path: `comments.${i}`,
          message: `a private reply is at most ${MAX_DM_CHARS} characters`,
        });
    });
  if (issues.length > 0) throw new AppError('VALIDATION_FAILED', undefined, { issues });
  return { action, value, comments: action === 'hide' ? [] : comments };
}

const counters = {
  targets: sql<number>`(select count(*) from channel_actions a where a.channel_id = ${channels.id})`.mapWith(
    Number,
  ),
  leads: sql<number>`(select count(distinct coalesce(a.from_id, a.username)) from channel_actions a
      where a.channel_id = ${channels.id} and a.status = 'done')`.mapWith(Number),
  queued: sql<boolean>`exists (select 1 from channel_actions a
      where a.channel_id = ${channels.id} and a.status = 'queued')`,
  followers: sql<number | null>`(${instagrams.info}->>'follower_count')::bigint`.mapWith((v) =>
    v === null ? null : Number(v),
  ),
};

type ChannelWithCounts = {
  channel: ChannelRow;
  targets: number;
  leads: number;
  queued: boolean;
  followers: number | null;
};

export function toChannelOutput(r: ChannelWithCounts): ChannelOutput {
  const c = r.channel;
  return {
    id: c.id,
    instagram_id: c.instagramId,
    action: c.action,
    target: 'comments',
    value: c.value,
    comments: c.comments,
    // `empty`: it has acted on what came and nothing waits; a channel that has seen nothing yet is `start`.
    state: c.state === 'start' && r.targets > 0 && !r.queued ? 'empty' : c.state,
    leads_count: r.leads,
    targets_count: r.targets,
    followers_count: r.followers,
    created_at: formatInstant(c.createdAt),
    updated_at: formatInstant(c.updatedAt),
  };
}

async function selectChannels(db: DbOrTx, ownerId: number, instagramId: number, id?: number) {
  return db
    .select({ channel: channels, ...counters })
    .from(channels)
    .innerJoin(instagrams, eq(instagrams.id, channels.instagramId))
    .where(
      and(
        eq(channels.ownerId, ownerId),
        eq(channels.instagramId, instagramId),
        id === undefined ? undefined : eq(channels.id, id),
      ),
    )
    .orderBy(channels.id);
}

/** The channel with its counters; the account is already known to be the caller's. */
async function readChannel(db: DbOrTx, ownerId: number, instagramId: number, id: number) {
  const [row] = await selectChannels(db, ownerId, instagramId, id);
  if (!row) throw new AppError('CHANNEL_NOT_FOUND');
  return toChannelOutput(row);
}

export async function getChannel(
  db: DbOrTx,
  ownerId: number,
  instagramId: number,
  id: number,
): Promise<ChannelOutput> {
  await getInstagramRow(db, ownerId, instagramId);
  return readChannel(db, ownerId, instagramId, id);
}

export async function listChannels(db: DbOrTx, ownerId: number, instagramId: number) {
  await getInstagramRow(db, ownerId, instagramId);
  return { items: (await selectChannels(db, ownerId, instagramId)).map(toChannelOutput) };
}

/** The caller's channel of the caller's account (locked in a transaction that writes it); 404 for anyone else's. */
async function channelRow(
  db: DbOrTx,
  ownerId: number,
  ids: { instagramId: number; id: number },
  lock: boolean,
): Promise<ChannelRow> {
  await getInstagramRow(db, ownerId, ids.instagramId);
  const query = db
    .select()
    .from(channels)
    .where(
      and(eq(channels.id, ids.id), eq(channels.instagramId, ids.instagramId), eq(channels.ownerId, ownerId)),
    );
  const [row] = lock ? await query.for('update') : await query;
  if (!row) throw new AppError('CHANNEL_NOT_FOUND');
  return row;
}

const lockChannel = (tx: Tx, ownerId: number, ids: { instagramId: number; id: number }) =>
  channelRow(tx, ownerId, ids, true);

export async function createChannel(
  tx: Tx,
  ownerId: number,
  instagramId: number,
  input: ChannelFields,
  now = new Date(),
): Promise<ChannelOutput> {
  await getInstagramRow(tx, ownerId, instagramId);
  const fields = checkedFields(input);
  const [row] = await tx
    .insert(channels)
    .values({
      ownerId,
      instagramId,
      ...fields,
      state: 'start',
      actingSince: now,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  await ensureFeed(tx, instagramId, now);
  return readChannel(tx, ownerId, instagramId, row!.id);
}

/** PUT replaces every field (what is left out is empty); PATCH changes those sent. */
export async function updateChannel(
  tx: Tx,
  ownerId: number,
  ids: { instagramId: number; id: number },
  input: ChannelFields,
  mode: 'patch' | 'replace',
  now = new Date(),
): Promise<ChannelOutput> {
  const current = await lockChannel(tx, ownerId, ids);
  const merged: ChannelFields =
    mode === 'replace'
      ? input
      : {
          action: input.action ?? current.action,
          target: input.target ?? current.target,
          value: input.value ?? current.value,
          comments: input.comments ?? current.comments,
        };
  const fields = checkedFields(merged);
  await tx
    .update(channels)
    .set({ ...fields, updatedAt: now })
    .where(eq(channels.id, current.id));
  return readChannel(tx, ownerId, ids.instagramId, ids.id);
}

/** `start`: acts on comments made from now on, and its queued actions go back in line. */
export async function startChannel(
  tx: Tx,
  ownerId: number,
  ids: { instagramId: number; id: number },
  now = new Date(),
): Promise<ChannelOutput> {
  const current = await lockChannel(tx, ownerId, ids);
  if (current.state !== 'start') {
    await tx
      .update(channels)
      .set({ state: 'start', actingSince: now, updatedAt: now })
      .where(eq(channels.id, current.id));
    await resumeChannels(tx, ids.instagramId, now);
  }
  return readChannel(tx, ownerId, ids.instagramId, ids.id);
}

/** `stop`: nothing more is done; queued actions wait for `start`. */
export async function stopChannel(
  tx: Tx,
  ownerId: number,
  ids: { instagramId: number; id: number },
  now = new Date(),
): Promise<ChannelOutput> {
  const current = await lockChannel(tx, ownerId, ids);
  if (current.state !== 'stop') {
    await tx.update(channels).set({ state: 'stop', updatedAt: now }).where(eq(channels.id, current.id));
    await unplan(tx, current.instagramId, sql`a.channel_id = ${current.id}`);
  }
  return readChannel(tx, ownerId, ids.instagramId, ids.id);
}

/** Deletes the channel; its queued actions are dropped with their jobs. */
export async function deleteChannel(
  tx: Tx,
  ownerId: number,
  ids: { instagramId: number; id: number },
): Promise<{ id: number; deleted: true }> {
  const current = await lockChannel(tx, ownerId, ids);
  await tx.execute(sql`
    select graphile_worker.remove_job(${channelActionJobKey(sql`a.id`)})
    from channel_actions a where a.channel_id = ${current.id} and a.status = 'queued'`);
  await tx.delete(channels).where(eq(channels.id, current.id));
  return { id: current.id, deleted: true };
}

export function toActionOutput(a: ChannelActionRow): ChannelActionOutput {
  return {
    id: a.id,
    comment_id: a.commentId,
    media_id: a.mediaId,
    username: a.username,
    action: a.action,
    status: a.status,
    result_id: a.resultId,
    error: a.error ?? null,
    at: formatInstant(a.finishedAt ?? a.slotAt ?? a.createdAt),
  };
}

/** What the channel did, newest first. */
export async function listChannelActions(
  db: DbOrTx,
  ownerId: number,
  input: { instagram_id: number; id: number; limit: number; cursor?: string | undefined },
) {
  await channelRow(db, ownerId, { instagramId: input.instagram_id, id: input.id }, false);
  const before = input.cursor ? decodeIdCursor('actions', input.cursor) : undefined;
  const rows = await db
    .select()
    .from(channelActions)
    .where(
      and(
        eq(channelActions.channelId, input.id),
        before === undefined ? undefined : lt(channelActions.id, before),
      ),
    )
    .orderBy(desc(channelActions.id))
    .limit(input.limit + 1);
  const page = rows.slice(0, input.limit);
  return {
    items: page.map(toActionOutput),
    next_cursor: rows.length > input.limit ? encodeIdCursor('actions', page.at(-1)!.id) : null,
  };
}
