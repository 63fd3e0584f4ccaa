import type { FieldIssue } from '../errors.ts';
import {
  photoTagIssues,
  present,
  REEL_FIELDS,
  singleMediaIssues,
  userTagsJson,
  type PostKind,
} from './kind.ts';

/** What a story refuses: Instagram stories take only the media and user_tags. */
const NOT_FOR_STORIES = [
  'caption',
  'location_id',
  'first_comment',
  'collaborators',
  'alt_text',
  'thumb_offset',
  ...REEL_FIELDS,
] as const;

/**
 * A photo or a video (at most 60 s, 100 MB) shown for 24 hours. Any shape
 * of photo; a story video is processed by Meta like a reel.
 */
export const story: PostKind = {
  name: 'story',
  hasItems: false,
  processedFirst: (contentType) => contentType === 'Video',

  issues(post) {
    const issues: FieldIssue[] = singleMediaIssues(post);
    for (const field of NOT_FOR_STORIES)
      if (present(post[field]))
        issues.push({
          path: field,
          message: `${field} does not apply to a story: Instagram stories take only the media and user_tags`,
        });
    if (post.content_type === 'Photo') issues.push(...photoTagIssues(post.user_tags, 'user_tags'));
    return issues;
  },

  slots: (post) =>
    post.url
      ? [
          {
            path: 'url',
            url: post.url,
            role: {
              expects: post.content_type === 'Photo' ? 'image' : 'video',
              feedPhoto: false,
              story: true,
            },
          },
        ]
      : [],

  containerForm(params) {
    const photo = params.contentType === 'Photo';
    const form: Record<string, string> = { media_type: 'STORIES' };
    form[photo ? 'image_url' : 'video_url'] = params.url!;
    if (params.userTags.length > 0) form.user_tags = userTagsJson(params.userTags, photo);
    return form;
  },
};
