import { and, eq, sql } from 'drizzle-orm';
import type { DbOrTx, Tx } from '../db/client.ts';
import { media, type MediaRow } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { formatInstant } from '../lib/time.ts';
import type { ListMediaInput, MediaOutput } from './schemas.ts';
import { mediaUrl } from './urls.ts';

/** An upload no post uses is removed this long after it arrived. */
export const UPLOAD_LIFETIME_MS = 7 * 86_400_000;

export function toMediaOutput(row: MediaRow, publicUrl: string): MediaOutput {
  return {
    id: row.id,
    url: mediaUrl(publicUrl, row.id, row.ext),
    content_type: row.contentType,
    width: row.width,
    height: row.height,
    size: row.size ?? 0,
    duration_ms: row.durationMs,
    created_at: formatInstant(row.createdAt),
    expires_at: formatInstant(row.expiresAt),
  };
}

/** A finished upload of the caller's (an unfinished one is nobody's yet). */
async function ownedMedia(db: DbOrTx, ownerId: number, id: string, lock?: 'update'): Promise<MediaRow> {
  const query = db
    .select()
    .from(media)
    .where(and(eq(media.id, id), eq(media.ownerId, ownerId), sql`${media.size} is not null`));
  const [row] = lock ? await query.for(lock) : await query;
  if (!row) throw new AppError('MEDIA_NOT_FOUND');
  return row;
}

export async function getMedia(db: DbOrTx, ownerId: number, id: string, publicUrl: string) {
  return toMediaOutput(await ownedMedia(db, ownerId, id), publicUrl);
}

const encodeCursor = (row: MediaRow) =>
  Buffer.from(`m:${row.createdAt.getTime()}:${row.id}`).toString('base64url');

function decodeCursor(cursor: string): { at: Date; id: string } {
  const match = /^m:(\d{1,16}):([A-Za-z0-9_-]{24})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match)
    throw new AppError('VALIDATION_FAILED', undefined, {
      issues: [{ path: 'cursor', message: 'cursor must be a next_cursor returned by this API' }],
    });
  return { at: new Date(Number(match[1])), id: match[2]! };
}

/** Newest first; the cursor is (created_at, id), stable while files come and go. */
export async function listMedia(db: DbOrTx, ownerId: number, input: ListMediaInput, publicUrl: string) {
  const after = input.cursor ? decodeCursor(input.cursor) : null;
  const rows = await db
    .select()
    .from(media)
    .where(
      and(
        eq(media.ownerId, ownerId),
        sql`${media.size} is not null`,
        after
          ? sql`(${media.createdAt}, ${media.id}) < (${after.at.toISOString()}::timestamptz, ${after.id})`
          : undefined,
      ),
    )
    .orderBy(sql`${media.createdAt} desc, ${media.id} desc`)
    .limit(input.limit + 1);
  const page = rows.slice(0, input.limit);
  return {
    items: page.map((row) => toMediaOutput(row, publicUrl)),
    next_cursor: rows.length > input.limit ? encodeCursor(page.at(-1)!) : null,
  };
}

/** How many waiting posts (scheduled or publishing) use the upload. */
export async function waitingPostsUsing(tx: DbOrTx, id: string): Promise<number> {
  const [row] = await tx.execute<{ count: number }>(sql`
    select count(*)::int as count from post_media pm join posts p on p.id = pm.post_id
    where pm.media_id = ${id} and p.status in ('scheduled', 'publishing')`);
  return row!.count;
}

/**
 * Refused while a waiting post uses the file. The row lock comes first: a post
 * being given the file holds a key-share lock on it until it commits, so the
 * count below, a statement of its own, sees that post.
 */
export async function deleteMedia(
  tx: Tx,
  ownerId: number,
  id: string,
): Promise<{ id: string; deleted: true }> {
  await ownedMedia(tx, ownerId, id, 'update');
  const waiting = await waitingPostsUsing(tx, id);
  if (waiting > 0)
    throw new AppError(
      'MEDIA_IN_USE',
      `${waiting === 1 ? 'A post' : `${waiting} posts`} waiting to be published ${waiting === 1 ? 'uses' : 'use'} this upload; delete or change ${waiting === 1 ? 'it' : 'them'} first.`,
    );
  await tx.delete(media).where(eq(media.id, id));
  return { id, deleted: true };
}

/** Refuses a file of `size` bytes that would take the owner past `quota` (uploads other than `exceptId` counted). */
export async function checkQuota(
  db: DbOrTx,
  opts: { ownerId: number; size: number; quota: number; exceptId?: string },
): Promise<void> {
  const { ownerId, size, quota } = opts;
  const [row] = await db.execute<{ used: string }>(sql`
    select coalesce(sum(size), 0)::text as used from media
    where owner_id = ${ownerId} and size is not null and id <> ${opts.exceptId ?? ''}`);
  const used = Number(row!.used);
  if (used + size > quota)
    throw new AppError(
      'MEDIA_QUOTA_EXCEEDED',
      `This file (${megabytes(size)}) does not fit: your uploads take ${megabytes(used)} of ${megabytes(quota)}; delete some first.`,
    );
}

/**
 * checkQuota under a per-owner transaction lock, so two uploads finishing at
 * once cannot both fit in the room for one.
 */
export async function assertQuota(
  tx: Tx,
  ownerId: number,
  id: string,
  size: number,
  quota: number,
): Promise<void> {
  await tx.execute(
    sql`select pg_advisory_xact_lock(hashtextextended('media_quota:' || ${ownerId}::text, 0))`,
  );
  await checkQuota(tx, { ownerId, size, quota, exceptId: id });
}

const megabytes = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;
