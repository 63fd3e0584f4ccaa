/**
 * POST /api/v1/media: the file as the raw body (its Content-Type says what it
 * is) or as the one field `file` of a multipart form. The body is streamed:
 * an image to a temporary file for conversion (server/media/process.ts), a
 * video straight into the store, its boxes read on the way. Nothing is held
 * whole in memory and a refused or abandoned upload leaves nothing behind.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { eq } from 'drizzle-orm';
import type { Request, RequestHandler, Response } from 'express';
import type { Db, Tx } from '../db/client.ts';
import { media, type MediaRow } from '../db/schema.ts';
import type { Env } from '../env.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { checkIdempotencyKey, fingerprintOf, runIdempotent } from '../idempotency/idempotency.ts';
import { authenticate, type Context } from '../trpc.ts';
import {
  checkReel,
  convertImage,
  IMAGE_MAX_BYTES,
  IMAGE_TYPES,
  RejectedMedia,
  UnreadableMedia,
  VIDEO_MAX_BYTES,
  VIDEO_TYPES,
  VideoProbe,
} from './process.ts';
import { assertQuota, checkQuota, toMediaOutput, UPLOAD_LIFETIME_MS } from './service.ts';
import type { MediaStore } from './store.ts';
import { newMediaId } from './urls.ts';

export interface UploadDeps {
  db: Db;
  env: Env;
  store: MediaStore;
  logger: Logger;
  createContext: (req: Request, res: Response) => Context;
}

type Kind = 'image' | 'video';

/** What a phone's share sheet may call the file when the part's own type is generic. */
const BY_EXTENSION: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  heic: 'image/heic',
  heif: 'image/heif',
  webp: 'image/webp',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
};

function kindOf(type: string): Kind {
  if ((IMAGE_TYPES as readonly string[]).includes(type)) return 'image';
  if ((VIDEO_TYPES as readonly string[]).includes(type)) return 'video';
  throw new AppError(
    'MEDIA_TYPE_UNSUPPORTED',
    type
      ? `${type} is not accepted: send a JPEG, PNG, HEIC, HEIF or WebP image or an MP4 or MOV video, with its Content-Type.`
      : undefined,
  );
}

const mediaType = (header: string | undefined) => (header ?? '').split(';')[0]!.trim().toLowerCase();

interface IncomingFile {
  stream: Readable;
  type: string;
  /** The body's Content-Length for a raw upload; null when unknown (chunked, multipart). */
  declaredBytes: number | null;
}

/** The part named `file` of a multipart form, as soon as its headers have arrived. */
function multipartFile(req: IncomingMessage): Promise<IncomingFile> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fields: 20, fieldSize: 1024 } });
    } catch {
      reject(new AppError('VALIDATION_FAILED', 'The multipart body has no boundary.'));
      return;
    }
    let found = false;
    parser.on('file', (name, stream, info) => {
      // busboy destroys a part's stream with its own error when the form breaks off ("Unexpected end
      // of form"), possibly before anyone reads it: a listener from the start keeps that from being
      // an uncaught 'error' event. Whoever reads the stream still gets the error (capped()).
      stream.on('error', () => undefined);
      if (name !== 'file' || found) {
        stream.resume();
        return;
      }
      found = true;
      let type = info.mimeType.toLowerCase();
      if (type === 'application/octet-stream' || type === '') {
        const ext = path
          .extname(info.filename ?? '')
          .slice(1)
          .toLowerCase();
        type = BY_EXTENSION[ext] ?? type;
      }
      resolve({ stream, type, declaredBytes: null });
    });
    parser.on('error', () =>
      reject(new AppError('VALIDATION_FAILED', 'The multipart body could not be read.')),
    );
    parser.on('close', () => {
      if (!found)
        reject(
          new AppError('VALIDATION_FAILED', undefined, {
            issues: [{ path: 'file', message: 'send the file in a multipart field named file' }],
          }),
        );
    });
    // pipeline, not pipe: a request that breaks off (the client went away) destroys the parser and
    // so the part's stream, and the upload fails and is removed instead of waiting forever.
    pipeline(req, parser).catch(() => undefined);
  });
}

