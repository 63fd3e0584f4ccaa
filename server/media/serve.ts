/**
 * GET/HEAD PUBLIC_URL/m/<id>.<ext>: uploads served to whoever has the link
 * (Meta's fetcher has no token), the way a CDN would: exact type and length,
 * a strong ETag (the SHA-256), immutable caching, single byte ranges.
 */
import { once } from 'node:events';
import { and, eq, sql } from 'drizzle-orm';
import type { Request, RequestHandler, Response } from 'express';
import type { Db } from '../db/client.ts';
import { media } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import type { MediaStore } from './store.ts';
import { parseMediaFileName } from './urls.ts';

/** What Meta's crawler and everyone else may fetch: the files, not the API. */
export const ROBOTS_TXT = `# Uploads are fetched by Meta (facebookexternalhit) when a post is published.
User-agent: *
Allow: /m/
Disallow: /api/
`;

type ByteRange = { start: number; end: number } | 'unsatisfiable' | null;

/**
 * One `bytes=` range (RFC 9110 §14.1.2). Several ranges, or a header we do
 * not understand, are answered with the whole file, which the RFC allows.
 */
export function parseRange(header: string | undefined, size: number): ByteRange {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (match[2] !== '' && Number(match[2]) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

export function serveMedia(db: Db, store: MediaStore): RequestHandler {
  return (req, res, next) => {
    void send(db, store, req, res).catch(next);
  };
}

async function send(db: Db, store: MediaStore, req: Request, res: Response): Promise<void> {
  const name = parseMediaFileName(String(req.params.name ?? ''));
  const [row] = name
    ? await db
        .select()
        .from(media)
        .where(and(eq(media.id, name.id), eq(media.ext, name.ext), sql`${media.size} is not null`))
    : [];
  if (!row) throw new AppError('MEDIA_NOT_FOUND', 'No such file (it may have been deleted or expired).');
  const size = row.size!;
  const etag = `"${row.sha256}"`;
  res.setHeader('Content-Type', row.contentType);
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', row.createdAt.toUTCString());
  res.setHeader('Accept-Ranges', 'bytes');
  // The bytes behind a URL never change; a file that goes away is a 404 then.
  res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
  // helmet's same-origin default would keep browsers on other sites (the app's web preview) from showing it.
  res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');

  const ifNoneMatch = req.headers['if-none-match'];
  if (
    ifNoneMatch &&
    (ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag))
  ) {
    res.status(304).end();
    return;
  }
  // If-Range with another validator means "the file changed": send all of it.
  const ifRange = req.get('if-range');
  const range = ifRange && ifRange.trim() !== etag ? null : parseRange(req.headers.range, size);
  if (range === 'unsatisfiable') {
    res.setHeader('Content-Range', `bytes */${size}`);
    res.removeHeader('Cache-Control');
    throw new AppError('RANGE_NOT_SATISFIABLE', `The file has ${size} bytes.`);
  }
  const { start, end } = range ?? { start: 0, end: size - 1 };
  if (range) {
    res.status(206);
    res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
  }
  res.setHeader('Content-Length', String(end - start + 1));
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  let sent = 0;
  for await (const piece of store.read(row.id, start, end, row.chunkSize)) {
    if (res.destroyed) return;
    sent += piece.length;
    if (!res.write(piece)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
  }
  // Deleted while being sent: cut the answer rather than end it short with a success.
  if (sent !== end - start + 1) res.destroy();
  else res.end();
}
