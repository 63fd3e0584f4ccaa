import { z } from 'zod';
import { graphTokenSchema } from '../graph/token.ts';
import { pageInput, pageOf } from '../lib/page.ts';
import { CHILD_CONTENT_TYPES, CONTENT_TYPES, POST_EVENT_TYPES, POST_STATUSES } from '../db/schema.ts';
import { isLoopbackTestUrl, looksLikeUpload } from '../media/urls.ts';
import { ZPostError } from './post-error.ts';
import { publicUrlProblem } from '../net/public-address.ts';
import {
  captionProblems,
  crossFieldIssues,
  mediaUrlProblem,
  normalizeMediaUrl,
  USER_TAGS_MAX,
} from './rules.ts';

const ZUserId = z
  .string()
  .regex(/^\d{1,32}$/, 'user_id must be the digits of an Instagram professional account id')
  .meta({ description: 'Instagram professional account id (ig-user-id).', example: '17841400008460056' });

const ZContentType = z
  .enum(CONTENT_TYPES)
  .meta({ description: '`Photo`, `Video` (a reel in the feed) or `Carousel` (its items in `children`).' });

const ZUrl = z
  .string()
  .max(2048, 'url is at most 2048 characters')
  .superRefine((value, ctx) => {
    const problem = mediaUrlProblem(value);
    // An upload's URL may be http or localhost in development: the service tells ours from others'.
    if (problem && !looksLikeUpload(value) && !isLoopbackTestUrl(value))
      ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform(normalizeMediaUrl)
  .meta({
    description:
      'Public https URL of the JPEG image or the MP4/MOV video, or the `url` of an upload (`POST /media`); stored as the WHATWG URL parser normalises it.',
    example: 'https://cdn.example.com/a.jpg',
  });

/** PostgreSQL text cannot hold NUL; refuse it as a field problem instead of failing the insert. */
const noNul = (field: string) =>
  [(v: string) => !v.includes('\u0000'), `${field} must not contain NUL characters`] as const;

const ZCaption = z
  .string()
  .refine(...noNul('caption'))
  .superRefine((value, ctx) => {
    for (const message of captionProblems(value)) ctx.addIssue({ code: 'custom', message });
  })
  .meta({ description: 'At most 2200 characters, 30 hashtags and 20 @mentions.' });

const ZLocationId = z
  .string()
  .regex(/^\d{1,32}$/, 'location_id must be the digits of a Facebook Page id')
  .meta({ description: 'A Facebook Page id that has a location.' });

const ZCoordinate = z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');

const ZUserTagInput = z
  .object({
    username: z.string().regex(/^[A-Za-z0-9._]{1,30}$/, 'username must be an Instagram username'),
    x: ZCoordinate.nullish().meta({ description: 'From the left edge, 0 to 1; required for photos.' }),
    y: ZCoordinate.nullish().meta({ description: 'From the top edge, 0 to 1; required for photos.' }),
  })
  .strict();

const ZUserTags = z.array(ZUserTagInput).max(USER_TAGS_MAX, `at most ${USER_TAGS_MAX} user tags`);

export const PLACEMENTS = ['feed', 'story'] as const;
export const TRIAL_REELS = ['manual', 'performance'] as const;

const ZPlacement = z.enum(PLACEMENTS).meta({ description: '`feed` (default) or `story`.' });

const ZAltText = z
  .string()
  .max(1000, 'alt_text is at most 1000 characters')
  .refine(...noNul('alt_text'))
  .meta({ description: 'Describes a photo for screen readers; photos only, not stories.' });

const ZCollaborators = z
  .array(z.string().regex(/^[A-Za-z0-9._]{1,30}$/, 'each collaborator must be an Instagram username'))
  .max(3, 'at most 3 collaborators')
  .refine(
    (v) => new Set(v.map((u) => u.toLowerCase())).size === v.length,
    'collaborators must not repeat a username',
  )
  .meta({ description: 'Up to 3 Instagram usernames invited as collaborators; feed posts only.' });

const ZCoverUrl = z
  .string()
  .max(2048, 'cover_url is at most 2048 characters')
  .superRefine((value, ctx) => {
    const problem = publicUrlProblem(value, 'cover_url');
    if (problem && !looksLikeUpload(value) && !isLoopbackTestUrl(value))
      ctx.addIssue({ code: 'custom', message: problem });
  })
  .transform(normalizeMediaUrl)
  .meta({
    description:
      'Reels: public https URL of a JPEG cover (9:16 advised), or an upload’s `url`; overrides thumb_offset.',
  });

const ZAudioName = z
  .string()
  .max(100, 'audio_name is at most 100 characters')
  .refine(...noNul('audio_name'))
  .meta({ description: 'Reels: the name of the reel’s original audio.' });

const ZFirstComment = z
  .string()
  .refine(...noNul('first_comment'))
  .superRefine((value, ctx) => {
    for (const message of captionProblems(value))
      ctx.addIssue({ code: 'custom', message: message.replace(/^caption/, 'first_comment') });
  })
  .meta({
    description:
      'Posted as the first comment once the post is live (e.g. hashtags); feed posts only; the caption’s limits.',
  });

export const CHILDREN_MIN = 2;
export const CHILDREN_MAX = 10;

const ZChildInput = z
  .object({
    content_type: z.enum(CHILD_CONTENT_TYPES),
    url: ZUrl,
    user_tags: ZUserTags.nullish(),
    alt_text: ZAltText.nullish(),
  })
  .strict();

const ZChildren = z
  .array(ZChildInput)
  .min(CHILDREN_MIN, `a carousel has ${CHILDREN_MIN} to ${CHILDREN_MAX} children`)
  .max(CHILDREN_MAX, `a carousel has ${CHILDREN_MIN} to ${CHILDREN_MAX} children`)
  .meta({ description: 'A carousel’s items, in order: 2 to 10 photos and videos (mixed is fine).' });

const ZTrialReel = z.enum(TRIAL_REELS).meta({
  description:
    'Reels: share first with non-followers only. `manual` graduates when you choose, `performance` when it does well (Meta’s MANUAL / SS_PERFORMANCE).',
});

const ZThumbOffset = z
  .number()
  .int('thumb_offset is whole milliseconds')
  .min(0)
  .max(15 * 60 * 1000, 'thumb_offset is past the longest reel (15 minutes)')
  .meta({ description: 'Cover frame of a video, in milliseconds from the start.' });

const ZGraphToken = graphTokenSchema().meta({
  description: 'The account’s Graph access token. Write-only: stored encrypted, never returned.',
});

const DATE_PUB_BEFORE = Date.parse('2100-01-01T00:00:00Z');

const ZDatePub = z.iso
  .datetime({
    offset: true,
    message: 'date_pub must be RFC 3339 with a time zone, e.g. 2026-11-22T17:00:00Z',
  })
  // Far enough for any plan, and keeps every 24-hour window around it inside the representable years.
  .refine((v) => !(Date.parse(v) >= DATE_PUB_BEFORE), 'date_pub must be before 2100-01-01T00:00:00Z')
  .meta({
    description: 'When to publish, before 2100. Absent, null or in the past: as soon as possible.',
  });

const ZInstagramRef = z.number().int().positive().max(Number.MAX_SAFE_INTEGER).meta({
  description:
    'A connected account (`GET /instagrams`) whose current token publishes the post: instead of `user_id` + `token`.',
});

const fields = {
  instagram_id: ZInstagramRef.optional(),
  user_id: ZUserId.optional(),
  content_type: ZContentType,
  url: ZUrl.optional(),
  children: ZChildren.nullish(),
  caption: ZCaption.nullish(),
  location_id: ZLocationId.nullish(),
  user_tags: ZUserTags.nullish(),
  thumb_offset: ZThumbOffset.nullish(),
  token: ZGraphToken.optional(),
  date_pub: ZDatePub.nullish(),
  placement: ZPlacement.nullish(),
  alt_text: ZAltText.nullish(),
  collaborators: ZCollaborators.nullish(),
  cover_url: ZCoverUrl.nullish(),
  share_to_feed: z.boolean().nullish().meta({ description: 'Reels: also show in the grid; default true.' }),
  audio_name: ZAudioName.nullish(),
  trial_reel: ZTrialReel.nullish(),
  first_comment: ZFirstComment.nullish(),
};

const MIXED = 'give instagram_id, or user_id with token, not both';

/** A post names a connected account (`instagram_id`) or carries its own (`user_id` + `token`): exactly one. */
export function formIssues(post: {
  instagram_id?: number | undefined;
  user_id?: string | undefined;
  token?: string | undefined;
}): { path: string; message: string }[] {
  if (post.instagram_id !== undefined)
    return [
      ...(post.user_id !== undefined ? [{ path: 'user_id', message: MIXED }] : []),
      ...(post.token !== undefined ? [{ path: 'token', message: MIXED }] : []),
    ];
  return [
    ...(post.user_id === undefined
      ? [{ path: 'user_id', message: 'user_id is required (or instagram_id instead of user_id and token)' }]
      : []),
    ...(post.token === undefined
      ? [{ path: 'token', message: 'token is required (or instagram_id instead of user_id and token)' }]
      : []),
  ];
}

const withCrossFieldRules = <
  T extends z.ZodType<Parameters<typeof crossFieldIssues>[0] & Parameters<typeof formIssues>[0]>,
>(
  schema: T,
) =>
  schema
    // Which form the post takes is told even when other fields are bad too: one answer lists every problem.
    .superRefine(
      (post, ctx) => {
        for (const issue of formIssues(post))
          ctx.addIssue({ code: 'custom', path: issue.path.split('.'), message: issue.message });
      },
      { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
    )
    .superRefine((post, ctx) => {
      for (const issue of crossFieldIssues(post))
        ctx.addIssue({ code: 'custom', path: issue.path.split('.'), message: issue.message });
    });

export const ZCreatePostInput = withCrossFieldRules(z.object(fields).strict());
export type CreatePostInput = z.infer<typeof ZCreatePostInput>;

const ZPostId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export const ZPostIdInput = z.object({ id: ZPostId }).strict();

export const ZReplacePostInput = withCrossFieldRules(z.object({ id: ZPostId, ...fields }).strict());
export type ReplacePostInput = z.infer<typeof ZReplacePostInput>;

/** PATCH: every field optional; the cross-field rules run on the merged post in the service. */
export const ZUpdatePostInput = z
  .object({
    id: ZPostId,
    instagram_id: ZInstagramRef.optional(),
    user_id: ZUserId.optional(),
    content_type: ZContentType.optional(),
    url: ZUrl.optional(),
    caption: fields.caption,
    location_id: fields.location_id,
    user_tags: fields.user_tags,
    thumb_offset: fields.thumb_offset,
    token: ZGraphToken.optional(),
    date_pub: fields.date_pub,
    placement: fields.placement,
    alt_text: fields.alt_text,
    collaborators: fields.collaborators,
    cover_url: fields.cover_url,
    share_to_feed: fields.share_to_feed,
    audio_name: fields.audio_name,
    trial_reel: fields.trial_reel,
    first_comment: fields.first_comment,
    children: fields.children,
  })
  .strict()
  .superRefine((post, ctx) => {
    if (post.instagram_id === undefined) return;
    for (const path of ['user_id', 'token'] as const)
      if (post[path] !== undefined) ctx.addIssue({ code: 'custom', path: [path], message: MIXED });
  });
export type UpdatePostInput = z.infer<typeof ZUpdatePostInput>;

export const ZListPostsInput = z
  .object({
    user_id: ZUserId.optional(),
    instagram_id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
    status: z.enum(POST_STATUSES).optional(),
    ...pageInput(),
  })
  .strict();
export type ListPostsInput = z.infer<typeof ZListPostsInput>;

// ---- outputs ------------------------------------------------------------------

const ZInstant = z.iso.datetime();

const ZUserTag = z
  .object({ username: z.string(), x: z.number().nullable(), y: z.number().nullable() })
  .meta({ id: 'UserTag' });

export const ZPost = z
  .object({
    id: z.number().int(),
    user_id: z.string().meta({ description: 'The Instagram account id the post goes to.' }),
    instagram_id: z.number().int().nullable().meta({
      description: 'The connected account that publishes it; null when the post carries its own token.',
    }),
    content_type: ZContentType,
    url: z.string().nullable().meta({ description: 'Null for a carousel.' }),
    children: z
      .array(
        z
          .object({
            content_type: z.enum(CHILD_CONTENT_TYPES),
            url: z.string(),
            user_tags: z.array(ZUserTag),
            alt_text: z.string().nullable(),
            creation_id: z
              .string()
              .nullable()
              .meta({ description: 'The child’s media container id, once made.' }),
          })
          .meta({ id: 'CarouselChild' }),
      )
      .meta({ description: 'A carousel’s items in order; empty for other posts.' }),
    caption: z.string().nullable(),
    location_id: z.string().nullable(),
    user_tags: z.array(ZUserTag),
    thumb_offset: z.number().int().nullable(),
    placement: z.enum(PLACEMENTS),
    alt_text: z.string().nullable(),
    collaborators: z.array(z.string()),
    cover_url: z.string().nullable(),
    share_to_feed: z
      .boolean()
      .nullable()
      .meta({ description: 'Reels only (true unless set false); null otherwise.' }),
    audio_name: z.string().nullable(),
    trial_reel: z.enum(TRIAL_REELS).nullable(),
    first_comment: z.string().nullable(),
    first_comment_id: z
      .string()
      .nullable()
      .meta({ description: 'The comment’s id once posted; null until then (or if it could not be posted).' }),
    date_pub: ZInstant,
    status: z.enum(POST_STATUSES),
    creation_id: z.string().nullable().meta({ description: 'The media container id, once made.' }),
    media_id: z.string().nullable(),
    permalink: z.string().nullable(),
    error: ZPostError.nullable(),
    attempts: z.number().int(),
    published_at: ZInstant.nullable(),
    created_at: ZInstant,
    updated_at: ZInstant,
  })
  .meta({ id: 'Post' });
export type PostOutput = z.infer<typeof ZPost>;

export const ZPostList = pageOf(ZPost, 'PostList');

export const ZDeletePostOutput = z
  .object({ id: z.number().int(), deleted: z.literal(true) })
  .meta({ id: 'DeletedPost' });

const ZPostEvent = z
  .object({
    id: z.number().int(),
    type: z.enum(POST_EVENT_TYPES),
    message: z.string(),
    date_pub: ZInstant.nullable(),
    error: ZPostError.nullable(),
    created_at: ZInstant,
  })
  .meta({ id: 'PostEvent' });

export const ZPostEventList = z.object({ items: z.array(ZPostEvent) }).meta({ id: 'PostEventList' });