/**
 * Passes the bytes on and refuses the upload the moment it passes `limit`.
 * A body that breaks off (the connection dropped, a form without its
 * closing boundary) is the client's doing: a 400 that says so, not a 500.
 */
async function* capped(source: AsyncIterable<Buffer>, limit: number, kind: Kind): AsyncGenerator<Buffer> {
  let seen = 0;
  try {
    for await (const chunk of source) {
      seen += chunk.length;
      if (seen > limit) throw tooLarge(kind);
      yield chunk;
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw new AppError(
      'VALIDATION_FAILED',
      `The upload broke off after ${seen} bytes (the connection dropped, or the multipart body has no closing boundary); send the file again.`,
    );
  }
}

const tooLarge = (kind: Kind) =>
  new AppError(
    'MEDIA_TOO_LARGE',
    kind === 'image' ? 'Images may have at most 30 MB.' : 'Videos may have at most 300 MB.',
  );

function fromProcessing(error: unknown): unknown {
  if (error instanceof UnreadableMedia) return new AppError('MEDIA_UNREADABLE', error.message);
  if (error instanceof RejectedMedia) return new AppError('MEDIA_REJECTED', error.message);
  return error;
}

/** One upload being stored: its row, its owner, and the Idempotency-Key it came with. */
interface Upload {
  id: string;
  ownerId: number;
  key: string | undefined;
  requestId: string;
}

interface Answer {
  body: unknown;
  replayed: boolean;
}

export function uploadHandler(deps: UploadDeps): RequestHandler {
  const { db, env, store } = deps;

  /** A row without size is an upload in progress: nobody lists, serves or counts it. */
  const startRow = async (ownerId: number, kind: Kind, contentType: string, ext: string, now: Date) => {
    const id = newMediaId();
    await db.insert(media).values({
      id,
      ownerId,
      kind,
      contentType,
      ext,
      chunkSize: store.chunkSize,
      createdAt: now,
      expiresAt: new Date(now.getTime() + UPLOAD_LIFETIME_MS),
    });
    return id;
  };

  /**
   * Makes the upload visible and answers it. With an Idempotency-Key the answer is kept in the
   * same transaction (server/idempotency/); a retry of a kept upload (same key, same resulting
   * file) gets the first answer, and its own copy is thrown away.
   */
  const finish = async (
    upload: Upload,
    values: Pick<MediaRow, 'size' | 'sha256' | 'width' | 'height' | 'durationMs' | 'contentType' | 'ext'>,
  ): Promise<Answer> => {
    const { id, ownerId, key } = upload;
    const show = async (tx: Tx) => {
      await assertQuota(tx, ownerId, id, values.size!, env.MEDIA_QUOTA_BYTES);
      const [row] = await tx.update(media).set(values).where(eq(media.id, id)).returning();
      deps.logger.info(
        { mediaId: row!.id, contentType: row!.contentType, size: row!.size, requestId: upload.requestId },
        'media uploaded',
      );
      return toMediaOutput(row!, env.PUBLIC_URL);
    };
    if (key === undefined) return { body: await db.transaction(show), replayed: false };
    const { replayed, answer } = await runIdempotent(db, {
      userId: ownerId,
      key,
      fingerprint: fingerprintOf('uploadMedia', values.sha256),
      run: show,
      successStatus: () => 201,
    });
    if (!answer.ok) throw answer.error;
    if (replayed) await db.delete(media).where(eq(media.id, id));
    return { body: answer.data, replayed };
  };

  async function storeImage(upload: Omit<Upload, 'id'>, file: IncomingFile): Promise<Answer> {
    const { ownerId } = upload;
    const dir = await mkdtemp(path.join(tmpdir(), 'upload-'));
    let id: string | null = null;
    try {
      const original = path.join(dir, 'original');
      await pipeline(capped(file.stream, IMAGE_MAX_BYTES, 'image'), createWriteStream(original));
      const image = await convertImage(original);
      id = await startRow(ownerId, 'image', 'image/jpeg', 'jpg', new Date());
      const stored = await store.write(id, [image.data]);
      return await finish(
        { ...upload, id },
        {
          size: stored.size,
          sha256: stored.sha256,
          width: image.width,
          height: image.height,
          durationMs: null,
          contentType: 'image/jpeg',
          ext: 'jpg',
        },
      );
    } catch (error) {
      if (id) await db.delete(media).where(eq(media.id, id));
      throw fromProcessing(error);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async function storeVideo(upload: Omit<Upload, 'id'>, file: IncomingFile): Promise<Answer> {
    const { ownerId } = upload;
    const declaredExt = file.type === 'video/quicktime' ? 'mov' : 'mp4';
    const id = await startRow(ownerId, 'video', file.type, declaredExt, new Date());
    try {
      const probe = new VideoProbe();
      const stored = await store.write(
        id,
        (async function* () {
          for await (const chunk of capped(file.stream, VIDEO_MAX_BYTES, 'video')) {
            probe.push(chunk);
            yield chunk;
          }
        })(),
      );
      const facts = probe.finish();
      checkReel(facts, stored.size);
      // Served as what the file is, whatever the client called it.
      const container =
        facts.container === 'mov'
          ? { contentType: 'video/quicktime', ext: 'mov' }
          : { contentType: 'video/mp4', ext: 'mp4' };
      return await finish(
        { ...upload, id },
        {
          size: stored.size,
          sha256: stored.sha256,
          width: facts.width,
          height: facts.height,
          durationMs: facts.durationMs,
          ...container,
        },
      );
    } catch (error) {
      await db.delete(media).where(eq(media.id, id));
      throw fromProcessing(error);
    }
  }

  /** Refuses early what cannot fit, before a byte of a large body is read. */
  async function precheck(ownerId: number, kind: Kind, declared: number | null): Promise<void> {
    if (declared === null) return;
    if (declared > (kind === 'image' ? IMAGE_MAX_BYTES : VIDEO_MAX_BYTES)) throw tooLarge(kind);
    // An image shrinks when converted: only a video's stored size is known before it is read.
    if (kind === 'image') return;
    await checkQuota(db, { ownerId, size: declared, quota: env.MEDIA_QUOTA_BYTES });
  }

  return (req, res, next) => {
    void (async () => {
      const ctx = await authenticate(deps.createContext(req, res));
      const key = checkIdempotencyKey(req.headers['idempotency-key']);
      const type = mediaType(req.headers['content-type']);
      let file: IncomingFile;
      if (type === 'multipart/form-data') {
        const length = Number(req.headers['content-length']);
        // The form's own bytes (boundaries, part headers) are few: anything past the video limit plus 64 KiB is too much.
        if (Number.isFinite(length) && length > VIDEO_MAX_BYTES + 65_536) throw tooLarge('video');
        file = await multipartFile(req);
      } else {
        const length = req.headers['content-length'];
        file = { stream: req, type, declaredBytes: length === undefined ? null : Number(length) };
      }
      const kind = kindOf(file.type);
      await precheck(ctx.user.id, kind, file.declaredBytes);
      const upload = { ownerId: ctx.user.id, key, requestId: ctx.requestId };
      const { body, replayed } =
        kind === 'image' ? await storeImage(upload, file) : await storeVideo(upload, file);
      if (replayed) res.setHeader('Idempotent-Replayed', 'true');
      res.status(201).json(body);
    })().catch((error: unknown) => {
      // A refusal before the body was read: the rest of it is not wanted, so the connection ends with the answer.
      if (!req.complete) res.setHeader('Connection', 'close');
      next(error);
    });
  };
}
