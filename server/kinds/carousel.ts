import type { FieldIssue } from '../errors.ts';
import { photoTagIssues, REEL_FIELDS, userTagsJson, type PostKind, type UserTag } from './kind.ts';

/** A carousel's own rules: its media are its children (2 to 10, checked by the schema). */
function carouselIssues(post: Parameters<PostKind['issues']>[0]): FieldIssue[] {
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

/**
 * 2 to 10 photos and videos in one post. Each item gets a container of its
 * own first (`hasItems`; videos among them are processed by Meta), then the
 * carousel's container names them in order with the post's caption,
 * location and collaborators.
 */
export const carousel: PostKind = {
  name: 'carousel',
  hasItems: true,
  // Its items are waited for before its own container is made; the carousel itself is ready at once.
  processedFirst: () => false,

  issues(post) {
    const issues = carouselIssues(post);
    for (const field of [...REEL_FIELDS, 'thumb_offset'] as const)
      if (post[field] != null) issues.push({ path: field, message: `${field} is only for videos (reels)` });
    return issues;
  },

  slots: (post) =>
    (post.children ?? []).map((child, i) => ({
      path: `children.${i}.url`,
      url: child.url,
      role: { expects: child.content_type === 'Photo' ? 'image' : 'video', feedPhoto: true, story: false },
    })),

  containerForm(params) {
    const form: Record<string, string> = {
      media_type: 'CAROUSEL',
      children: (params.childIds ?? []).join(','),
    };
    if (params.caption) form.caption = params.caption;
    if (params.locationId) form.location_id = params.locationId;
    if (params.collaborators.length > 0) form.collaborators = JSON.stringify(params.collaborators);
    return form;
  },
};

export interface CarouselItem {
  contentType: 'Photo' | 'Video';
  url: string;
  altText: string | null;
  userTags: UserTag[];
}

/** A carousel item's container: no caption or location; videos as `media_type=VIDEO`. */
export function carouselItemForm(item: CarouselItem): Record<string, string> {
  const form: Record<string, string> = { is_carousel_item: 'true' };
  const photo = item.contentType === 'Photo';
  if (photo) {
    form.image_url = item.url;
    if (item.altText) form.alt_text = item.altText;
  } else {
    form.media_type = 'VIDEO';
    form.video_url = item.url;
  }
  if (item.userTags.length > 0) form.user_tags = userTagsJson(item.userTags, photo);
  return form;
}
