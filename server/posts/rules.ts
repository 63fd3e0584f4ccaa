import type { FieldIssue } from '../errors.ts';
import { kindOf } from '../kinds/index.ts';
import type { PostShape } from '../kinds/kind.ts';
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

/**
 * Rules that span fields, checked on the whole post (after a PATCH is merged
 * too): those of the post's kind (server/kinds/). A field that does not apply
 * to the kind of post is refused, never dropped: the user meant something by
 * it (docs/api.md, "Kinds of posts").
 */
export function crossFieldIssues(post: PostShape): FieldIssue[] {
  return kindOf(post.content_type, post.placement).issues(post);
}
