import type { ContentType } from '../db/schema.ts';
import type { FieldIssue } from '../errors.ts';
import type { ReplacePostInput, UpdatePostInput } from './schemas.ts';

/** What a post says, apart from its token and time. */
export interface PostContent {
  /** The connected account that publishes it, or null when the post carries its own token. */
  instagram_id: number | null;
  /** With an account, the service fills it in from the account. */
  user_id: string;
  content_type: ContentType;
  url: string | null;
  children: {
    content_type: 'Photo' | 'Video';
    url: string;
    user_tags: { username: string; x: number | null; y: number | null }[];
    alt_text: string | null;
  }[];
  caption: string | null;
  location_id: string | null;
  thumb_offset: number | null;
  user_tags: { username: string; x: number | null; y: number | null }[];
  placement: 'feed' | 'story';
  alt_text: string | null;
  collaborators: string[];
  cover_url: string | null;
  share_to_feed: boolean | null;
  audio_name: string | null;
  trial_reel: 'manual' | 'performance' | null;
  first_comment: string | null;
}

const EDITABLE_FIELDS = [
  'instagram_id',
  'user_id',
  'content_type',
  'url',
  'children',
  'caption',
  'location_id',
  'user_tags',
  'thumb_offset',
  'token',
  'date_pub',
  'placement',
  'alt_text',
  'collaborators',
  'cover_url',
  'share_to_feed',
  'audio_name',
  'trial_reel',
  'first_comment',
] as const;
type EditableField = (typeof EDITABLE_FIELDS)[number];

export interface MergedEdit {
  content: PostContent;
  /** Fields the request gave a value for, other than date_pub (for the `updated` event). */
  changed: EditableField[];
  /** Whether the request sets date_pub (PUT always does: absent means "as soon as possible"). */
  datePubGiven: boolean;
  /** A request that changes who publishes the post in a way that does not add up. */
  issues: FieldIssue[];
}

/**
 * PATCH keeps every field the request leaves out; PUT replaces the whole
 * post, so an optional field left out is cleared. `null` clears an optional
 * field in both.
 */
export function mergeEdit(
  current: PostContent,
  input: UpdatePostInput | ReplacePostInput,
  mode: 'patch' | 'replace',
): MergedEdit {
  const given = (key: EditableField) => mode === 'replace' || input[key] !== undefined;
  // Who publishes: the account named, or the post's own user_id + token (the schemas refuse a mix).
  let instagramId = current.instagram_id;
  let userId = current.user_id;
  const issues: FieldIssue[] = [];
  if (input.instagram_id !== undefined) instagramId = input.instagram_id;
  else if (input.token !== undefined) {
    instagramId = null;
    userId = input.user_id ?? current.user_id;
  } else if (input.user_id !== undefined) {
    if (current.instagram_id !== null)
      issues.push({
        path: 'user_id',
        message: 'the post names a connected account: send instagram_id, or user_id with token',
      });
    else userId = input.user_id;
  }
  const content: PostContent = {
    instagram_id: instagramId,
    user_id: userId,
    content_type: given('content_type') ? input.content_type! : current.content_type,
    url: given('url') ? (input.url ?? null) : current.url,
    children: given('children')
      ? (input.children ?? []).map((c) => ({
          content_type: c.content_type,
          url: c.url,
          user_tags: (c.user_tags ?? []).map((t) => ({
            username: t.username,
            x: t.x ?? null,
            y: t.y ?? null,
          })),
          alt_text: c.alt_text ?? null,
        }))
      : current.children,
    caption: given('caption') ? (input.caption ?? null) : current.caption,
    location_id: given('location_id') ? (input.location_id ?? null) : current.location_id,
    thumb_offset: given('thumb_offset') ? (input.thumb_offset ?? null) : current.thumb_offset,
    user_tags: given('user_tags')
      ? (input.user_tags ?? []).map((t) => ({ username: t.username, x: t.x ?? null, y: t.y ?? null }))
      : current.user_tags,
    placement: given('placement') ? (input.placement ?? 'feed') : current.placement,
    alt_text: given('alt_text') ? (input.alt_text ?? null) : current.alt_text,
    collaborators: given('collaborators') ? (input.collaborators ?? []) : current.collaborators,
    cover_url: given('cover_url') ? (input.cover_url ?? null) : current.cover_url,
    share_to_feed: given('share_to_feed') ? (input.share_to_feed ?? null) : current.share_to_feed,
    audio_name: given('audio_name') ? (input.audio_name ?? null) : current.audio_name,
    trial_reel: given('trial_reel') ? (input.trial_reel ?? null) : current.trial_reel,
    first_comment: given('first_comment') ? (input.first_comment ?? null) : current.first_comment,
  };
  const changed = EDITABLE_FIELDS.filter((f) => f !== 'date_pub' && input[f] !== undefined);
  return { content, changed, datePubGiven: given('date_pub'), issues };
}
