import { z } from 'zod';
import { graphTokenSchema } from '../graph/token.ts';
import { INSTAGRAM_EVENT_TYPES, INSTAGRAM_STATES, LOGIN_TYPES } from '../db/schema.ts';

export const DEFAULT_HOURS = { min: 0, max: 0 };
/** Seed 002's like/follow/unfollow are kept for its clients; they do nothing (docs/accounts.md). */
export const DEFAULT_SPEED = { comment: 10, dm: 10, hide: 60, like: 10, follow: 10, unfollow: 10 };

const ZToken = graphTokenSchema().meta({
  description:
    'A Graph access token: `IG…` (Instagram Login) or `EAA…` (Facebook Login). Write-only: checked with Meta, stored encrypted, never returned.',
});

const ZHour = z.number().int('hours are whole hours').min(0).max(24);
const ZHours = z.object({ min: ZHour, max: ZHour }).strict().meta({
  description: 'Hours of the day (0–24) in `timezone` when channels may act; min == max means all day.',
});

const ZRate = z.number().int().min(0).max(10_000);
const ZSpeed = z
  .object({
    comment: ZRate.optional(),
    dm: ZRate.optional(),
    hide: ZRate.optional(),
    like: ZRate.optional(),
    follow: ZRate.optional(),
    unfollow: ZRate.optional(),
  })
  .strict()
  .meta({
    description:
      'Most channel actions per rolling hour. `comment`, `dm`, `hide` are used (defaults 10, 10, 60); seed 002’s `like`, `follow`, `unfollow` are kept but do nothing.',
  });

const ZTimezone = z
  .string()
  .max(64)
  .refine((v) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: v });
      return true;
    } catch {
      return false;
    }
  }, 'timezone must be an IANA time zone such as Europe/Moscow')
  .meta({ description: 'IANA time zone of `hours`; default UTC.', example: 'Europe/Moscow' });

const ZIgUserId = z
  .string()
  .regex(/^\d{1,32}$/, 'user_id must be the digits of an Instagram professional account id')
  .meta({ description: 'With a Facebook token: which Instagram account it should connect.' });

const settings = {
  trusted: z.boolean().optional().meta({ description: 'Seed 002’s flag, stored and returned.' }),
  hours: ZHours.optional(),
  speed: ZSpeed.optional(),
  timezone: ZTimezone.optional(),
};

/** Seed 002 sent `username` and `password`: the first is ignored, the second refused. */
const seedFields = {
  username: z.string().max(100).optional().meta({ description: 'Ignored: Meta says who the account is.' }),
  password: z
    .string()
    .optional()
    .meta({ description: 'Never accepted (400 `PASSWORD_NOT_ACCEPTED`): connect with a token or OAuth.' }),
};

export const ZConnectInput = z
  .object({ token: ZToken, user_id: ZIgUserId.optional(), ...settings, ...seedFields })
  .strict();
export type ConnectInput = z.infer<typeof ZConnectInput>;

const ZId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export const ZInstagramIdInput = z.object({ id: ZId }).strict();

export const ZUpdateInstagramInput = z
  .object({ id: ZId, token: ZToken.optional(), ...settings, ...seedFields })
  .strict();
export type UpdateInstagramInput = z.infer<typeof ZUpdateInstagramInput>;

export const ZStartOAuthInput = z
  .object({
    login_type: z.enum(LOGIN_TYPES),
    redirect_uri: z
      .string()
      .max(2048)
      .meta({ description: 'Where the browser returns to: must start with one of APP_REDIRECT_URIS.' }),
  })
  .strict();

// ---- outputs ------------------------------------------------------------------

const ZInstant = z.iso.datetime();

const ZStateReason = z
  .object({ code: z.string(), message: z.string() })
  .meta({ id: 'StateReason', description: 'Why the account is suspected, and what to do.' });

const ZInfo = z
  .object({
    username: z.string(),
    full_name: z.string().nullable(),
    biography: z.string().nullable(),
    profile_pic_url: z.string().nullable(),
    external_url: z.string().nullable(),
    follower_count: z.number().int().nullable(),
    following_count: z.number().int().nullable(),
    media_count: z.number().int().nullable(),
    is_business: z.boolean(),
    account_type: z
      .string()
      .nullable()
      .meta({ description: '`BUSINESS` or `MEDIA_CREATOR` when Meta says.' }),
    fetched_at: ZInstant,
  })
  .meta({ id: 'InstagramInfo', description: 'The profile, under seed 002’s names; refreshed daily.' });

export const ZInstagram = z
  .object({
    id: z.number().int(),
    user_id: z.string().meta({ description: 'Meta’s id of the professional account (ig-user-id).' }),
    username: z.string(),
    login_type: z.enum(LOGIN_TYPES),
    state: z.enum(INSTAGRAM_STATES),
    state_reason: ZStateReason.nullable(),
    info: ZInfo,
    trusted: z.boolean(),
    hours: z.object({ min: z.number().int(), max: z.number().int() }).meta({ id: 'InstagramHours' }),
    speed: z
      .object({
        comment: z.number().int(),
        dm: z.number().int(),
        hide: z.number().int(),
        like: z.number().int(),
        follow: z.number().int(),
        unfollow: z.number().int(),
      })
      .meta({ id: 'InstagramSpeed' }),
    timezone: z.string(),
    token_expires_at: ZInstant.nullable().meta({
      description: 'When the stored token expires; null for a Page token, which does not.',
    }),
    token_refreshed_at: ZInstant,
    created_at: ZInstant,
    updated_at: ZInstant,
  })
  .meta({ id: 'Instagram' });
export type InstagramOutput = z.infer<typeof ZInstagram>;

export const ZInstagramList = z.object({ items: z.array(ZInstagram) }).meta({ id: 'InstagramList' });

export const ZRefreshOutput = z
  .object({
    instagram: ZInstagram,
    token_refreshed: z.boolean(),
    message: z.string().meta({ description: 'What Meta said, e.g. that the token is too young to refresh.' }),
  })
  .meta({ id: 'InstagramRefresh' });

export const ZDeletedInstagram = z
  .object({ id: z.number().int(), deleted: z.literal(true) })
  .meta({ id: 'DeletedInstagram' });

export const ZInstagramEventList = z
  .object({
    items: z.array(
      z
        .object({
          id: z.number().int(),
          type: z.enum(INSTAGRAM_EVENT_TYPES),
          message: z.string(),
          reason: ZStateReason.nullable(),
          created_at: ZInstant,
        })
        .meta({ id: 'InstagramEvent' }),
    ),
  })
  .meta({ id: 'InstagramEventList' });

export const ZOAuthStart = z
  .object({
    authorize_url: z.string().meta({ description: 'Open it in ASWebAuthenticationSession.' }),
    state: z.string(),
    expires_at: ZInstant,
  })
  .meta({ id: 'OAuthStart' });
