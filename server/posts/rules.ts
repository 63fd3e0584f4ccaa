import type { FieldIssue } from '../errors.ts';
import { publicUrlProblem } from '../net/public-address.ts';

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
 * Meta's servers fetch the media, so the URL must be public https. Host names
 * are not resolved here (DNS can change by publish time); see
 * server/net/public-address.ts.
 */
export function mediaUrlProblem(value: string): string | null {
  return publicUrlProblem(value, 'url');
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
