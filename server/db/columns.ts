/**
 * The shapes of jsonb columns, here beside the schema that declares them
 * (db/schema.ts) so that the schema imports nothing from the domains.
 */
/** Why an account is `suspected` (or a refresh failed): a code and what to do. */
export interface StateReason {
  code: string;
  message: string;
}

/** Profile facts under seed 002's names, as far as the official API can tell them. */
export interface InstagramInfo {
  username: string;
  full_name: string | null;
  biography: string | null;
  profile_pic_url: string | null;
  external_url: string | null;
  follower_count: number | null;
  following_count: number | null;
  media_count: number | null;
  is_business: boolean;
  account_type: string | null;
  fetched_at: string;
}

/** What polling remembers of an account between reads (server/channels/poll.ts). */
export interface CommentPollState {
  /** comments_count of each recent media at the last read: unchanged media are not read again. */
  counts: Record<string, number>;
  /** The wait before the next read, seconds: COMMENT_POLL_INTERVAL, longer while Meta's usage is high. */
  intervalS: number;
  /** Meta's highest usage figure at the last read, percent. */
  usage: number;
}
