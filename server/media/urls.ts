import { randomBytes } from 'node:crypto';

/** 18 random bytes, base64url: 144 bits, so a file's URL cannot be guessed. */
export function newMediaId(): string {
  return randomBytes(18).toString('base64url');
}

const ID = /^[A-Za-z0-9_-]{24}$/;
export const MEDIA_EXTS = ['jpg', 'mp4', 'mov'] as const;
export type MediaExt = (typeof MEDIA_EXTS)[number];

export function isMediaId(value: string): boolean {
  return ID.test(value);
}

/** `<id>.<ext>`, the last segment of a file's public URL. */
export function parseMediaFileName(name: string): { id: string; ext: MediaExt } | null {
  const match = /^([A-Za-z0-9_-]{24})\.(jpg|mp4|mov)$/.exec(name);
  return match ? { id: match[1]!, ext: match[2] as MediaExt } : null;
}

export function mediaUrl(publicUrl: string, id: string, ext: string): string {
  return `${publicUrl}/m/${id}.${ext}`;
}

/** Whether a URL has the shape of an upload's on some server: `…/m/<id>.<ext>`. */
export function looksLikeUpload(value: string): boolean {
  try {
    const segments = new URL(value).pathname.split('/');
    return segments.at(-2) === 'm' && parseMediaFileName(segments.at(-1)!) !== null;
  } catch {
    return false;
  }
}

/**
 * The upload a URL names when it is one of this server's: same origin and
 * path prefix as PUBLIC_URL, whatever their scheme and host (http and
 * localhost in development), then `/m/<id>.<ext>`.
 */
export function uploadOf(publicUrl: string, value: string): { id: string; ext: MediaExt } | null {
  let url: URL;
  let base: URL;
  try {
    url = new URL(value);
    base = new URL(publicUrl);
  } catch {
    return null;
  }
  if (url.origin !== base.origin || url.search !== '' || url.hash !== '') return null;
  const prefix = `${base.pathname.replace(/\/+$/, '')}/m/`;
  if (!url.pathname.startsWith(prefix)) return null;
  return parseMediaFileName(url.pathname.slice(prefix.length));
}

/**
 * `http://127.0.0.1:<port>/…`: a media host on the loopback of a test, which
 * MEDIA_ALLOW_PRIVATE_HOSTS lets pre-flight fetch. The schema cannot see the
 * flag, so it lets these through and the service decides (post-media.ts).
 */
export function isLoopbackTestUrl(value: string): boolean {
  return /^http:\/\/127\.0\.0\.1:\d+\//.test(value);
}
