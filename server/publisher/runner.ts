import { EventEmitter } from 'node:events';
import { sql } from 'drizzle-orm';
import { Logger as WorkerLogger, run, type Runner, type WorkerEvents } from 'graphile-worker';
import { deleteExpiredSessions } from '../auth/sessions.ts';
import { deleteExpiredRateLimits } from '../auth/throttle.ts';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import type { Db } from '../db/client.ts';
import { arrayLiteral } from '../db/sql.ts';
import { createWorkerPool } from '../db/worker-pool.ts';
import type { MetaClient } from '../instagrams/meta.ts';
import { deleteExpiredIdempotencyKeys } from '../idempotency/idempotency.ts';
import { deleteExpiredOAuthStates } from '../instagrams/oauth.ts';
import { refreshDueAccounts } from '../instagrams/refresh.ts';
import {
  REFRESH_TOKENS_CRONTAB,
  REFRESH_TOKENS_TASK,
  ZRefreshTokensPayload,
} from '../jobs/refresh-tokens.ts';
import { PRUNE_EXPIRED_CRONTAB, PRUNE_EXPIRED_TASK, ZPruneExpiredPayload } from '../jobs/prune-expired.ts';
import { PUBLISH_POST_TASK, ZPublishPostPayload } from '../jobs/publish-post.ts';
import { DELIVER_WEBHOOK_TASK, ZDeliverWebhookPayload } from '../jobs/deliver-webhook.ts';
import { FIRST_COMMENT_TASK, ZFirstCommentPayload } from '../jobs/first-comment.ts';
import { postFirstComment } from './first-comment.ts';
import { deliverWebhook, type DeliverDeps } from '../webhooks/deliver.ts';
import {
  enqueueReconcileAfterStart,
  RECONCILE_CRONTAB,
  RECONCILE_TASK,
  ZReconcilePayload,
} from '../jobs/reconcile.ts';
import { describeError, scrubSecrets, type Logger } from '../logger.ts';
import { reconcile } from './reconcile.ts';
import { PRUNE_MEDIA_CRONTAB, PRUNE_MEDIA_TASK, ZPruneMediaPayload } from '../jobs/prune-media.ts';
import { pruneMedia } from '../media/retention.ts';
import { runChannelAction } from '../channels/act.ts';
import { pollComments } from '../channels/poll.ts';
import { processComments, pruneComments } from '../channels/process.ts';
import {
  CHANNEL_ACTION_TASK,
  POLL_COMMENTS_TASK,
  PROCESS_COMMENTS_TASK,
  ZChannelActionPayload,
  ZPollCommentsPayload,
  ZProcessCommentsPayload,
} from '../jobs/channels.ts';
import type { Env } from '../env.ts';
import { installHooks } from '../hooks.ts';
import { publishPost } from './run.ts';
import { DEFAULT_PUBLISHER_SETTINGS, type MediaWorkerOptions, type PublisherSettings } from './types.ts';

export interface WorkerOptions {
  url: string;
  db: Db;
  /** Meta's hosts: publishing, and the daily token and profile refresh. */
  meta: MetaClient;
  cipher: TokenCipher;
  logger: Logger;
  /** Jobs run at once by this process (WORKER_CONCURRENCY). */
  concurrency: number;
  /** How often idle workers look for jobs that became due; default 500 ms. */
  pollIntervalMs?: number;
  /** How often this process proves it is alive; default 5 s. */
  heartbeatMs?: number;
  settings?: Partial<PublisherSettings>;
  /** The waits between first-comment tries; tests shorten them. */
  firstCommentRetryDelaysMs?: number[];
  /** Webhook sending: WEBHOOK_ALLOW_PRIVATE_HOSTS, and for tests a shorter schedule, timeout and a resolver. */
  webhooks?: Partial<Pick<DeliverDeps, 'retryDelaysMs'>> & Partial<DeliverDeps['send']>;
  /** Channels: COMMENT_POLL_INTERVAL, whether Meta's webhooks can reach us, and for tests a shorter retry. */
  channels?: { pollIntervalS?: number; webhooksConfigured?: boolean; retryDelayMs?: number };
  /** Uploads and media URLs: pre-flight before each container, and retention. Default: pre-flight off, 7 days. */
  media?: Partial<MediaWorkerOptions>;
  /** DATABASE_TIMEOUT for graphile-worker's own connections (server/db/socket.ts); default 5 s. */
  databaseTimeoutMs?: number;
  /** Called when the worker pool stops without stop() being called; npm start then exits with 1. */
  onPoolStopped?: () => void;
}

