/**
 * The Graph calls of a run that depend on what is published: which container
 * a post needs, whether Meta must process it before publishing, and how a
 * published media is found again. New kinds of media (carousel children,
 * stories, reel options) are added here; the run's never-twice logic in
 * run.ts does not change with them.
 */
import { asc, eq } from 'drizzle-orm';
import { postUserTags, type PostRow } from '../db/schema.ts';
import type { PublishRun } from './run.ts';

/** Makes the post's media container and returns its id (the caller stores it at once). */
export async function createContainer(run: PublishRun): Promise<string> {
  const { post, deps } = run;
  const userTags = await deps.db
    .select({ username: postUserTags.username, x: postUserTags.x, y: postUserTags.y })
    .from(postUserTags)
    .where(eq(postUserTags.postId, post.id))
    .orderBy(asc(postUserTags.position));
  // Each kind's own Graph parameters are chosen in containerForm (graph-client.ts).
  return run.graph.createContainer(post.igUserId, run.token, {
    contentType: post.contentType,
    placement: post.placement,
    url: post.url,
    caption: post.caption,
    locationId: post.locationId,
    thumbOffset: post.thumbOffset,
    userTags,
    altText: post.altText,
    collaborators: post.collaborators,
    coverUrl: post.coverUrl,
    shareToFeed: post.shareToFeed,
    audioName: post.audioName,
    trialReel: post.trialReel,
  });
}

/** Meta processes videos after the container is made; publishing waits for FINISHED. */
export function needsProcessing(post: PostRow): boolean {
  return post.contentType === 'Video';
}

/**
 * The media a run published, with its permalink. `mediaId` is null when the
 * container says PUBLISHED but the answer with the id was lost: the media is
 * then looked for among the account's recent ones, by caption and time.
 */
export async function findPublishedMedia(
  run: PublishRun,
  mediaId: string | null,
): Promise<{ mediaId: string | null; permalink: string | null; publishedAt: Date | null }> {
  const { graph } = run;
  if (mediaId) {
    const media = await graph.media(mediaId, run.token);
    return { mediaId, permalink: media.permalink, publishedAt: media.timestamp };
  }
  const since = (run.post.publishRequestedAt?.getTime() ?? 0) - 60_000;
  const recent = await graph.recentMedia(run.post.igUserId, run.token, 25);
  const match = recent
    .filter(
      (m) => (m.timestamp?.getTime() ?? 0) >= since && (m.caption ?? null) === (run.post.caption ?? null),
    )
    .at(-1);
  return match
    ? { mediaId: match.id, permalink: match.permalink, publishedAt: match.timestamp }
    : { mediaId: null, permalink: null, publishedAt: null };
}
