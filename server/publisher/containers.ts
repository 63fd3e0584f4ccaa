/**
 * The Graph calls of a run that depend on what is published: the post's
 * container (and its items' first, for kinds that have them), made with the
 * form its kind gives (server/kinds/), and how a published media is found
 * again. The run's never-twice logic in run.ts does not change with kinds.
 */
import { asc, eq } from 'drizzle-orm';
import { postChildren, postUserTags, type PostChildRow, type PostRow } from '../db/schema.ts';
import { GraphError, isMediaDownloadError, MediaUnreachableError } from '../graph/errors.ts';
import { probeAll } from '../media/post-media.ts';
import { unreachableMessage } from '../media/preflight.ts';
import { uploadOf } from '../media/urls.ts';
import { carouselItemForm } from '../kinds/carousel.ts';
import { kindOf } from '../kinds/index.ts';
import type { PostKind } from '../kinds/kind.ts';
import type { PublishRun } from './types.ts';
import { forgetChildContainer, recordChildContainer } from './transitions.ts';

/**
 * Right before a container (MEDIA_PREFLIGHT=enforce): the media URLs that
 * are not our uploads are fetched once more; one that does not answer is a
 * transient failure naming the URL, retried with backoff.
 */
async function assertReachable(run: PublishRun, urls: (string | null)[]): Promise<void> {
  const media = run.deps.media;
  if (!media || media.mode !== 'enforce') return;
  const external = urls.filter((u): u is string => !!u && uploadOf(media.publicUrl, u) === null);
  if (external.length === 0) return;
  const probes = await probeAll(external, { allowPrivate: media.allowPrivate, resolver: media.resolver });
  for (const [url, probe] of probes)
    if (!probe.reachable) throw new MediaUnreachableError(unreachableMessage(url, probe.problem));
}

/** Makes a container; Meta's "could not fetch" errors say which URL. */
async function creating(
  run: PublishRun,
  urls: (string | null)[],
  make: () => Promise<string>,
): Promise<string> {
  await assertReachable(run, urls);
  try {
    return await make();
  } catch (error) {
    if (isMediaDownloadError(error))
      error.userMessage = `${error.userMessage} (${urls.filter(Boolean).join(', ')})`;
    throw error;
  }
}

async function childrenOf(run: PublishRun): Promise<PostChildRow[]> {
  return run.deps.db
    .select()
    .from(postChildren)
    .where(eq(postChildren.postId, run.post.id))
    .orderBy(asc(postChildren.position));
}

/**
 * A carousel's items: each container made once and stored at once (a crash
 * or a retry reuses it), then each video item checked. Returns when the
 * oldest unfinished item was made, or null when all are ready for the
 * carousel container.
 */
export async function prepareCarouselItems(run: PublishRun): Promise<Date | null> {
  const { post, graph, token } = run;
  const children = await childrenOf(run);
  for (const child of children) {
    if (child.creationId) continue;
    const id = await creating(run, [child.url], () =>
      graph.createContainer(
        post.igUserId,
        token,
        carouselItemForm({
          contentType: child.contentType,
          url: child.url,
          altText: child.altText,
          userTags: child.userTags,
        }),
      ),
    );
    child.containerCreatedAt = await recordChildContainer(run, child.position, id);
    child.creationId = id;
  }
  let waitingSince: Date | null = null;
  for (const child of children) {
    // Photos are ready at once; videos are processed like reels.
    if (child.contentType !== 'Video') continue;
    const status = await graph.containerStatus(child.creationId!, token);
    if (status.statusCode === 'FINISHED') continue;
    if (status.statusCode === 'IN_PROGRESS') {
      const since = child.containerCreatedAt ?? new Date();
      if (!waitingSince || since < waitingSince) waitingSince = since;
      continue;
    }
    // EXPIRED or ERROR: that item gets a new container on the next try.
    await forgetChildContainer(run, child.position);
    const subcode = Number(/(\d{7})/.exec(status.status ?? '')?.[1] ?? NaN);
    throw new GraphError({
      httpStatus: null,
      code: status.statusCode === 'EXPIRED' ? -2 : 1,
      subcode: Number.isNaN(subcode) ? (status.statusCode === 'EXPIRED' ? 2207020 : 2207001) : subcode,
      isTransient: false,
      type: null,
      fbtraceId: null,
      message: `Carousel item ${child.position + 1}'s container is ${status.statusCode}.`,
    });
  }
  return waitingSince;
}

/** The post's kind: what its container is made of, and whether Meta processes it first. */
export function kindOfPost(post: PostRow): PostKind {
  return kindOf(post.contentType, post.placement);
}

/** Makes the post's media container and returns its id (the caller stores it at once). */
export async function createContainer(run: PublishRun): Promise<string> {
  const { post, deps } = run;
  const kind = kindOfPost(post);
  // A post with items names their containers; otherwise its own media carries the user tags.
  const childIds = kind.hasItems ? (await childrenOf(run)).map((c) => c.creationId!) : [];
  const userTags = kind.hasItems
    ? []
    : await deps.db
        .select({ username: postUserTags.username, x: postUserTags.x, y: postUserTags.y })
        .from(postUserTags)
        .where(eq(postUserTags.postId, post.id))
        .orderBy(asc(postUserTags.position));
  const form = kind.containerForm({
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
    childIds,
  });
  const make = () => run.graph.createContainer(post.igUserId, run.token, form);
  // Items' media were checked when each item's container was made.
  return kind.hasItems ? make() : creating(run, [post.url, post.coverUrl], make);
}

/** Meta processes videos after the container is made; publishing waits for FINISHED (a carousel's items were waited for). */
export function needsProcessing(post: PostRow): boolean {
  return kindOfPost(post).processedFirst(post.contentType);
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