/** Meta can deliver comment webhooks to this server: a verify token and an app secret to check signatures. */
export function webhooksConfigured(env: Pick<Env, 'WEBHOOK_VERIFY_TOKEN'>, meta: MetaClient): boolean {
  return Boolean(env.WEBHOOK_VERIFY_TOKEN) && Boolean(meta.apps.instagram ?? meta.apps.facebook);
}

export interface PublishWorker {
  /** Stop taking jobs, let running ones finish, then stop. */
  stop(): Promise<void>;
  workerIds(): string[];
  /** publish_post runs started by this process. */
  publishRuns(): number;
}

/**
 * graphile-worker's log lines carry whole error objects and job rows, and
 * drizzle's error messages carry query parameters: only a safe summary of
 * each reaches our log (describeError), and `params:` lines are cut from the
 * message text.
 */
export function workerLogger(logger: Logger): WorkerLogger {
  return new WorkerLogger(() => (level, message, meta) => {
    const raw = (meta ?? {}) as Record<string, unknown>;
    const fields: Record<string, unknown> = { component: 'graphile-worker' };
    const job = raw.job as { id?: unknown; task_identifier?: unknown; attempts?: unknown } | undefined;
    if (job) fields.job = { id: job.id, task: job.task_identifier, attempts: job.attempts };
    const error = raw.error ?? raw.fatalError;
    if (error !== undefined) Object.assign(fields, describeError(error));
    const text = scrubSecrets(message.replace(/^\s*params: .*$/gm, '').replace(/\n\s*\n/g, '\n')).slice(
      0,
      2000,
    );
    // LogLevel is a const enum of these strings, which verbatimModuleSyntax cannot import.
    const name: string = level;
    if (name === 'error') logger.error(fields, text);
    else if (name === 'warning') logger.warn(fields, text);
    else logger.debug(fields, text);
  });
}

