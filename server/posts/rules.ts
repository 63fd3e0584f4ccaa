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

type TagShape = { username: string; x?: number | null | undefined; y?: number | null | undefined };

export interface ChildShape {
  content_type: 'Photo' | 'Video';
  alt_text?: string | null | undefined;
  user_tags?: TagShape[] | null | undefined;
}

export interface PostShape {
  content_type: 'Photo' | 'Video' | 'Carousel';
  url?: string | null | undefined;
  children?: ChildShape[] | null | undefined;
  placement?: 'feed' | 'story' | null | undefined;
  caption?: string | null | undefined;
  location_id?: string | null | undefined;
  thumb_offset?: number | null | undefined;
  alt_text?: string | null | undefined;
  collaborators?: string[] | null | undefined;
  cover_url?: string | null | undefined;
  share_to_feed?: boolean | null | undefined;
  audio_name?: string | null | undefined;
  trial_reel?: string | null | undefined;
  first_comment?: string | null | undefined;
  user_tags?: TagShape[] | null | undefined;
}

function photoTagIssues(tags: TagShape[] | null | undefined, path: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  tags?.forEach((tag, i) => {
    if (tag.x == null) issues.push({ path: `${path}.${i}.x`, message: 'x is required for photo tags' });
    if (tag.y == null) issues.push({ path: `${path}.${i}.y`, message: 'y is required for photo tags' });
  });
  return issues;
}

/** A carousel's own rules: its media are its children (2 to 10, checked by the schema). */
function carouselIssues(post: PostShape): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (post.url != null)
    issues.push({ path: 'url', message: 'a carousel has no url: put its items in children' });
  if (!post.children || post.children.length === 0)
    issues.push({ path: 'children', message: 'a carousel needs 2 to 10 children' });
  if (post.placement === 'story')
    issues.push({
      path: 'placement',
      message: 'a carousel cannot be a story: post each item as a story of its own',
    });
  if (post.user_tags && post.user_tags.length > 0)
    issues.push({
      path: 'user_tags',
      message: 'tag people on each child of a carousel (children.N.user_tags)',
    });
  if (post.alt_text != null)
    issues.push({ path: 'alt_text', message: 'put alt_text on each photo child of a carousel' });
  post.children?.forEach((child, i) => {
    if (child.content_type === 'Photo')
      issues.push(...photoTagIssues(child.user_tags, `children.${i}.user_tags`));
    else if (child.alt_text != null)
      issues.push({ path: `children.${i}.alt_text`, message: 'alt_text is only for photos' });
  });
  return issues;
}

/** The reel options: feed videos only. */
const REEL_FIELDS = ['cover_url', 'share_to_feed', 'audio_name', 'trial_reel'] as const;

/**
 * Rules that span fields; checked on the whole post, after a PATCH is merged
 * too. A field that does not apply to the kind of post is refused, never
 * dropped: the user meant something by it (docs/api.md, "Kinds of posts").
 */
export function crossFieldIssues(post: PostShape): FieldIssue[] {
  if (post.content_type === 'Carousel') {
    const issues = carouselIssues(post);
    for (const field of [...REEL_FIELDS, 'thumb_offset'] as const)
      if (post[field] != null) issues.push({ path: field, message: `${field} is only for videos (reels)` });
    return issues;
  }
  const issues: FieldIssue[] = [];
  if (post.url == null) issues.push({ path: 'url', message: 'url is required' });
  if (post.children && post.children.length > 0)
    issues.push({ path: 'children', message: 'only a Carousel has children' });
  const story = post.placement === 'story';
  const present = (v: unknown) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0);
  if (story) {
    for (const field of [
      'caption',
      'location_id',
      'first_comment',
      'collaborators',
      'alt_text',
      'thumb_offset',
      ...REEL_FIELDS,
    ] as const)
      if (present(post[field]))
        issues.push({
          path: field,
          message: `${field} does not apply to a story: Instagram stories take only the media and user_tags`,
        });
  } else {
    if (post.content_type !== 'Video') {
      for (const field of REEL_FIELDS)
        if (present(post[field]))
          issues.push({ path: field, message: `${field} is only for videos (reels)` });
    }
    if (post.content_type !== 'Photo' && present(post.alt_text))
      issues.push({
        path: 'alt_text',
        message: 'alt_text is only for photos: Instagram takes no alt text on reels',
      });
  }
  if (post.content_type !== 'Video' && post.thumb_offset != null && !story)
    issues.push({ path: 'thumb_offset', message: 'thumb_offset is only for videos' });
  if (post.content_type === 'Photo') issues.push(...photoTagIssues(post.user_tags, 'user_tags'));
  return issues;
}
