import type { FieldIssue } from '../errors.ts';
import {
  photoTagIssues,
  present,
  REEL_FIELDS,
  singleMediaIssues,
  userTagsJson,
  type PostKind,
} from './kind.ts';

/** A single feed photo: JPEG 4:5 to 1.91:1, caption, location, alt text, collaborators, placed tags. */
export const photo: PostKind = {
  name: 'photo',
  hasItems: false,
  processedFirst: () => false,

  issues(post) {
    const issues: FieldIssue[] = singleMediaIssues(post);
    for (const field of REEL_FIELDS)
      if (present(post[field])) issues.push({ path: field, message: `${field} is only for videos (reels)` });
    if (post.thumb_offset != null)
      issues.push({ path: 'thumb_offset', message: 'thumb_offset is only for videos' });
    issues.push(...photoTagIssues(post.user_tags, 'user_tags'));
    return issues;
  },

  slots: (post) =>
    post.url
      ? [{ path: 'url', url: post.url, role: { expects: 'image', feedPhoto: true, story: false } }]
      : [],

  containerForm(params) {
    const form: Record<string, string> = {};
    if (params.collaborators.length > 0) form.collaborators = JSON.stringify(params.collaborators);
    if (params.altText) form.alt_text = params.altText;
    form.image_url = params.url!;
    if (params.userTags.length > 0) form.user_tags = userTagsJson(params.userTags, true);
    if (params.caption) form.caption = params.caption;
    if (params.locationId) form.location_id = params.locationId;
    return form;
  },
};