export async function startPublishWorker(opts: WorkerOptions): Promise<PublishWorker> {
  installHooks();
  const settings = { ...DEFAULT_PUBLISHER_SETTINGS, ...opts.settings };
  const media: MediaWorkerOptions = {
    mode: 'off',
    allowPrivate: false,
    publicUrl: '',
    retentionMs: 7 * 86_400_000,
    ...opts.media,
  };
  const logger = opts.logger.child({ component: 'worker' });
  const ids = new Set<string>();
  const running = new Set<number>();
  const beating = new Set<string>();
  let publishRuns = 0;

  const beat = async (workerIds: string[]) => {
    if (workerIds.length === 0) return;
    await opts.db.execute(sql`
      insert into worker_heartbeats (worker_id, seen_at)
      select unnest(${arrayLiteral(workerIds)}::text[]), now()
      on conflict (worker_id) do update set seen_at = excluded.seen_at`);
  };
  const ensureAlive = async (owner: string) => {
    if (beating.has(owner)) return;
    ids.add(owner);
    await beat([owner]);
    beating.add(owner);
  };

  const events: WorkerEvents = new EventEmitter() as WorkerEvents;
  events.on('worker:create', ({ worker }) => {
    ids.add(worker.workerId);
  });
  // Jobs this process is running, from fetch until graphile-worker has recorded their outcome.
  const inFlight = new Set<string>();
  events.on('job:start', ({ job }) => inFlight.add(String(job.id)));
  events.on('job:complete', ({ job }) => inFlight.delete(String(job.id)));

  // Our own pool rather than one graphile-worker makes: it would end its pool without waiting
  // at stop(), and its outcome writes must be retried whatever connection error they meet.
  const pgPool = createWorkerPool(opts.url, {
    max: Math.max(10, opts.concurrency + 2),
    timeoutMs: opts.databaseTimeoutMs ?? 5_000,
    logger,
  });
  let stopping = false;
  const runner: Runner = await run({
    pgPool,
    concurrency: opts.concurrency,
    pollInterval: opts.pollIntervalMs ?? 500,
    noHandleSignals: true,
    logger: workerLogger(logger),
    events,
    crontab: [RECONCILE_CRONTAB, PRUNE_EXPIRED_CRONTAB, REFRESH_TOKENS_CRONTAB, PRUNE_MEDIA_CRONTAB].join(
      '\n',
    ),
    taskList: {
      [PUBLISH_POST_TASK]: async (payload, helpers) => {
        const { postId } = ZPublishPostPayload.parse(payload);
        publishRuns++;
        const owner = helpers.job.locked_by ?? `worker-${process.pid}`;
        await publishPost(
          { ...opts, media, logger, settings, ensureAlive, ownWorkerIds: () => [...ids], running },
          { postId, owner, priority: helpers.job.priority },
        );
      },
      [RECONCILE_TASK]: async (payload) => {
        ZReconcilePayload.parse(payload);
        await reconcile(opts.db, {
          logger,
          deadWorkerMs: settings.deadWorkerMs,
          ownWorkerIds: [...ids],
          runningHere: [...running],
          jobsInFlight: [...inFlight],
        });
      },
      [PRUNE_EXPIRED_TASK]: async (payload) => {
        ZPruneExpiredPayload.parse(payload);
        const sessions = await deleteExpiredSessions(opts.db);
        const counters = await deleteExpiredRateLimits(opts.db);
        const oauthStates = await deleteExpiredOAuthStates(opts.db);
        const comments = await pruneComments(opts.db);
        const idempotencyKeys = await deleteExpiredIdempotencyKeys(opts.db);
        logger.info(
          { sessions, counters, oauthStates, comments, idempotencyKeys },
          'deleted expired sessions, rate-limit counters, OAuth states, old comments and kept answers',
        );
      },
      [PRUNE_MEDIA_TASK]: async (payload) => {
        ZPruneMediaPayload.parse(payload);
        const removed = await pruneMedia(opts.db, { retentionMs: media.retentionMs });
        logger.info({ removed }, 'removed uploads no post needs');
      },
      [FIRST_COMMENT_TASK]: async (payload) => {
        const { postId } = ZFirstCommentPayload.parse(payload);
        await postFirstComment({ ...opts, logger, retryDelaysMs: opts.firstCommentRetryDelaysMs }, postId);
      },
      [DELIVER_WEBHOOK_TASK]: async (payload) => {
        const { deliveryId } = ZDeliverWebhookPayload.parse(payload);
        const { retryDelaysMs, ...send } = opts.webhooks ?? {};
        await deliverWebhook(
          {
            db: opts.db,
            cipher: opts.cipher,
            logger,
            retryDelaysMs,
            send: { timeoutMs: 10_000, allowPrivate: false, ...send },
          },
          deliveryId,
        );
      },
      [PROCESS_COMMENTS_TASK]: async (payload) => {
        ZProcessCommentsPayload.parse(payload);
        await processComments({ db: opts.db, logger });
      },
      [CHANNEL_ACTION_TASK]: async (payload) => {
        const { actionId } = ZChannelActionPayload.parse(payload);
        await runChannelAction(
          {
            db: opts.db,
            meta: opts.meta,
            cipher: opts.cipher,
            logger,
            retryDelayMs: opts.channels?.retryDelayMs,
          },
          actionId,
        );
      },
      [POLL_COMMENTS_TASK]: async (payload) => {
        const { instagramId } = ZPollCommentsPayload.parse(payload);
        await pollComments(
          {
            db: opts.db,
            meta: opts.meta,
            cipher: opts.cipher,
            logger,
            intervalS: opts.channels?.pollIntervalS ?? 300,
            webhooksConfigured: opts.channels?.webhooksConfigured ?? false,
          },
          instagramId,
        );
      },
      [REFRESH_TOKENS_TASK]: async (payload) => {
        ZRefreshTokensPayload.parse(payload);
        const outcome = await refreshDueAccounts({
          db: opts.db,
          meta: opts.meta,
          cipher: opts.cipher,
          logger,
        });
        logger.info(outcome, 'refreshed Instagram accounts');
      },
    },
  });
  // A pool that stops on its own (not through stop()) publishes nothing more. Database
  // outages do not get here (see RETRYABLE_ERROR_CODES above).
  const died = (error?: unknown) => {
    if (stopping) return;
    logger.fatal(describeError(error), 'the worker pool stopped unexpectedly');
    opts.onPoolStopped?.();
  };
  runner.promise.then(() => died(), died);

  const timer = setInterval(() => {
    beat([...ids]).catch((error: unknown) => logger.warn(describeError(error), 'heartbeat failed'));
  }, opts.heartbeatMs ?? 5_000);
  timer.unref();

  await enqueueReconcileAfterStart(
    (task, payload, spec) => runner.addJob(task, payload, spec),
    settings.deadWorkerMs,
  );
  logger.info({ concurrency: opts.concurrency }, 'publishing worker started');

  return {
    workerIds: () => [...ids],
    publishRuns: () => publishRuns,
    async stop() {
      stopping = true;
      clearInterval(timer);
      await runner.stop();
      await pgPool.end();
      // Every job has finished or handed its post over: nothing is owned by these ids any more.
      if (ids.size > 0)
        await opts.db
          .execute(
            sql`delete from worker_heartbeats where worker_id = any(${arrayLiteral([...ids])}::text[])`,
          )
          .catch(() => undefined);
    },
  };
}
