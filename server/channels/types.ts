/** What polling remembers of an account between reads (server/channels/poll.ts). */
export interface CommentPollState {
  /** comments_count of each recent media at the last read: unchanged media are not read again. */
  counts: Record<string, number>;
  /** The wait before the next read, seconds: COMMENT_POLL_INTERVAL, longer while Meta's usage is high. */
  intervalS: number;
  /** Meta's highest usage figure at the last read, percent. */
  usage: number;
}

/** What the worker's channel jobs are configured with. */
export interface ChannelWorkerOptions {
  /** COMMENT_POLL_INTERVAL, seconds. */
  pollIntervalS: number;
  /** Whether Meta can deliver webhooks to this server (WEBHOOK_VERIFY_TOKEN and an app secret set). */
  webhooksConfigured: boolean;
  /** The first wait after a transient failure of an action (×3 each time); default 30 s. */
  retryDelayMs?: number;
}
