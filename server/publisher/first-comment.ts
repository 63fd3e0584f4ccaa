/**
 * A published post's first comment: `POST /{media-id}/comments`, its id
 * stored. Never twice: every try is counted before Meta is asked, and a try
 * after the first reads the media's comments for our text before posting
 * again (the previous answer may have been lost). Transient failures are
 * tried again a few times; a comment that cannot be posted is a
 * `first_comment_failed` event and never turns the published post into a
 * failure.
 */
import { eq, sql } from 'drizzle-orm';
import { posts } from '../db/schema.ts';
import { scheduleFirstComment } from '../jobs/first-comment.ts';
import { appendEvent } from '../posts/events.ts';
import { actionOf, errorOf } from '../graph/errors.ts';
import { credentialsOf } from './run.ts';
import type { PublisherDeps } from './types.ts';
import { handle } from '../jobs/job.ts';
import { firstCommentJob } from '../jobs/first-comment.ts';

/** Tries in all, and the wait after each failed one: 5 s, 30 s, 3 min. */
const RETRY_DELAYS_MS = [5_000, 30_000, 180_000];

type FirstCommentDeps = Pick<PublisherDeps, 'db' | 'meta' | 'cipher' | 'logger'> & {
  /** The waits between tries; tests shorten them. */
  firstCommentRetryDelaysMs?: number[];
};

export async function postFirstComment(deps: FirstCommentDeps, postId: number): Promise<void> {
  const [post] = await deps.db.select().from(posts).where(eq(posts.id, postId));
  if (!post || post.status !== 'published' || !post.firstComment || post.firstCommentId) return;
  if (!post.mediaId) {
    // Published, but Meta's answer with the media id was lost and the media was not found again.
    await appendEvent(deps.db, postId, {
      type: 'first_comment_failed',
      message:
        'The post is published, but its media id is unknown, so its first comment could not be posted.',
    });
    return;
  }
  const delays = deps.firstCommentRetryDelaysMs ?? RETRY_DELAYS_MS;
  const { db } = deps;
  const text = post.firstComment;
  const mediaId = post.mediaId;

  // Counted before Meta hears of it: from the second try on, a lost answer is looked for first.
  const [counted] = await db
    .update(posts)
    .set({ firstCommentAttempts: sql`${posts.firstCommentAttempts} + 1` })
    .where(eq(posts.id, postId))
    .returning({ attempts: posts.firstCommentAttempts });
  const attempts = counted!.attempts;

  const record = (commentId: string) =>
    db.transaction(async (tx) => {
      await tx.update(posts).set({ firstCommentId: commentId }).where(eq(posts.id, postId));
      await appendEvent(tx, postId, {
        type: 'first_comment_posted',
        message: `First comment posted (${commentId}).`,
      });
    });

  try {
    const credentials = await credentialsOf(deps, post);
    if (!credentials) throw new Error('The post has no token any more.');
    const { graph, token } = credentials;
    if (attempts > 1) {
      const ours = (await graph.comments(mediaId, token)).find((c) => c.text === text);
      if (ours) return await record(ours.id);
    }
    return await record(await graph.comment(mediaId, token, text));
  } catch (error) {
    const action = actionOf(error);
    const transient = action === 'retry' || action === 'retry_later';
    if (transient && attempts <= delays.length) {
      deps.logger.warn(
        { postId, attempts, err: errorOf(error) },
        'first comment not posted yet; trying again',
      );
      await scheduleFirstComment(db, postId, new Date(Date.now() + delays[attempts - 1]!));
      return;
    }
    const postError = errorOf(error);
    await appendEvent(db, postId, {
      type: 'first_comment_failed',
      message: `The post is published, but its first comment could not be posted: ${postError.message}`,
      error: postError,
    });
  }
}

export const firstCommentHandler = handle(firstCommentJob, (deps: FirstCommentDeps, { postId }) =>
  postFirstComment(deps, postId),
);
