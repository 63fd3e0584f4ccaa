import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../db/client.ts';
import { rowMapper } from '../db/rows.ts';
import { instagrams, postChildren, postEvents, posts, postUserTags, type PostRow } from '../db/schema.ts';
import { arrayLiteral } from '../db/sql.ts';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import { AppError } from '../errors.ts';
import { decodeIdCursor, encodeIdCursor } from '../lib/cursor.ts';
import { schedulePublishJob, unschedulePublishJob } from '../jobs/publish-post.ts';
import { formatInstant, formatInstantOrNull } from '../lib/time.ts';
import { checkPostMedia, linkPostMedia, type MediaCheck } from '../media/post-media.ts';
import { appendEvent, eventInsert } from './events.ts';
import { mergeEdit } from './merge.ts';
import { toPostErrorOutput } from './post-error.ts';
import { assertBelowScheduledCap, assertWithinPublishLimit, type WaitingCounts } from './publish-limit.ts';
import { crossFieldIssues } from './rules.ts';
import { KINDS, kindOf } from '../kinds/index.ts';
import type {
  CreatePostInput,
  ListPostsInput,
  PostOutput,
  ReplacePostInput,
  UpdatePostInput,
} from './schemas.ts';

type TagRow = Pick<typeof postUserTags.$inferSelect, 'username' | 'x' | 'y'>;
type TagInput = NonNullable<CreatePostInput['user_tags']>;

export interface PostDeps {
  cipher: TokenCipher;
  /** PUBLISH_LIMIT_PER_24H */
  publishLimit: number;
  /** MAX_SCHEDULED_POSTS */
  maxScheduled: number;
  /** This process's recent counts of each user's waiting posts. */
  waitingCounts: WaitingCounts;
  /** The post's uploads and pre-flight results (server/media/post-media.ts); skipped when absent. */
  media?: MediaCheck;
  now?: Date;
}

type ChildOutput = PostOutput['children'][number];

function toPostOutput(row: PostRow, tags: TagRow[], children: ChildOutput[] = []): PostOutput {
  return {
    id: row.id,
    user_id: row.igUserId,
    instagram_id: row.instagramId,
    content_type: row.contentType,
    url: row.url,
    children,
    caption: row.caption,
    location_id: row.locationId,
    user_tags: tags.map((t) => ({ username: t.username, x: t.x, y: t.y })),
    thumb_offset: row.thumbOffset,
    placement: row.placement,
    alt_text: row.altText,
    collaborators: row.collaborators,
    cover_url: row.coverUrl,
    // A reel is shared to the grid unless the user said otherwise.
    share_to_feed: kindOf(row.contentType, row.placement) === KINDS.reel ? (row.shareToFeed ?? true) : null,
    audio_name: row.audioName,
    trial_reel: row.trialReel,
    first_comment: row.firstComment,
    first_comment_id: row.firstCommentId,
    date_pub: formatInstant(row.datePub),
    status: row.status,
    creation_id: row.creationId,
    media_id: row.mediaId,
    permalink: row.permalink,
    error: toPostErrorOutput(row.lastError),
    attempts: row.attempts,
    published_at: formatInstantOrNull(row.publishedAt),
    created_at: formatInstant(row.createdAt),
    updated_at: formatInstant(row.updatedAt),
  };
}

/** Instants are kept to the whole second, the precision the API shows, so the job runs at exactly the time shown. */
function wholeSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/** Absent, null or past means "as soon as possible", which is stored as now. */
function resolveDatePub(datePub: string | null | undefined, now: Date): Date {
  const at = datePub ? new Date(datePub) : now;
  return wholeSecond(at.getTime() < now.getTime() ? now : at);
}

async function tagsByPost(db: DbOrTx, postIds: number[]): Promise<Map<number, TagRow[]>> {
  const map = new Map<number, TagRow[]>(postIds.map((id) => [id, []]));
  if (postIds.length === 0) return map;
  const rows = await db.execute<{
    post_id: string;
    username: string;
    x: number | null;
    y: number | null;
  }>(sql`
    select post_id, username, x, y from post_user_tags
    where post_id = any(${arrayLiteral(postIds)}::bigint[]) order by post_id, position`);
  for (const row of rows) map.get(Number(row.post_id))!.push({ username: row.username, x: row.x, y: row.y });
  return map;
}

