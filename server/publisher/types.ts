/**
 * The shapes a publishing run works with: its settings, what the worker
 * gives it, and the run itself. Here, below run.ts, transitions.ts and
 * containers.ts, so that each of them imports the types without importing
 * the others.
 */
import type { TokenCipher } from '../crypto/token-cipher.ts';
import type { Db } from '../db/client.ts';
import type { PostRow } from '../db/schema.ts';
import type { GraphClient } from '../graph/graph-client.ts';
import type { MetaClient } from '../instagrams/meta.ts';
import type { AccountCredentials } from '../instagrams/token.ts';
import type { Logger } from '../logger.ts';
import type { PreflightMode } from '../media/preflight.ts';
import type { Resolver } from '../net/public-address.ts';

export interface PublisherSettings {
  /** How long a run owns a post; longer than the slowest run (every Graph call timing out). Default 5 min. */
  leaseMs: number;
  /** Transient failures tolerated before the post fails; default 6. */
  maxAttempts: number;
  /** Longest wait for Meta to process a video; default 10 min. */
  maxProcessingMs: number;
  /** Shortest wait between video status checks (they grow to half the time waited, up to 30 s); default 3 s. */
  pollDelayMs: number;
  /** First backoff after a transient error (x3 each time, capped 10 min); default 5 s. */
  retryDelayMs: number;
  /** A worker whose heartbeat is older than this is dead; default 20 s. */
  deadWorkerMs: number;
  /** Containers Meta lets one account make in a rolling 24 hours, carousel items included; default 400. */
  containersPer24h: number;
  /**
   * After a run marks a post "publish requested", how long no other run may publish it (unless Meta
   * answered first): the mark's budget, the Graph timeout (20 s) and time for Meta to finish a
   * request it already has. Default 60 s.
   */
  publishInFlightMs: number;
  /**
   * Longest the publish mark may take to commit. Slower means the database was stuck meanwhile and
   * another run may have been presumed to own the post: Meta is not asked, the post is handed over. Default 2 s.
   */
  markBudgetMs: number;
}

export const DEFAULT_PUBLISHER_SETTINGS: PublisherSettings = {
  leaseMs: 5 * 60_000,
  maxAttempts: 6,
  maxProcessingMs: 10 * 60_000,
  pollDelayMs: 3_000,
  retryDelayMs: 5_000,
  deadWorkerMs: 20_000,
  containersPer24h: 400,
  publishInFlightMs: 60_000,
  markBudgetMs: 2_000,
};

/** MEDIA_* settings the worker needs. */
export interface MediaWorkerOptions {
  /** MEDIA_PREFLIGHT: `off` skips the check before each container. */
  mode: PreflightMode;
  allowPrivate: boolean;
  resolver?: Resolver;
  /** PUBLIC_URL: our own uploads need no fetching. */
  publicUrl: string;
  /** MEDIA_RETENTION, in ms. */
  retentionMs: number;
}

export interface PublisherDeps {
  db: Db;
  media?: MediaWorkerOptions;
  /** Meta's Graph hosts: a post goes through the host of its token's login type. */
  meta: MetaClient;
  cipher: TokenCipher;
  logger: Logger;
  settings: PublisherSettings;
  /** Records `owner` as alive before its first claim, so other runs never mistake it for dead. */
  ensureAlive(owner: string): Promise<void>;
  /**
   * This process's worker ids. Whoever holds a post's job holds the only run
   * of it, so a lease still held by one of these is left over from a run that
   * ended without letting go (its database went away): it may be taken over.
   */
  ownWorkerIds(): string[];
  /**
   * Posts whose run is under way in this process. A second job for one of them (graphile-worker
   * unlocked a job it still runs, after a stall) ends at once: the running one hands over or finishes.
   */
  running: Set<number>;
}

/** What one run works with (graphile-worker's job helpers do the same for a job). */
export interface PublishRun {
  readonly deps: PublisherDeps;
  /** The claimed row, kept in step with every write the run makes. */
  readonly post: PostRow;
  /** The graphile-worker id holding the post's lease. */
  readonly owner: string;
  /** The job's priority, kept when the job is re-added (its owner's place in line). */
  readonly priority: number;
  readonly log: Logger;
  /** The connected account the post names, as read when the run began; null when the post has its own token. */
  readonly account: RunAccount | null;
  /** The Graph token: the account's current one, or the post's own. */
  readonly token: string;
  /** The Graph host of the token's login type. */
  readonly graph: GraphClient;
  /** How long an earlier run's media_publish request may still be in flight (database clock), at the claim. */
  readonly inflightMs: number;
}

/** The connected account a run publishes for; its `tokenCiphertext` is what a suspicion is checked against. */
export type RunAccount = Omit<AccountCredentials, 'token' | 'graph'>;

export interface Credentials {
  account: RunAccount | null;
  token: string;
  graph: GraphClient;
}

export interface PublishJob {
  postId: number;
  /** The graphile-worker id running the job. */
  owner: string;
  priority: number;
}
