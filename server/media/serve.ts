/**
 * GET/HEAD PUBLIC_URL/m/<id>.<ext>: uploads served to whoever has the link
 * (Meta's fetcher has no token), the way a CDN would: exact type and length,
 * a strong ETag (the SHA-256), immutable caching, single byte ranges.
 */
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

/**
 * How many downloads run at once, and how long a reader may keep one. A
 * download holds at most one batch of chunks (store.ts) while its client
 * reads, so these bound the memory all readers can take together.
 */
export interface ServeLimits {
  /** Downloads sending bytes at once, over all files. */
  streams: number;
  /** Of them, for one file (Meta's fetch of a file must not queue behind a crowd on it). */
  perFile: number;
  /** How long a download may wait for a slot before it is a 503 with Retry-After. */
  waitMs: number;
  /** A client that reads nothing for this long is cut off, freeing its slot. */
  idleMs: number;
}

/**
 * 32 × 256 KiB in flight at most. A thousand readers that stop take about
 * 50 MB while they are connected (bench/REPORT.md, "Slow readers of /m/").
 */
export const DEFAULT_SERVE_LIMITS: ServeLimits = { streams: 32, perFile: 8, waitMs: 10_000, idleMs: 20_000 };

/** Slots for downloads, given in arrival order to those that fit both limits. */
class Slots {
  private active = 0;
  private readonly byFile = new Map<string, number>();
  private readonly waiting: { file: string; admit: () => void }[] = [];

  constructor(private readonly limits: ServeLimits) {}

  private fits(file: string): boolean {
    return this.active < this.limits.streams && (this.byFile.get(file) ?? 0) < this.limits.perFile;
  }

  private take(file: string): () => void {
    this.active++;
    this.byFile.set(file, (this.byFile.get(file) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      const left = this.byFile.get(file)! - 1;
      if (left === 0) this.byFile.delete(file);
      else this.byFile.set(file, left);
      for (let i = 0; i < this.waiting.length;) {
        const w = this.waiting[i]!;
        if (this.fits(w.file)) {
          this.waiting.splice(i, 1);
          w.admit();
        } else i++;
      }
    };
  }

  /** A release function, or null when no slot came free within waitMs (or the client left). */
  async acquire(file: string, res: Response): Promise<(() => void) | null> {
    // Those still waiting do not fit (each release admits every one that does): another file's
    // download may go ahead of them; one of the same file queues behind, in order.
    if (this.fits(file) && !this.waiting.some((w) => w.file === file)) return this.take(file);
    return new Promise((resolve) => {
      const entry = {
        file,
        admit: () => {
          cleanup();
          resolve(this.take(file));
        },
      };
      const give = () => {
        cleanup();
        const at = this.waiting.indexOf(entry);
        if (at >= 0) this.waiting.splice(at, 1);
        resolve(null);
      };
      const timer = setTimeout(give, this.limits.waitMs);
      res.once('close', give);
      const cleanup = () => {
        clearTimeout(timer);
        res.off('close', give);
      };
      this.waiting.push(entry);
    });
  }
}

export function serveMedia(
  db: Db,
  store: MediaStore,
  limits: ServeLimits = DEFAULT_SERVE_LIMITS,
): RequestHandler {
  const slots = new Slots(limits);
  return (req, res, next) => {
    void send({ db, store, slots, limits }, req, res).catch(next);
  };
}

interface Serving {
  db: Db;
  store: MediaStore;
  slots: Slots;
  limits: ServeLimits;
}

/** An error answers about the request, not the file: none of the file's own headers go with it. */
function withoutFileHeaders(res: Response): void {
  for (const name of [
    'Content-Type',
    'Content-Length',
    'Content-Range',
    'ETag',
    'Last-Modified',
    'Cache-Control',
  ])
    res.removeHeader(name);
}

/** Waits until the client has taken what was written; false when it read nothing for `idleMs` or left. */
async function drained(res: Response, idleMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    // Listeners removed whichever comes first: a download waits here once per chunk.
    const done = (ok: boolean) => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok && !res.destroyed);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), idleMs);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

async function send({ db, store, slots, limits }: Serving, req: Request, res: Response): Promise<void> {
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
    withoutFileHeaders(res);
    res.setHeader('Content-Range', `bytes */${size}`);
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
  const release = await slots.acquire(row.id, res);
  if (!release) {
    if (res.destroyed) return;
    withoutFileHeaders(res);
    throw new AppError('SERVICE_UNAVAILABLE', 'Too many downloads at once; try again shortly.', {
      retryAfter: 2,
    });
  }
  try {
    let sent = 0;
    for await (const piece of store.read(row.id, start, end, row.chunkSize)) {
      if (res.destroyed) return;
      sent += piece.length;
      if (!res.write(piece) && !(await drained(res, limits.idleMs))) {
        // Not reading: cut it off rather than hold its slot and its bytes.
        res.destroy();
        return;
      }
    }
    // Deleted while being sent: cut the answer rather than end it short with a success.
    if (sent !== end - start + 1) res.destroy();
    else res.end();
  } finally {
    release();
  }
}
