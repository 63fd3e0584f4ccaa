import { z } from 'zod';
import { pageInput, pageOf } from '../lib/page.ts';
import { CHANNEL_ACTION_STATUSES, CHANNEL_ACTIONS } from '../db/schema.ts';

const ZId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** Most reply templates a channel keeps, and their lengths (Instagram's comment limit; Meta's DM text limit). */
export const MAX_TEMPLATES = 50;
export const MAX_COMMENT_CHARS = 2200;
export const MAX_DM_CHARS = 1000;

/**
 * `action` and `target` are plain strings here: seed 002's `like`, `follow`,
 * `hashtag`… must reach the service to be refused with their own numbered
 * codes (4010, 4030) and an explanation, not a generic validation error.
 */
const fields = {
  action: z.string().max(40).optional().meta({
    description:
      '`comment` (public reply), `dm` (private reply) or `hide`. Seed 002’s `like`, `follow`, `unfollow` → 400 `CHANNEL_ACTION_UNSUPPORTED` (4010); missing → 400 `CHANNEL_EMPTY_ACTION` (4100).',
    example: 'comment',
  }),
  target: z.string().max(40).optional().meta({
    description:
      '`comments`: comments left on the account’s own media (the default). `followers`, `subscriptions`, `likes`, `hashtag` → 400 `CHANNEL_TARGET_UNSUPPORTED` (4030).',
    example: 'comments',
  }),
  value: z.string().max(100, 'value is at most 100 characters').optional().meta({
    description:
      'The keyword a comment must contain (case-insensitive); empty: every comment. Required for `hide`.',
    example: 'price',
  }),
  comments: z
    .array(z.string().trim().min(1, 'a template must not be empty').max(MAX_COMMENT_CHARS))
    .max(MAX_TEMPLATES, `at most ${MAX_TEMPLATES} templates`)
    .optional()
    .meta({
      description:
        'Reply templates, one picked at random per comment; `{username}` becomes the commenter’s name. Required for `comment` and `dm` (a `dm` text is at most 1000 characters).',
      example: ['Hi @{username}, the price is in your DMs!'],
    }),
};

export const ZChannelsInput = z.object({ instagram_id: ZId }).strict();
export const ZChannelIdInput = z.object({ instagram_id: ZId, id: ZId }).strict();
export const ZCreateChannelInput = z.object({ instagram_id: ZId, ...fields }).strict();
export const ZUpdateChannelInput = z.object({ instagram_id: ZId, id: ZId, ...fields }).strict();
export type UpdateChannelInput = z.infer<typeof ZUpdateChannelInput>;
export type ChannelFields = Omit<z.infer<typeof ZCreateChannelInput>, 'instagram_id'>;

export const ZChannel = z
  .object({
    id: z.number().int(),
    instagram_id: z.number().int(),
    action: z.enum(CHANNEL_ACTIONS),
    target: z.literal('comments'),
    value: z.string(),
    comments: z.array(z.string()),
    state: z.enum(['start', 'stop', 'empty']).meta({
      description: '`start`: acting; `stop`: stopped by you; `empty`: started, nothing waiting to be done.',
    }),
    leads_count: z.number().int().meta({ description: 'Distinct commenters acted on.' }),
    targets_count: z.number().int().meta({ description: 'Matching comments seen.' }),
    followers_count: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'The account’s `follower_count` at its last profile read.' }),
    created_at: z.iso.datetime({ offset: true }),
    updated_at: z.iso.datetime({ offset: true }),
  })
  .meta({ id: 'Channel' });
export type ChannelOutput = z.infer<typeof ZChannel>;

export const ZChannelList = z.object({ items: z.array(ZChannel) }).meta({ id: 'ChannelList' });

export const ZDeletedChannel = z.object({ id: z.number().int(), deleted: z.literal(true) });

export const ZChannelActionsInput = z
  .object({
    instagram_id: ZId,
    id: ZId,
    ...pageInput(),
  })
  .strict();

export const ZChannelActionItem = z
  .object({
    id: z.number().int(),
    comment_id: z.string(),
    media_id: z.string().nullable(),
    username: z.string().nullable(),
    action: z.enum(CHANNEL_ACTIONS),
    status: z.enum(CHANNEL_ACTION_STATUSES),
    result_id: z.string().nullable().meta({ description: 'Meta’s id of the reply or message.' }),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    at: z.iso.datetime({ offset: true }).meta({
      description:
        'When it was done, skipped or failed; while queued, when it is planned to run (or was queued, if paused).',
    }),
  })
  .meta({ id: 'ChannelAction' });
export type ChannelActionOutput = z.infer<typeof ZChannelActionItem>;

export const ZChannelActionList = pageOf(ZChannelActionItem, 'ChannelActionList');
