/**
 * Pre-flight: fetch a post's media URL the way Meta's servers will, before
 * the post is accepted and again before its container is made, so "Meta
 * could not fetch the media" is found while the user can still fix it, with
 * the URL named. Every hop goes through safeRequest: the host resolved and
 * refused unless public (this is also our SSRF defence), pinned, at most 3
 * redirects, 5 s in all, and only the first bytes read.
 */
import { imageSize } from 'image-size';
import type { MediaRole } from '../kinds/kind.ts';
import type { Resolver } from '../net/public-address.ts';
import { safeRequest, type SafeResponse } from '../net/safe-request.ts';
import { JPEG_MAX_BYTES, VIDEO_MAX_BYTES } from './process.ts';

export type PreflightMode = 'enforce' | 'warn' | 'off';

export interface PreflightOptions {
  /** MEDIA_ALLOW_PRIVATE_HOSTS: loopback and http, for tests only. */
  allowPrivate: boolean;
  resolver?: Resolver | undefined;
  timeoutMs?: number;
}

/** What a fetch of the URL learned. */
export type Probe =
  | { reachable: true; contentType: string; size: number | null; width: number | null; height: number | null }
  | { reachable: false; problem: string };

const MAX_REDIRECTS = 3;
/** Enough for a JPEG's EXIF, ICC profile and frame header, where its dimensions are. */
const HEAD_BYTES = 256 * 1024;
const USER_AGENT = 'facebookexternalhit/1.1 (instagram-autopost pre-flight)';

async function follow(
  start: URL,
  method: 'HEAD' | 'GET',
  opts: PreflightOptions,
  deadline: number,
): Promise<{ response: SafeResponse; url: URL }> {
  let url = start;
  for (let hop = 0; ; hop++) {
    const remaining = deadline - Date.now();
    if (remaining <= 0)
      return { response: { ok: false, error: 'no answer within 5 s', refused: false }, url };
    const response = await safeRequest(url, {
      method,
      headers: {
        'user-agent': USER_AGENT,
        accept: '*/*',
        ...(method === 'GET' ? { range: `bytes=0-${HEAD_BYTES - 1}` } : {}),
      },
      timeoutMs: remaining,
      maxBytes: method === 'GET' ? HEAD_BYTES : 0,
      allowPrivate: opts.allowPrivate,
      resolver: opts.resolver,
    });
    const location = response.ok ? response.headers.location : undefined;
    if (!response.ok || response.status < 300 || response.status >= 400 || !location)
      return { response, url };
    if (hop === MAX_REDIRECTS)
      return { response: { ok: false, error: `more than ${MAX_REDIRECTS} redirects`, refused: false }, url };
    try {
      url = new URL(location, url);
    } catch {
      return { response: { ok: false, error: 'a redirect to an invalid URL', refused: false }, url };
    }
  }
}

const totalFromRange = (header: string | undefined) => {
  const match = /\/(\d+)$/.exec(header ?? '');
  return match ? Number(match[1]) : null;
};

export async function probeUrl(value: string, opts: PreflightOptions): Promise<Probe> {
  const deadline = Date.now() + (opts.timeoutMs ?? 5_000);
  const url = new URL(value);
  let { response, url: final } = await follow(url, 'HEAD', opts, deadline);
  // Some hosts refuse HEAD; Meta uses GET, so a GET decides.
  const headRefused = response.ok && [403, 405, 501].includes(response.status);
  if (!response.ok) return { reachable: false, problem: response.error };
  let contentType = String(response.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  let size: number | null = response.headers['content-length']
    ? Number(response.headers['content-length'])
    : null;
  let width: number | null = null;
  let height: number | null = null;
  if (headRefused || (response.status < 300 && contentType.startsWith('image/'))) {
    ({ response, url: final } = await follow(headRefused ? url : final, 'GET', opts, deadline));
    if (!response.ok) return { reachable: false, problem: response.error };
    contentType = String(response.headers['content-type'] ?? contentType)
      .split(';')[0]!
      .trim()
      .toLowerCase();
    if (response.status === 206) size = totalFromRange(response.headers['content-range']) ?? size;
    else if (response.status === 200 && response.headers['content-length'])
      size = Number(response.headers['content-length']);
    if (response.status < 300 && contentType.startsWith('image/')) {
      try {
        const dimensions = imageSize(response.body);
        width = dimensions.width;
        height = dimensions.height;
      } catch {
        // Dimensions beyond the first 256 KB: left to Meta.
      }
    }
  }
  if (response.status < 200 || response.status >= 300)
    return { reachable: false, problem: `answered ${response.status}` };
  return { reachable: true, contentType, size, width, height };
}

export interface MediaFacts {
  contentType: string;
  size: number | null;
  width: number | null;
  height: number | null;
  durationMs?: number | null;
}

const mb = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;

/** Why Instagram would refuse the file, with the fix; null when it would take it. */
export function mediaProblem(role: MediaRole, facts: MediaFacts): string | null {
  const { contentType, size, width, height } = facts;
  if (role.expects === 'image') {
    if (
      contentType === 'image/png' ||
      contentType === 'image/heic' ||
      contentType === 'image/heif' ||
      contentType === 'image/webp'
    )
      return `it is ${contentType}: Instagram accepts JPEG only: upload the file to /media to convert it`;
    if (contentType !== 'image/jpeg' && contentType !== 'image/jpg')
      return `it is ${contentType || 'of no stated type'}, not a JPEG image: Instagram accepts JPEG only`;
    if (size !== null && size > JPEG_MAX_BYTES)
      return `it is ${mb(size)}; Instagram takes JPEGs of at most 8 MB: upload the file to /media to shrink it`;
    if (width !== null && width < 320)
      return `it is ${width} px wide; Instagram needs at least 320 px: use a larger image`;
    if (role.feedPhoto && width !== null && height !== null && height > 0) {
      const ratio = width / height;
      if (ratio < 0.8 - 0.005 || ratio > 1.91 + 0.005)
        return `it is ${width}×${height} (${ratio.toFixed(2)}:1); feed photos must be between 4:5 (0.80:1) and 1.91:1: crop it, or post it as a story`;
    }
    return null;
  }
  if (contentType !== 'video/mp4' && contentType !== 'video/quicktime')
    return `it is ${contentType || 'of no stated type'}; Instagram takes MP4 or MOV videos`;
  const limit = role.story ? 100_000_000 : VIDEO_MAX_BYTES;
  if (size !== null && size > limit)
    return `it is ${mb(size)}; ${role.story ? 'a story video may have 100 MB' : 'a reel may have 300 MB'}`;
  if (role.story && facts.durationMs != null && facts.durationMs > 60_000)
    return `it lasts ${(facts.durationMs / 1000).toFixed(1)} s; a story video lasts at most 60 s: trim it, or post it as a reel`;
  return null;
}

/** The words for an unreachable URL: what happened, that Meta would fail the same way, and the fix. */
export function unreachableMessage(url: string, problem: string): string {
  return `${url}: ${problem}; Meta’s servers could not fetch it either: make the file public or upload it to /media`;
}
