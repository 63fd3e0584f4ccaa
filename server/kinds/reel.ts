import type { FieldIssue } from '../errors.ts';
import { present, singleMediaIssues, userTagsJson, type MediaSlot, type PostKind } from './kind.ts';

/** Meta's `trial_params.graduation_strategy` for our `trial_reel`. */
const GRADUATION = { manual: 'MANUAL', performance: 'SS_PERFORMANCE' } as const;

/**
 * A single feed video, which Meta publishes as a reel since 2023-11-09:
 * cover, thumbnail offset, audio name, trial reels, share_to_feed (true
 * unless false, so it stays in the grid). Meta processes it before it can
 * be published.
 */
export const reel: PostKind = {
  name: 'reel',
  hasItems: false,
  processedFirst: () => true,

  issues(post) {
    const issues: FieldIssue[] = singleMediaIssues(post);
    if (present(post.alt_text))
      issues.push({
        path: 'alt_text',
        message: 'alt_text is only for photos: Instagram takes no alt text on reels',
      });
    return issues;
  },

  slots(post) {
    const slots: MediaSlot[] = [];
    if (post.url)
      slots.push({ path: 'url', url: post.url, role: { expects: 'video', feedPhoto: true, story: false } });
    if (post.cover_url)
      slots.push({
        path: 'cover_url',
        url: post.cover_url,
        role: { expects: 'image', feedPhoto: false, story: false },
      });
    return slots;
  },

  containerForm(params) {
    const form: Record<string, string> = {};
    if (params.collaborators.length > 0) form.collaborators = JSON.stringify(params.collaborators);
    form.media_type = 'REELS';
    form.video_url = params.url!;
    form.share_to_feed = String(params.shareToFeed ?? true);
    if (params.thumbOffset !== null) form.thumb_offset = String(params.thumbOffset);
    if (params.coverUrl) form.cover_url = params.coverUrl;
    if (params.audioName) form.audio_name = params.audioName;
    if (params.trialReel)
      form.trial_params = JSON.stringify({ graduation_strategy: GRADUATION[params.trialReel] });
    if (params.userTags.length > 0) form.user_tags = userTagsJson(params.userTags, false);
    if (params.caption) form.caption = params.caption;
    if (params.locationId) form.location_id = params.locationId;
    return form;
  },
};
