/**
 * The `channel_action` job: one reply, private reply or hide. It runs at the
 * slot the budget gave it (queue.ts) and checks again before asking Meta:
 * the account and channel still started, the window open, the hour's budget
 * not spent (else it is planned again). Every try is counted before Meta
 * hears of it; from the second on, a lost answer is looked for first.
 * Meta's errors follow the publishing table: a token, permission or
 * restriction error makes the account suspected (posts and channels pause),
 * transient ones are tried again later, others fail the action with a
 * `channel.action_failed` webhook event.
 */
import { eq, sql } from 'drizzle-orm';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import type { Db } from '../db/client.ts';
import { channelActions, type ChannelAction } from '../db/schema.ts';
import type { GraphClient } from '../graph/graph-client.ts';
import type { MetaClient } from '../instagrams/meta.ts';
import { suspectInstagram } from '../instagrams/service.ts';
import { DEFAULT_SPEED } from '../instagrams/schemas.ts';
import { suspicionOf } from '../instagrams/suspicion.ts';
import { openAccountToken } from '../instagrams/token.ts';
import { scheduleChannelAction } from '../jobs/channel-action.ts';
import type { Logger } from '../logger.ts';
import { actionOf, errorOf, GraphError } from '../graph/errors.ts';
import { emitWebhookEvent } from '../webhooks/outbox.ts';
import { hourlyBudget, mayActNow, planSlots } from './pace.ts';
import { lockPace, planQueuedActions } from './queue.ts';
import { toActionOutput } from './service.ts';
import type { ChannelWorkerOptions } from './types.ts';
import { handle } from '../jobs/job.ts';
import { channelActionJob } from '../jobs/channel-action.ts';

const HOUR_MS = 3_600_000;
const DM_WINDOW_MS = 7 * 24 * HOUR_MS;
/** Tries that reach Meta before a transient failure becomes `failed`. */
const MAX_TRIES = 5;

export interface ActDeps {
  db: Db;
  meta: MetaClient;
  cipher: TokenCipher;
  logger: Logger;
  channels?: Pick<ChannelWorkerOptions, 'retryDelayMs'>;
  now?: () => Date;
}

interface Claimed {
  id: number;
  channelId: number;
  ownerId: number;
  instagramId: number;
  igUserId: string;
  action: ChannelAction;
  commentId: string;
  message: string | null;
  attempts: number;
  tokenKeyId: string;
  tokenCiphertext: string;
  loginType: 'instagram' | 'facebook';
}

/** Decides, under the account's pace lock, whether the action goes to Meta now; counts the try if so. */
async function claim(deps: ActDeps, actionId: number, now: Date): Promise<Claimed | null> {
  return deps.db.transaction(async (tx) => {
    const [owner] = await tx
      .select({ instagramId: channelActions.instagramId })
      .from(channelActions)
      .where(eq(channelActions.id, actionId));
    if (!owner) return null;
    // The account's pace lock before the row's (queue.ts: lockPace).
    await lockPace(tx, owner.instagramId);
    const [row] = await tx.execute<{
      id: string;
      channel_id: string;
      owner_id: string;
      instagram_id: string;
      ig_user_id: string;
      action: ChannelAction;
      comment_id: string;
      message: string | null;
      attempts: number;
      commented_at: Date;
      status: string;
      channel_state: string;
      account_state: string;
      speed: Record<string, number>;
      hours: { min: number; max: number };
      timezone: string;
      token_key_id: string;
      token_ciphertext: string;
      login_type: 'instagram' | 'facebook';
    }>(sql`
      select a.id, a.channel_id, c.owner_id, a.instagram_id, i.ig_user_id, a.action, a.comment_id, a.message,
             a.attempts, a.commented_at, a.status, c.state as channel_state, i.state as account_state,
             i.speed, i.hours, i.timezone, i.token_key_id, i.token_ciphertext, i.login_type
      from channel_actions a join channels c on c.id = a.channel_id join instagrams i on i.id = a.instagram_id
      where a.id = ${actionId} for update of a`);
    if (!row || row.status !== 'queued') return null;
    const instagramId = Number(row.instagram_id);
    if (row.account_state !== 'start' || row.channel_state !== 'start') {
      // Paused: it waits without a job until the account or channel starts again.
      await tx.update(channelActions).set({ slotAt: null }).where(eq(channelActions.id, actionId));
      return null;
    }
    if (row.action === 'dm' && now.getTime() - new Date(row.commented_at).getTime() > DM_WINDOW_MS) {
      await tx
        .update(channelActions)
        .set({
          status: 'skipped',
          slotAt: null,
          finishedAt: now,
          error: {
            code: 'DM_WINDOW_CLOSED',
            message:
              'The comment is older than 7 days: Meta allows a private reply only within 7 days of it.',
          },
        })
        .where(eq(channelActions.id, actionId));
      return null;
    }
    const speed = hourlyBudget({ ...DEFAULT_SPEED, ...row.speed }, row.action);
    const window = { hours: row.hours, timezone: row.timezone };
    // Actions Meta was asked for (done, failed, or in flight) in the last hour.
    const asked = await tx.execute<{ slot_at: Date }>(sql`
      select slot_at from channel_actions
      where instagram_id = ${instagramId} and action = ${row.action} and id <> ${actionId}
        and slot_at > ${new Date(now.getTime() - HOUR_MS).toISOString()}::timestamptz
        and (status in ('done', 'failed') or attempts > 0)`);
    const askedAt = asked.map((a) => new Date(a.slot_at));
    if (!mayActNow({ now, speed, window, asked: askedAt })) {
      // Planned again from what was really asked: the first moment the hour's budget and the window allow.
      const [slot] = planSlots({ now, speed, window, taken: askedAt }, 1);
      await tx
        .update(channelActions)
        .set({ slotAt: slot ?? null })
        .where(eq(channelActions.id, actionId));
      if (slot) await scheduleChannelAction(tx, actionId, slot);
      return null;
    }
    const [counted] = await tx
      .update(channelActions)
      .set({ attempts: sql`${channelActions.attempts} + 1`, slotAt: now })
      .where(eq(channelActions.id, actionId))
      .returning({ attempts: channelActions.attempts });
    return {
      id: actionId,
      channelId: Number(row.channel_id),
      ownerId: Number(row.owner_id),
      instagramId,
      igUserId: row.ig_user_id,
      action: row.action,
      commentId: row.comment_id,
      message: row.message,
      attempts: counted!.attempts,
      tokenKeyId: row.token_key_id,
      tokenCiphertext: row.token_ciphertext,
      loginType: row.login_type,
    };
  });
}

