/** What the worker's channel jobs are configured with. */
export interface ChannelWorkerOptions {
  /** COMMENT_POLL_INTERVAL, seconds. */
  pollIntervalS: number;
  /** Whether Meta can deliver webhooks to this server (WEBHOOK_VERIFY_TOKEN and an app secret set). */
  webhooksConfigured: boolean;
  /** The first wait after a transient failure of an action (×3 each time); default 30 s. */
  retryDelayMs?: number;
}
