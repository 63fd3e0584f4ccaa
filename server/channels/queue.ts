/**
 * The queue of channel actions: slots in the account's hourly budget and
 * hours window (pace.ts), one graphile-worker job per planned action, and
 * the pauses and resumes that follow the account's and channels' states.
 * Every function takes the caller's transaction.
 */
import { eq, sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { instagrams, type ChannelAction } from '../db/schema.ts';
import { DEFAULT_SPEED } from '../instagrams/schemas.ts';
import { addChannelActionJobs, channelActionJobKey } from '../jobs/channel-action.ts';
import { schedulePoll } from '../jobs/poll-comments.ts';
import { hourlyBudget, planSlots } from './pace.ts';

/**
 * The lock that makes everything touching an account's slots take turns.
 * Always taken before any channel_actions row lock of the account (claims
 * in act.ts too), so two transactions never wait on each other in a circle.
 */
export async function lockPace(tx: Pick<Tx, 'execute'>, instagramId: number): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`channel-pace:${instagramId}`}, 0))`);
}

/** Jobs of the account's queued actions that were never sent, and their places in the budget, are given up. */
export async function unplan(tx: Tx, instagramId: number, where: SQL) {
  await lockPace(tx, instagramId);
  await tx.execute(sql`
    with paused as (
      update channel_actions a set slot_at = null
      where ${where} and a.status = 'queued' and a.attempts = 0
      returning a.id)
    select graphile_worker.remove_job(${channelActionJobKey(sql`paused.id`)}) from paused`);
}

/**
 * Polling starts when the account has a started channel; the job itself
 * stops when the account's comments come by webhook (server/channels/poll.ts).
 */
export async function ensureFeed(tx: Tx, instagramId: number, now: Date): Promise<void> {
  const [wanted] = await tx.execute(sql`
    select 1 from channels c join instagrams i on i.id = c.instagram_id
    where c.instagram_id = ${instagramId} and c.state = 'start' and i.state = 'start' limit 1`);
  if (wanted) await schedulePoll(tx, instagramId, now);
}

/**
 * Gives queued actions of the account their slots and jobs, under a lock
 * that makes planners of one account take turns. `append`: only those
 * without a slot (new or paused), after every slot already planned; `all`:
 * every action not yet sent is planned again from now (after a start, or a
 * change of speed, hours or time zone). Nothing is planned while the account
 * is not started, or for a kind whose speed is 0.
 */
export async function planQueuedActions(
  tx: Tx,
  instagramId: number,
  now: Date,
  mode: 'append' | 'all',
): Promise<number> {
  await lockPace(tx, instagramId);
  const [account] = await tx.select().from(instagrams).where(eq(instagrams.id, instagramId));
  if (!account || account.state !== 'start') return 0;
  const pending = await tx.execute<{ id: string; action: ChannelAction }>(sql`
    select a.id, a.action from channel_actions a join channels c on c.id = a.channel_id
    where a.instagram_id = ${instagramId} and a.status = 'queued' and c.state = 'start'
      and ${
        mode === 'append'
          ? sql`a.slot_at is null`
          : sql`(a.attempts = 0 or not exists (
              select 1 from graphile_worker.jobs j where j.key = ${channelActionJobKey(sql`a.id`)}))`
      }
    order by a.id`);
  if (pending.length === 0) return 0;
  const pendingIds = pending.map((p) => Number(p.id));
  const taken = await tx.execute<{ action: ChannelAction; slot_at: string }>(sql`
    select action, slot_at from channel_actions
    where instagram_id = ${instagramId} and slot_at > ${new Date(now.getTime() - 3_600_000).toISOString()}::timestamptz
      and id <> all(${`{${pendingIds.join(',')}}`}::bigint[])`);
  const speed = { ...DEFAULT_SPEED, ...account.speed };
  const window = { hours: account.hours, timezone: account.timezone };
  const ids: number[] = [];
  const times: string[] = [];
  const waiting: number[] = [];
  for (const kind of ['comment', 'dm', 'hide'] as const) {
    const mine = pending.filter((p) => p.action === kind).map((p) => Number(p.id));
    if (mine.length === 0) continue;
    const slots = planSlots(
      {
        now,
        speed: hourlyBudget(speed, kind),
        window,
        taken: taken.filter((t) => t.action === kind).map((t) => new Date(t.slot_at)),
      },
      mine.length,
    );
    mine.forEach((id, i) => {
      if (slots[i]) {
        ids.push(id);
        times.push(slots[i].toISOString());
      } else waiting.push(id);
    });
  }
  if (ids.length > 0)
    await tx.execute(sql`
      with planned as (
        update channel_actions a set slot_at = x.at
        from unnest(${`{${ids.join(',')}}`}::bigint[], ${`{${times.join(',')}}`}::timestamptz[])
          with ordinality as x(id, at, n)
        where a.id = x.id
        returning a.id, x.at, x.n)
      select ${addChannelActionJobs(sql`planned.id`, sql`planned.at`, sql`(planned.n - 1)::int`)}
      from planned`);
  if (waiting.length > 0)
    await unplan(tx, instagramId, sql`a.id = any(${`{${waiting.join(',')}}`}::bigint[])`);
  return ids.length;
}

/** The account (or a channel) starts, or is reconnected: comments are fetched and queued actions go back in line. */
export async function resumeChannels(tx: Tx, instagramId: number, now: Date): Promise<number> {
  await ensureFeed(tx, instagramId, now);
  return planQueuedActions(tx, instagramId, now, 'all');
}

/** The account stops or is suspected: queued actions that were never sent give up their slots. */
export async function pauseChannels(tx: Tx, instagramId: number): Promise<void> {
  await unplan(tx, instagramId, sql`a.instagram_id = ${instagramId}`);
}