/** Asks Meta; after a try whose answer was lost, what Meta already did counts as done. */
async function perform(graph: GraphClient, token: string, a: Claimed): Promise<string | null> {
  switch (a.action) {
    case 'comment': {
      if (a.attempts > 1) {
        const ours = (await graph.replies(a.commentId, token)).find(
          (r) => r.fromId === a.igUserId && r.text === a.message,
        );
        if (ours) return ours.id;
      }
      return graph.reply(a.commentId, token, a.message!);
    }
    case 'dm':
      try {
        return await graph.privateReply(a.igUserId, token, a.commentId, a.message!);
      } catch (error) {
        // Meta allows one private reply per comment: on a later try, "already replied" is our earlier one.
        if (a.attempts > 1 && error instanceof GraphError && error.code === 10900) return null;
        throw error;
      }
    case 'hide':
      await graph.hideComment(a.commentId, token);
      return null;
  }
}

export async function runChannelAction(deps: ActDeps, actionId: number): Promise<void> {
  const now = deps.now?.() ?? new Date();
  const a = await claim(deps, actionId, now);
  if (!a) return;
  const log = deps.logger.child({ channelActionId: a.id, channelId: a.channelId });
  const { graph, token } = openAccountToken(deps, a);
  let resultId: string | null;
  try {
    resultId = await perform(graph, token, a);
  } catch (error) {
    await failed(deps, a, error, log);
    return;
  }
  await deps.db
    .update(channelActions)
    .set({ status: 'done', resultId, error: null, finishedAt: deps.now?.() ?? new Date() })
    .where(eq(channelActions.id, a.id));
}

async function failed(deps: ActDeps, a: Claimed, error: unknown, log: Logger): Promise<void> {
  const now = deps.now?.() ?? new Date();
  const reason = suspicionOf(error);
  const action = actionOf(error);
  const problem = errorOf(error);
  await deps.db.transaction(async (tx) => {
    if (reason) {
      // The account's fault, not the action's: it waits (unsent) for a new token, like the account's posts.
      await tx
        .update(channelActions)
        .set({ slotAt: null, attempts: sql`${channelActions.attempts} - 1` })
        .where(eq(channelActions.id, a.id));
      await suspectInstagram(tx, a.instagramId, reason, { now, ifToken: a.tokenCiphertext });
      // Meta judged a token the account no longer has: still started, the action goes back in line.
      await planQueuedActions(tx, a.instagramId, now, 'append');
      return;
    }
    if ((action === 'retry' || action === 'retry_later') && a.attempts < MAX_TRIES) {
      const first = deps.channels?.retryDelayMs ?? 30_000;
      const regain = deps.meta.graph[a.loginType].usage(a.igUserId).regainMinutes * 60_000;
      const wait = Math.max(first * 3 ** (a.attempts - 1) * (action === 'retry_later' ? 10 : 1), regain);
      log.warn({ attempts: a.attempts, err: problem }, 'channel action not done yet; trying again');
      await scheduleChannelAction(tx, a.id, new Date(now.getTime() + wait));
      return;
    }
    const [row] = await tx
      .update(channelActions)
      .set({ status: 'failed', error: { code: problem.code, message: problem.message }, finishedAt: now })
      .where(eq(channelActions.id, a.id))
      .returning();
    await emitWebhookEvent(
      tx,
      {
        ownerId: a.ownerId,
        type: 'channel.action_failed',
        data: { channel_id: a.channelId, instagram_id: a.instagramId, ...toActionOutput(row!) },
      },
      now,
    );
  });
  log.warn({ err: problem }, 'channel action failed');
}

export const channelActionHandler = handle(channelActionJob, (deps: ActDeps, { actionId }) =>
  runChannelAction(deps, actionId),
);