async function writeTags(tx: Tx, postId: number, tags: TagInput, replace: boolean): Promise<TagRow[]> {
  if (replace) await tx.delete(postUserTags).where(eq(postUserTags.postId, postId));
  const rows = tags.map((t, position) => ({
    postId,
    position,
    username: t.username,
    x: t.x ?? null,
    y: t.y ?? null,
  }));
  if (rows.length > 0) await tx.insert(postUserTags).values(rows);
  return rows;
}

const toPostRow = rowMapper(posts);

type ChildInput = NonNullable<CreatePostInput['children']>[number];

/** A carousel's items in order; replacing them forgets their containers (the content changed). */
async function writeChildren(
  tx: Tx,
  postId: number,
  children: ChildInput[],
  replace: boolean,
): Promise<ChildOutput[]> {
  if (replace) await tx.delete(postChildren).where(eq(postChildren.postId, postId));
  const rows = children.map((c, position) => ({
    postId,
    position,
    contentType: c.content_type,
    url: c.url,
    altText: c.alt_text ?? null,
    userTags: (c.user_tags ?? []).map((t) => ({ username: t.username, x: t.x ?? null, y: t.y ?? null })),
  }));
  if (rows.length > 0) await tx.insert(postChildren).values(rows);
  return rows.map((r) => ({
    content_type: r.contentType,
    url: r.url,
    user_tags: r.userTags,
    alt_text: r.altText,
    creation_id: null,
  }));
}

/**
 * The caller's account a post names, share-locked until the transaction ends
 * so it cannot be deleted under the post (a delete counts waiting posts).
 */
async function accountForPost(tx: Tx, ownerId: number, instagramId: number): Promise<{ igUserId: string }> {
  const [account] = await tx
    .select({ igUserId: instagrams.igUserId })
    .from(instagrams)
    .where(and(eq(instagrams.id, instagramId), eq(instagrams.ownerId, ownerId)))
    .for('share');
  if (!account)
    throw new AppError('INSTAGRAM_NOT_FOUND', `No Instagram account ${instagramId} is connected.`);
  return account;
}

export async function createPost(
  tx: Tx,
  ownerId: number,
  input: CreatePostInput,
  deps: PostDeps,
): Promise<PostOutput> {
  const now = deps.now ?? new Date();
  const datePub = resolveDatePub(input.date_pub, now);
  // The schema guarantees one form: an account, or user_id + token.
  const instagramId = input.instagram_id ?? null;
  const igUserId =
    instagramId !== null ? (await accountForPost(tx, ownerId, instagramId)).igUserId : input.user_id!;
  await assertBelowScheduledCap(tx, { ownerId, max: deps.maxScheduled, counts: deps.waitingCounts });
  await assertWithinPublishLimit(tx, { igUserId, at: datePub, limit: deps.publishLimit });
  const media = deps.media ? await checkPostMedia(tx, ownerId, input, deps.media) : null;
  const sealed = input.token !== undefined ? deps.cipher.seal(input.token) : null;
  // Plain SQL on this hot path: drizzle's builders cost more CPU than the statements (bench/REPORT.md).
  const [row] = await tx.execute(sql`
    insert into posts (owner_id, ig_user_id, instagram_id, content_type, url, caption, location_id, thumb_offset,
                       placement, alt_text, collaborators, cover_url, share_to_feed, audio_name, trial_reel, first_comment,
                       token_key_id, token_ciphertext, date_pub, created_at, updated_at)
    values (${ownerId}, ${igUserId}, ${instagramId}, ${input.content_type}, ${input.url ?? null}, ${input.caption ?? null},
            ${input.location_id ?? null}, ${input.thumb_offset ?? null}, ${input.placement ?? 'feed'},
            ${input.alt_text ?? null}, ${arrayLiteral(input.collaborators ?? [])}::text[], ${input.cover_url ?? null},
            ${input.share_to_feed ?? null}, ${input.audio_name ?? null}, ${input.trial_reel ?? null},
            ${input.first_comment ?? null},
            ${sealed?.keyId ?? null}, ${sealed?.ciphertext ?? null},
            ${datePub.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz)
    returning *`);
  const post = toPostRow(row!);
  const tags = await writeTags(tx, post.id, input.user_tags ?? [], false);
  const children = kindOf(input.content_type).hasItems
    ? await writeChildren(tx, post.id, input.children ?? [], false)
    : [];
  if (media) await recordPostMedia(tx, post.id, media, false);
  await schedulePublishJob(tx, {
    postId: post.id,
    runAt: datePub,
    event: eventInsert(post.id, {
      type: 'created',
      message: `Scheduled for ${formatInstant(datePub)}.`,
      datePub,
    }),
  });
  return toPostOutput(post, tags, children);
}

