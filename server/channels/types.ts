/** What polling remembers of an account between reads (server/channels/poll.ts). */
export interface CommentPollState {
  /** comments_count of each recent media at the last read: unchanged media are not read again. */
  counts: Record<string, number>;
  /** The wait before the next read, seconds: COMMENT_POLL_INTERVAL, longer while Meta's usage is high. */
  intervalS: number;
  /** Meta's highest usage figure at the last read, percent. */
  usage: number;
}
