import { isIP } from 'node:net';
import type { FieldIssue } from '../errors.ts';

/** Meta's caption limits (docs/graph-api.md). */
const CAPTION_MAX_CHARS = 2200;
const CAPTION_MAX_HASHTAGS = 30;
const CAPTION_MAX_MENTIONS = 20;
export const USER_TAGS_MAX = 20;

const HASHTAG = /(^|[^\p{L}\p{N}_&])#[\p{L}\p{N}_]+/gu;
const MENTION = /(^|[^\p{L}\p{N}_.])@[A-Za-z0-9._]+/gu;

export function captionProblems(caption: string): string[] {
  const problems: string[] = [];
  // Meta counts characters, not UTF-16 units: an emoji is one.
  const length = [...caption].length;
  if (length > CAPTION_MAX_CHARS)
    problems.push(`caption is ${length} characters; Instagram allows ${CAPTION_MAX_CHARS}`);
  const hashtags = caption.match(HASHTAG)?.length ?? 0;
  if (hashtags > CAPTION_MAX_HASHTAGS)
    problems.push(`caption has ${hashtags} hashtags; Instagram allows ${CAPTION_MAX_HASHTAGS}`);
  const mentions = caption.match(MENTION)?.length ?? 0;
  if (mentions > CAPTION_MAX_MENTIONS)
    problems.push(`caption has ${mentions} @mentions; Instagram allows ${CAPTION_MAX_MENTIONS}`);
  return problems;
}

function isPrivateIPv4(address: string): boolean {
  const [a, b] = address.split('.').map(Number) as [number, number];
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    a >= 224 // multicast and reserved
  );
}

function isPrivateIPv6(address: string): boolean {
  const a = address.toLowerCase();
  if (a === '::' || a === '::1') return true;
  // IPv4-mapped: URL parsing turns ::ffff:127.0.0.1 into ::ffff:7f00:1.
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (dotted) return isPrivateIPv4(dotted[1]!);
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a);
  if (hex) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return isPrivateIPv4(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
  }
  return /^f[cd]/.test(a) || /^fe[89ab]/.test(a) || a.startsWith('ff');
}

/**
 * Meta's servers fetch the media, so the URL must be public https. Host names
 * are not resolved here (DNS can change by publish time); literal addresses and
 * obviously local names are refused at once.
 */
export function mediaUrlProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'url must be an absolute URL';
  }
  if (url.protocol !== 'https:') return 'url must use https';
  if (url.username || url.password) return 'url must not contain credentials';
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host.endsWith('.local') ||
    host.endsWith('.internal')
  )
    return 'url must point at a public host, not a local name';
  const family = isIP(host);
  if ((family === 4 && isPrivateIPv4(host)) || (family === 6 && isPrivateIPv6(host)))
    return 'url must point at a public address, not a private, loopback or link-local one';
  if (family === 0 && !host.includes('.')) return 'url must point at a public host name';
  return null;
}

export interface PostShape {
  content_type: 'Photo' | 'Video';
  thumb_offset?: number | null | undefined;
  user_tags?:
    { username: string; x?: number | null | undefined; y?: number | null | undefined }[] | null | undefined;
}

/** Rules that span fields; checked on the whole post, after a PATCH is merged too. */
export function crossFieldIssues(post: PostShape): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (post.content_type !== 'Video' && post.thumb_offset != null)
    issues.push({ path: 'thumb_offset', message: 'thumb_offset is only for videos' });
  if (post.content_type === 'Photo') {
    post.user_tags?.forEach((tag, i) => {
      if (tag.x == null) issues.push({ path: `user_tags.${i}.x`, message: 'x is required for photo tags' });
      if (tag.y == null) issues.push({ path: `user_tags.${i}.y`, message: 'y is required for photo tags' });
    });
  }
  return issues;
}
