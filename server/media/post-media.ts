/**
 * A post's media, checked when the post is created or changed: its uploads
 * (by their URL on this server) must exist, be the caller's and suit their
 * place; any other URL is fetched first (pre-flight, before the transaction)
 * and judged here with the same rules.
 */
import { sql } from 'drizzle-orm';
import type { Tx } from '../db/client.ts';
import { AppError, type FieldIssue } from '../errors.ts';
import { kindOf } from '../kinds/index.ts';
import type { MediaShape } from '../kinds/kind.ts';
import { publicUrlProblem } from '../net/public-address.ts';
import {
  mediaProblem,
  probeUrl,
  unreachableMessage,
  type PreflightMode,
  type PreflightOptions,
  type Probe,
} from './preflight.ts';
import { isLoopbackTestUrl, uploadOf } from './urls.ts';

export interface MediaCheck {
  publicUrl: string;
  mode: PreflightMode;
  /** MEDIA_ALLOW_PRIVATE_HOSTS: a test's media host on loopback is allowed. */
  allowPrivate: boolean;
  /** What fetching each non-upload URL the request gave learned (empty when MEDIA_PREFLIGHT=off). */
  probes: Map<string, Probe>;
}

/** The media URLs a request gives that are not uploads of this server: what pre-flight fetches. */
export function externalUrls(post: Partial<MediaShape>, publicUrl: string, allowPrivate: boolean): string[] {
  const urls = [post.url, post.cover_url, ...(post.children ?? []).map((c) => c.url)].filter(
    (u): u is string =>
      typeof u === 'string' &&
      uploadOf(publicUrl, u) === null &&
      (publicUrlProblem(u, 'url') === null || (allowPrivate && isLoopbackTestUrl(u))),
  );
  return [...new Set(urls)];
}

/** Fetches them all at once, before any transaction is open. */
export async function probeAll(urls: string[], opts: PreflightOptions): Promise<Map<string, Probe>> {
  const probes = await Promise.all(urls.map(async (url) => [url, await probeUrl(url, opts)] as const));
  return new Map(probes);
}

/**
 * Judges every media URL of the post. Throws 400 VALIDATION_FAILED for a URL
 * that is neither public nor one of our uploads, MEDIA_UNREACHABLE or
 * MEDIA_REJECTED for the rest (one issue per URL); with MEDIA_PREFLIGHT=warn,
 * pre-flight problems come back as warnings instead (uploads are always
 * checked: they are ours). Share-locks the uploads it names until the
 * transaction ends, so retention cannot remove them meanwhile.
 */
export async function checkPostMedia(
  tx: Tx,
  ownerId: number,
  post: MediaShape,
  check: MediaCheck,
): Promise<{ uploadIds: string[]; warnings: string[] }> {
  const invalid: FieldIssue[] = [];
  const unreachable: FieldIssue[] = [];
  const rejected: FieldIssue[] = [];
  const warnings: string[] = [];
  const uploadIds: string[] = [];
  const preflight = (kind: FieldIssue[], issue: FieldIssue) => {
    if (check.mode === 'warn') warnings.push(`${issue.path}: ${issue.message}`);
    else kind.push(issue);
  };
  for (const slot of kindOf(post.content_type, post.placement).slots(post)) {
    const upload = uploadOf(check.publicUrl, slot.url);
    if (upload) {
      const [row] = await tx.execute<{
        content_type: string;
        size: number;
        width: number | null;
        height: number | null;
        duration_ms: number | null;
      }>(sql`
        select content_type, size, width, height, duration_ms from media
        where id = ${upload.id} and ext = ${upload.ext} and owner_id = ${ownerId} and size is not null
        for key share`);
      if (!row) {
        unreachable.push({
          path: slot.path,
          message: `${slot.url}: no such upload (deleted, expired or not yours): upload the file again`,
        });
        continue;
      }
      uploadIds.push(upload.id);
      const problem = mediaProblem(slot.role, {
        contentType: row.content_type,
        size: Number(row.size),
        width: row.width,
        height: row.height,
        durationMs: row.duration_ms,
      });
      if (problem) rejected.push({ path: slot.path, message: `${slot.url}: ${problem}` });
      continue;
    }
    // The schema let it through as an upload or a test's loopback host: it is neither of ours nor allowed.
    const problem = publicUrlProblem(slot.url, slot.path.split('.').at(-1)!);
    if (problem && !(check.allowPrivate && isLoopbackTestUrl(slot.url))) {
      invalid.push({ path: slot.path, message: problem });
      continue;
    }
    const probe = check.probes.get(slot.url);
    if (!probe) continue;
    if (!probe.reachable)
      preflight(unreachable, { path: slot.path, message: unreachableMessage(slot.url, probe.problem) });
    else {
      const problem = mediaProblem(slot.role, probe);
      if (problem) preflight(rejected, { path: slot.path, message: `${slot.url}: ${problem}` });
    }
  }
  if (invalid.length > 0) throw new AppError('VALIDATION_FAILED', undefined, { issues: invalid });
  if (unreachable.length > 0)
    throw new AppError('MEDIA_UNREACHABLE', undefined, { issues: [...unreachable, ...rejected] });
  if (rejected.length > 0) throw new AppError('MEDIA_REJECTED', undefined, { issues: rejected });
  return { uploadIds: [...new Set(uploadIds)], warnings };
}

/** Records which uploads the post uses (all of them, replacing what it used before). */
export async function linkPostMedia(
  tx: Tx,
  postId: number,
  uploadIds: string[],
  replace: boolean,
): Promise<void> {
  if (replace) await tx.execute(sql`delete from post_media where post_id = ${postId}`);
  if (uploadIds.length === 0) return;
  await tx.execute(sql`
    insert into post_media (post_id, media_id)
    select ${postId}, unnest(${`{${uploadIds.join(',')}}`}::text[])
    on conflict do nothing`);
}
