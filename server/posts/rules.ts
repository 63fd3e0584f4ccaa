import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
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

/**
 * Only global unicast addresses are public. ipaddr.js names every special
 * range (private, loopback, link-local, CGNAT, multicast, reserved, and for
 * IPv6 the forms that embed an IPv4 address: mapped, NAT64, 6to4, Teredo);
 * all of them are refused rather than unwrapped, since no media host needs them.
 */
function isPublicAddress(host: string): boolean {
  const address = ipaddr.parse(host);
  // ::a.b.c.d (IPv4-compatible, deprecated) is not a range ipaddr.js names.
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).parts.slice(0, 6).every((p) => p === 0))
    return false;
  return address.range() === 'unicast';
}

/** A DNS name of at least two labels, each 1 to 63 letters, digits or inner hyphens. */
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * Meta's servers fetch the media, so the URL must be public https. Host names
 * are not resolved here (DNS can change by publish time); literal addresses,
 * local names and malformed hosts are refused at once. The URL is judged as
 * the WHATWG parser reads it, which is also the form stored and sent to Meta
 * (normalizeMediaUrl), so no other parser can read it differently later.
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
  if (url.port === '0') return 'url must not use port 0';
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (host === '') return 'url must name a host';
  if (isIP(host) !== 0) {
    return isPublicAddress(host)
      ? null
      : 'url must point at a public address, not a private, loopback, link-local or other special one';
  }
  if (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host.endsWith('.local') ||
    host.endsWith('.internal')
  )
    return 'url must point at a public host, not a local name';
  const labels = host.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels.at(-1)!))
    return 'url must point at a public host name';
  return null;
}

/** The URL as the WHATWG parser normalises it: what is stored, shown and sent to Meta. */
export function normalizeMediaUrl(value: string): string {
  return new URL(value).href;
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
