/**
 * The `poll_comments` job, for accounts whose comments do not come by
 * webhook (the server has no verify token or app secret, or Meta did not
 * confirm `subscribed_apps`): while the account has started channels, its
 * recent media's comments are read every COMMENT_POLL_INTERVAL and stored
 * like a webhook's: the newest post's first page every round, the others
 * only when their `comments_count` changed.
 * Meta's rate-limit headers set the pace: past 75 % of the allowance the
 * interval doubles, past 90 % (or when Meta says to wait) the round stops
 * and the next waits four intervals or Meta's estimate, whichever is longer.
 */
import { eq, sql } from 'drizzle-orm';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import type { Db } from '../db/client.ts';
import { instagrams } from '../db/schema.ts';
import type { GraphClient, GraphComment } from '../graph/graph-client.ts';
import type { MetaClient } from '../instagrams/meta.ts';
import { suspectInstagram } from '../instagrams/service.ts';
import { suspicionOf } from '../instagrams/suspicion.ts';
import { openAccountToken } from '../instagrams/token.ts';
import { schedulePoll } from '../jobs/poll-comments.ts';
import { describeError, type Logger } from '../logger.ts';
import { actionOf } from '../graph/errors.ts';
import { storable, storeComments, type IncomingComment } from './intake.ts';
import type { CommentPollState } from '../db/columns.ts';
import type { ChannelWorkerOptions } from './types.ts';
import { handle } from '../jobs/job.ts';
import { pollCommentsJob } from '../jobs/poll-comments.ts';

/** Recent media looked at each round, and comment pages read per media at most. */
const RECENT_MEDIA = 10;
const MAX_PAGES = 4;
/** Usage (percent) past which polling slows down, and past which it stops for a while. */
export const SLOW_AT = 75;
export const STOP_AT = 90;

export interface PollDeps {
  db: Db;
  meta: MetaClient;
  cipher: TokenCipher;
  logger: Logger;
  channels: Pick<ChannelWorkerOptions, 'pollIntervalS' | 'webhooksConfigured'>;
}

/** The next interval from what Meta's headers said. */
export function nextInterval(baseS: number, usage: { percent: number; regainMinutes: number }): number {
  if (usage.percent >= STOP_AT || usage.regainMinutes > 0)
    return Math.max(baseS * 4, usage.regainMinutes * 60);
  if (usage.percent >= SLOW_AT) return baseS * 2;
  return baseS;
}

function incoming(igUserId: string, mediaId: string, c: GraphComment): IncomingComment {
  return {
    ig_user_id: igUserId,
    comment_id: c.id,
    media_id: mediaId,
    parent_id: c.parentId,
    from_id: c.fromId,
    username: c.username === null ? null : storable(c.username),
    text: storable(c.text),
    own: c.fromId === igUserId,
    commented_at: (c.timestamp ?? new Date()).toISOString(),
  };
}

/** Reads what changed since the last round; stops early when Meta's usage gets high. */
async function readRound(
  graph: GraphClient,
  token: string,
  account: { igUserId: string; since: Date },
  counts: Record<string, number>,
): Promise<{ comments: IncomingComment[]; counts: Record<string, number>; stopped: boolean }> {
  const comments: IncomingComment[] = [];
  const next: Record<string, number> = {};
  const tooBusy = () => {
    const u = graph.usage(account.igUserId);
    return u.percent >= STOP_AT || u.regainMinutes > 0;
  };
  const media = await graph.mediaComments(account.igUserId, token, RECENT_MEDIA);
  for (const [i, m] of media.entries()) {
    // The newest post is read every round: a comment deleted and another added leave its count equal.
    if (i > 0 && counts[m.id] === m.commentsCount) {
      next[m.id] = m.commentsCount;
      continue;
    }
    if (tooBusy()) {
      // Not read this round: keep the old count so the media is read next time.
      for (const rest of media.slice(i)) if (counts[rest.id] !== undefined) next[rest.id] = counts[rest.id]!;
      return { comments, counts: next, stopped: true };
    }
    let after: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const read = await graph.commentsPage(m.id, token, after);
      comments.push(...read.comments.map((c) => incoming(account.igUserId, m.id, c)));
      // Newest first: once a page reaches back before the channels started, older pages are not needed.
      const oldest = read.comments.at(-1)?.timestamp;
      if (!read.after || (oldest && oldest < account.since)) break;
      after = read.after;
    }
    next[m.id] = m.commentsCount;
  }
  return { comments, counts: next, stopped: false };
}

export async function pollComments(deps: PollDeps, instagramId: number): Promise<void> {
  const [account] = await deps.db.select().from(instagrams).where(eq(instagrams.id, instagramId));
  if (!account || account.state !== 'start') return;
  if (deps.channels.webhooksConfigured && account.webhooksSubscribedAt !== null) return;
  const [earliest] = await deps.db.execute<{ since: Date | null }>(sql`
    select min(acting_since) as since from channels where instagram_id = ${instagramId} and state = 'start'`);
  if (!earliest?.since) return;

  const { graph, token } = openAccountToken(deps, account);
  const baseS = deps.channels.pollIntervalS;
  const state: CommentPollState = account.commentPoll ?? { counts: {}, intervalS: baseS, usage: 0 };
  let intervalS = baseS;
  try {
    const round = await readRound(
      graph,
      token,
      { igUserId: account.igUserId, since: new Date(earliest.since) },
      state.counts,
    );
    const stored = await storeComments(deps.db, round.comments, 'poll');
    const usage = graph.usage(account.igUserId);
    intervalS = nextInterval(baseS, usage);
    await deps.db
      .update(instagrams)
      .set({ commentPoll: { counts: round.counts, intervalS, usage: usage.percent } })
      .where(eq(instagrams.id, instagramId));
    deps.logger.debug(
      {
        instagramId,
        read: round.comments.length,
        stored,
        usage: usage.percent,
        intervalS,
        stopped: round.stopped,
      },
      'comments polled',
    );
  } catch (error) {
    const reason = suspicionOf(error);
    if (reason) {
      // Suspected: polling stops; starting or reconnecting the account starts it again.
      await deps.db.transaction((tx) =>
        suspectInstagram(tx, instagramId, reason, { ifToken: account.tokenCiphertext }),
      );
      return;
    }
    const usage = graph.usage(account.igUserId);
    intervalS = Math.max(
      nextInterval(baseS, usage),
      actionOf(error) === 'retry_later' ? baseS * 4 : baseS * 2,
    );
    deps.logger.warn({ instagramId, ...describeError(error), intervalS }, 'comments could not be polled');
  }
  await schedulePoll(deps.db, instagramId, new Date(Date.now() + intervalS * 1000), 'replace');
}

export const pollCommentsHandler = handle(pollCommentsJob, (deps: PollDeps, { instagramId }) =>
  pollComments(deps, instagramId),
);