/**
 * Posts with their tags in one round trip (reads are the hot path; see
 * bench/REPORT.md). `filter` is a condition on `p`.
 */
async function selectPosts(db: DbOrTx, filter: SQL, limit: number): Promise<PostOutput[]> {
  const rows = await db.execute<
    Record<string, unknown> & { user_tags: TagRow[]; children: ChildOutput[] }
  >(sql`
    select p.*, (
      select coalesce(json_agg(json_build_object('username', t.username, 'x', t.x, 'y', t.y) order by t.position), '[]'::json)
      from post_user_tags t where t.post_id = p.id
    ) as user_tags,
    case when p.content_type = 'Carousel' then (
      select coalesce(json_agg(json_build_object('content_type', c.content_type, 'url', c.url, 'user_tags', c.user_tags,
                                                 'alt_text', c.alt_text, 'creation_id', c.creation_id) order by c.position), '[]'::json)
      from post_children c where c.post_id = p.id
    ) else '[]'::json end as children
    from posts p where ${filter} order by p.id desc limit ${limit}`);
  return rows.map((row) => toPostOutput(toPostRow(row), row.user_tags, row.children));
}

export async function getPost(db: DbOrTx, ownerId: number, id: number): Promise<PostOutput> {
  const [post] = await selectPosts(db, sql`p.id = ${id} and p.owner_id = ${ownerId}`, 1);
  // Another user's post is "not found": its existence is not theirs to learn.
  if (!post) throw new AppError('POST_NOT_FOUND');
  return post;
}

/** Newest first, by id: stable while posts are added, edited or deleted between pages. */
export async function listPosts(
  db: DbOrTx,
  ownerId: number,
  input: ListPostsInput,
): Promise<{ items: PostOutput[]; next_cursor: string | null }> {
  const filters = [
    sql`p.owner_id = ${ownerId}`,
    input.user_id ? sql`p.ig_user_id = ${input.user_id}` : undefined,
    input.instagram_id ? sql`p.instagram_id = ${input.instagram_id}` : undefined,
    input.status ? sql`p.status = ${input.status}` : undefined,
    input.cursor ? sql`p.id < ${decodeIdCursor('p', input.cursor)}` : undefined,
  ].filter((f) => f !== undefined);
  const rows = await selectPosts(db, sql.join(filters, sql` and `), input.limit + 1);
  const page = rows.slice(0, input.limit);
  return {
    items: page,
    next_cursor: rows.length > input.limit ? encodeIdCursor('p', page.at(-1)!.id) : null,
  };
}

/** Locks the caller's post for the rest of the transaction. */
async function lockPost(tx: Tx, ownerId: number, id: number): Promise<PostRow> {
  const [row] = await tx
    .select()
    .from(posts)
    .where(and(eq(posts.id, id), eq(posts.ownerId, ownerId)))
    .for('update');
  if (!row) throw new AppError('POST_NOT_FOUND');
  return row;
}

