import type { ContentType } from '../db/schema.ts';
import type { ReplacePostInput, UpdatePostInput } from './schemas.ts';

/** What a post says, apart from its token and time. */
export interface PostContent {
  user_id: string;
  content_type: ContentType;
  url: string;
  caption: string | null;
  location_id: string | null;
  thumb_offset: number | null;
  user_tags: { username: string; x: number | null; y: number | null }[];
}

const EDITABLE_FIELDS = [
  'user_id',
  'content_type',
  'url',
  'caption',
  'location_id',
  'user_tags',
  'thumb_offset',
  'token',
  'date_pub',
] as const;
type EditableField = (typeof EDITABLE_FIELDS)[number];

export interface MergedEdit {
  content: PostContent;
  /** Fields the request gave a value for, other than date_pub (for the `updated` event). */
  changed: EditableField[];
  /** Whether the request sets date_pub (PUT always does: absent means "as soon as possible"). */
  datePubGiven: boolean;
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
  const content: PostContent = {
    user_id: given('user_id') ? input.user_id! : current.user_id,
    content_type: given('content_type') ? input.content_type! : current.content_type,
    url: given('url') ? input.url! : current.url,
    caption: given('caption') ? (input.caption ?? null) : current.caption,
    location_id: given('location_id') ? (input.location_id ?? null) : current.location_id,
    thumb_offset: given('thumb_offset') ? (input.thumb_offset ?? null) : current.thumb_offset,
    user_tags: given('user_tags')
      ? (input.user_tags ?? []).map((t) => ({ username: t.username, x: t.x ?? null, y: t.y ?? null }))
      : current.user_tags,
  };
  const changed = EDITABLE_FIELDS.filter((f) => f !== 'date_pub' && input[f] !== undefined);
  return { content, changed, datePubGiven: given('date_pub') };
}
