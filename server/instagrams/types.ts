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