function assertEditable(row: PostRow): void {
  // Held after asking Meta to publish, with no answer: it may be live. The run reads the container first.
  if (row.publishRequestedAt && row.status === 'scheduled')
    throw new AppError(
      'POST_NOT_EDITABLE',
      'Meta was asked to publish this post and has not said whether it did; it can change once that is known.',
    );
  if (row.status === 'publishing' || row.status === 'published') {
    throw new AppError(
      'POST_NOT_EDITABLE',
      row.status === 'publishing'
        ? 'The post is being published right now and can no longer change.'
        : 'The post has been published and can no longer change.',
    );
  }
}

/**
 * PATCH (only the fields given) and PUT (every field; absent optional ones
 * are cleared). A failed post that is edited is scheduled again.
 */
export async function updatePost(
  tx: Tx,
  ownerId: number,
  edit: { input: UpdatePostInput | ReplacePostInput; mode: 'patch' | 'replace' },
  deps: PostDeps,
): Promise<PostOutput> {
  const { input } = edit;
  const now = deps.now ?? new Date();
  const current = await lockPost(tx, ownerId, input.id);
  assertEditable(current);
  const currentTags = (await tagsByPost(tx, [current.id])).get(current.id)!;
  const currentChildren = await tx
    .select()
    .from(postChildren)
    .where(eq(postChildren.postId, current.id))
    .orderBy(asc(postChildren.position));
  const merged = mergeEdit(
    {
      children: currentChildren.map((c) => ({
        content_type: c.contentType,
        url: c.url,
        user_tags: c.userTags,
        alt_text: c.altText,
      })),
      instagram_id: current.instagramId,
      user_id: current.igUserId,
      content_type: current.contentType,
      url: current.url,
      caption: current.caption,
      location_id: current.locationId,
      thumb_offset: current.thumbOffset,
      user_tags: currentTags,
      placement: current.placement,
      alt_text: current.altText,
      collaborators: current.collaborators,
      cover_url: current.coverUrl,
      share_to_feed: current.shareToFeed,
      audio_name: current.audioName,
      trial_reel: current.trialReel,
      first_comment: current.firstComment,
    },
    input,
    edit.mode,
  );
  const { content, changed, datePubGiven } = merged;
  const issues = [...merged.issues, ...crossFieldIssues(content)];
  // A post whose account was disconnected (its failed copy stays) needs a new way to publish.
  if (content.instagram_id === null && current.tokenCiphertext === null && input.token === undefined)
    issues.push({
      path: 'instagram_id',
      message: 'the post’s account was disconnected: send instagram_id, or user_id with token',
    });
  if (issues.length > 0) throw new AppError('VALIDATION_FAILED', undefined, { issues });
  if (content.instagram_id !== null)
    content.user_id = (await accountForPost(tx, ownerId, content.instagram_id)).igUserId;
  const media = deps.media ? await checkPostMedia(tx, ownerId, content, deps.media) : null;

  const wasFailed = current.status === 'failed';
  let datePub = datePubGiven ? resolveDatePub(input.date_pub, now) : current.datePub;
  // A failed post whose time has passed goes out as soon as possible.
  if (wasFailed && datePub.getTime() < now.getTime()) datePub = wholeSecond(now);
  const moved = datePub.getTime() !== current.datePub.getTime();
  // A failed post joins the waiting posts again.
  if (wasFailed)
    await assertBelowScheduledCap(tx, {
      ownerId,
      max: deps.maxScheduled,
      counts: deps.waitingCounts,
      excludePostId: current.id,
    });
  if (moved || wasFailed || content.user_id !== current.igUserId) {
    await assertWithinPublishLimit(tx, {
      igUserId: content.user_id,
      at: datePub,
      limit: deps.publishLimit,
      excludePostId: current.id,
    });
  }

  const sealed = input.token !== undefined ? deps.cipher.seal(input.token) : undefined;
  const [row] = await tx
    .update(posts)
    .set({
      igUserId: content.user_id,
      instagramId: content.instagram_id,
      // A post that names an account keeps no token of its own.
      ...(content.instagram_id !== null ? { tokenKeyId: null, tokenCiphertext: null } : {}),
      contentType: content.content_type,
      url: content.url,
      caption: content.caption,
      locationId: content.location_id,
      thumbOffset: content.thumb_offset,
      placement: content.placement,
      altText: content.alt_text,
      collaborators: content.collaborators,
      coverUrl: content.cover_url,
      shareToFeed: content.share_to_feed,
      audioName: content.audio_name,
      trialReel: content.trial_reel,
      firstComment: content.first_comment,
      ...(sealed ? { tokenKeyId: sealed.keyId, tokenCiphertext: sealed.ciphertext } : {}),
      datePub,
      updatedAt: now,
      // A container made before the edit (a post waiting for quota has one) shows the old content.
      creationId: null,
      containerCreatedAt: null,
      publishRequestedAt: null,
      publishInflightUntil: null,
      // Editing a failed post schedules it again.
      ...(wasFailed ? { status: 'scheduled' as const, lastError: null, attempts: 0 } : {}),
    })
    .where(eq(posts.id, current.id))
    .returning();
  const tags =
    content.user_tags === currentTags
      ? currentTags
      : await writeTags(tx, current.id, content.user_tags, true);

  if (changed.length > 0 || !moved)
    await appendEvent(tx, current.id, {
      type: 'updated',
      message: changed.length > 0 ? `Changed ${changed.join(', ')}.` : 'Saved with no changes.',
    });
  await schedulePublishJob(tx, {
    postId: current.id,
    runAt: datePub,
    event:
      moved || wasFailed
        ? eventInsert(current.id, {
            type: 'rescheduled',
            message: wasFailed
              ? `Scheduled again for ${formatInstant(datePub)}.`
              : `Moved to ${formatInstant(datePub)}.`,
            datePub,
          })
        : undefined,
  });
  // Rewritten on every edit: a container made for the old post must not be reused for the new one.
  const children = await writeChildren(
    tx,
    current.id,
    kindOf(content.content_type).hasItems ? content.children : [],
    true,
  );
  if (media) await recordPostMedia(tx, current.id, media, true);
  return toPostOutput(row!, tags, children);
}

