import type { ChannelWorkerOptions } from '../channels/types.ts';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import type { Db } from '../db/client.ts';
import type { MetaClient } from '../instagrams/meta.ts';
import type { Logger } from '../logger.ts';
import type { MediaWorkerOptions, PublisherSettings } from '../publisher/types.ts';
import type { SendOptions } from '../webhooks/send.ts';

/**
 * Everything any job's handler may use, built once when the worker starts
 * (server/worker/worker.ts). Each handler names the part it needs; the list
 * in tasks.ts checks that this covers it.
 */
export interface WorkerDeps {
  db: Db;
  /** Meta's hosts: publishing, channels, the daily token and profile refresh. */
  meta: MetaClient;
  cipher: TokenCipher;
  logger: Logger;
  settings: PublisherSettings;
  media: MediaWorkerOptions;
  /** The waits between first-comment tries; tests shorten them. */
  firstCommentRetryDelaysMs?: number[] | undefined;
  webhooks: { send: SendOptions; retryDelaysMs?: number[] | undefined };
  channels: ChannelWorkerOptions;
  // What this process is doing, for the publisher's fencing and reconcile.
  ensureAlive(owner: string): Promise<void>;
  ownWorkerIds(): string[];
  running: Set<number>;
  jobsInFlight(): string[];
}
