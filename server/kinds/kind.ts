/**
 * A kind of post (photo, reel, carousel, story) in one module each: its
 * input rules, its media and what each must be, the parameters of Meta's
 * create-container call, and whether Meta processes it before it can be
 * published. Posts, media checks and the publisher ask the post's kind
 * (`kindOf`, index.ts) instead of branching on `content_type`. Recipe:
 * docs/architecture.md, "Add a kind of post".
 */
import type { FieldIssue } from '../errors.ts';

export type KindName = 'photo' | 'reel' | 'carousel' | 'story';

type TagShape = { username: string; x?: number | null | undefined; y?: number | null | undefined };

export interface ChildShape {
  content_type: 'Photo' | 'Video';
  url?: string | null | undefined;
  alt_text?: string | null | undefined;
  user_tags?: TagShape[] | null | undefined;
}

/** A post as the API takes it (created, or a PATCH merged over the stored one). */
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

/** What a media URL is for, which decides the rules it must meet (server/media/preflight.ts). */
export interface MediaRole {
  expects: 'image' | 'video';
  /** A feed photo (a single photo or a carousel item): its shape must be 4:5 to 1.91:1. */
  feedPhoto: boolean;
  story: boolean;
}

/** One media URL of a post: where it is in the request, and what it must be. */
export interface MediaSlot {
  path: string;
  url: string;
  role: MediaRole;
}

/** The media fields of a post, which is all `slots` reads. */
export interface MediaShape {
  content_type: 'Photo' | 'Video' | 'Carousel';
  placement?: 'feed' | 'story' | null | undefined;
  url?: string | null | undefined;
  cover_url?: string | null | undefined;
  children?: { content_type: 'Photo' | 'Video'; url: string }[] | null | undefined;
}

export interface UserTag {
  username: string;
  x: number | null;
  y: number | null;
}

/** Everything a post's container may carry, as stored; each kind sends what Meta takes for it. */
export interface ContainerParams {
  contentType: 'Photo' | 'Video' | 'Carousel';
  placement: 'feed' | 'story';
  url: string | null;
  caption: string | null;
  locationId: string | null;
  thumbOffset: number | null;
  userTags: UserTag[];
  altText: string | null;
  collaborators: string[];
  coverUrl: string | null;
  shareToFeed: boolean | null;
  audioName: string | null;
  trialReel: 'manual' | 'performance' | null;
  /** A carousel's item containers, in order (made first: `hasItems`). */
  childIds?: string[];
}

export interface PostKind {
  name: KindName;
  /**
   * Rules across fields, checked on the whole post (after a PATCH is merged too). A field that does
   * not apply to the kind is refused, never dropped: the user meant something by it.
   */
  issues(post: PostShape): FieldIssue[];
  /** The post's media URLs and what each must be (uploads and pre-flight are judged by it). */
  slots(post: MediaShape): MediaSlot[];
  /** The form of Meta's create-container call (docs/graph-api.md). */
  containerForm(params: ContainerParams): Record<string, string>;
  /** Whether Meta processes the container before it may be published (wait for FINISHED). */
  processedFirst(contentType: 'Photo' | 'Video' | 'Carousel'): boolean;
  /** Whether the post has items with containers of their own, made before its own (carousels). */
  hasItems: boolean;
}

// Pieces several kinds share.

/** The reel options: feed videos only. */
export const REEL_FIELDS = ['cover_url', 'share_to_feed', 'audio_name', 'trial_reel'] as const;

export const present = (v: unknown) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0);

/** Photo tags need a place on the photo. */
export function photoTagIssues(tags: TagShape[] | null | undefined, path: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  tags?.forEach((tag, i) => {
    if (tag.x == null) issues.push({ path: `${path}.${i}.x`, message: 'x is required for photo tags' });
    if (tag.y == null) issues.push({ path: `${path}.${i}.y`, message: 'y is required for photo tags' });
  });
  return issues;
}

/** What every single-media kind asks: a url, and no children. */
export function singleMediaIssues(post: PostShape): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (post.url == null) issues.push({ path: 'url', message: 'url is required' });
  if (post.children && post.children.length > 0)
    issues.push({ path: 'children', message: 'only a Carousel has children' });
  return issues;
}

/** Meta's `user_tags`: photos place each tag, videos only name them. */
export function userTagsJson(tags: UserTag[], photo: boolean): string {
  return JSON.stringify(
    tags.map((t) => (photo ? { username: t.username, x: t.x, y: t.y } : { username: t.username })),
  );
}