/** Which uploads the post uses, and a `media_warning` event per pre-flight problem let through (MEDIA_PREFLIGHT=warn). */
async function recordPostMedia(
  tx: Tx,
  postId: number,
  media: { uploadIds: string[]; warnings: string[] },
  replace: boolean,
): Promise<void> {
  await linkPostMedia(tx, postId, media.uploadIds, replace);
  for (const warning of media.warnings)
    await appendEvent(tx, postId, {
      type: 'media_warning',
      message: `Meta may not be able to use ${warning} (accepted because MEDIA_PREFLIGHT=warn).`,
    });
}

/** Deletes the post and its job; refused while it is being published. */
export async function deletePost(
  tx: Tx,
  ownerId: number,
  id: number,
): Promise<{ id: number; deleted: true }> {
  const current = await lockPost(tx, ownerId, id);
  if (current.status === 'publishing') {
    throw new AppError('POST_NOT_EDITABLE', 'The post is being published right now and cannot be deleted.');
  }
  await unschedulePublishJob(tx, id);
  await tx.delete(posts).where(eq(posts.id, id));
  return { id, deleted: true };
}

export async function listPostEvents(db: DbOrTx, ownerId: number, id: number) {
  const [owned] = await db
    .select({ id: posts.id })
    .from(posts)
    .where(and(eq(posts.id, id), eq(posts.ownerId, ownerId)));
  if (!owned) throw new AppError('POST_NOT_FOUND');
  const rows = await db
    .select()
    .from(postEvents)
    .where(eq(postEvents.postId, id))
    .orderBy(asc(postEvents.id));
  return {
    items: rows.map((e) => ({
      id: e.id,
      type: e.type,
      message: e.message,
      date_pub: formatInstantOrNull(e.datePub),
      error: toPostErrorOutput(e.error),
      created_at: formatInstant(e.createdAt),
    })),
  };
}
