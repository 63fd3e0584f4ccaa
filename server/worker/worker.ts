/**
 * The worker: graphile-worker running every domain's jobs (tasks.ts) in this
 * process, with this process's heartbeats and the bookkeeping the publisher
 * and reconcile rely on. The one place that knows graphile-worker's runner;
 * what any job needs comes in WorkerDeps, built here once.
 */
import { EventEmitter } from 'node:events';
import { sql } from 'drizzle-orm';
import { run, type Runner, type Task, type TaskList, type WorkerEvents } from 'graphile-worker';
import type { ChannelWorkerOptions } from '../channels/types.ts';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import type { Db } from '../db/client.ts';
import { arrayLiteral } from '../db/sql.ts';
import { createWorkerPool } from '../db/worker-pool.ts';
import type { Env } from '../env.ts';
import { installHooks } from '../hooks.ts';
import type { MetaClient } from '../instagrams/meta.ts';
import { publishPostJob } from '../jobs/publish-post.ts';
import { enqueueReconcileAfterStart } from '../jobs/reconcile.ts';
import { describeError, type Logger } from '../logger.ts';
import {
  DEFAULT_PUBLISHER_SETTINGS,
  type MediaWorkerOptions,
  type PublisherSettings,
} from '../publisher/types.ts';
import type { SendOptions } from '../webhooks/send.ts';
import type { WorkerDeps } from './deps.ts';
import { workerLogger } from './logger.ts';
import { crontab, LANES, type Lane } from './tasks.ts';

export interface WorkerOptions {
  url: string;
  db: Db;
  /** Meta's hosts: publishing, channels, and the daily token and profile refresh. */
  meta: MetaClient;
  cipher: TokenCipher;
  logger: Logger;
  /** Publishing jobs run at once by this process (WORKER_CONCURRENCY). */
  concurrency: number;
  /** Other jobs (webhooks, channels, housekeeping) run at once, in their own lane; default 5. */
  backgroundConcurrency?: number;
  /** How often idle workers look for jobs that became due; default 500 ms. */
  pollIntervalMs?: number;
  /** How often this process proves it is alive; default 5 s. */
  heartbeatMs?: number;
  settings?: Partial<PublisherSettings>;
  /** The waits between first-comment tries; tests shorten them. */
  firstCommentRetryDelaysMs?: number[];
  /** Webhook sending: WEBHOOK_ALLOW_PRIVATE_HOSTS, and for tests a shorter schedule, timeout and a resolver. */
  webhooks?: { retryDelaysMs?: number[] } & Partial<SendOptions>;
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

export interface Worker {
  /** Stop taking jobs, let running ones finish, then stop. */
  stop(): Promise<void>;
  workerIds(): string[];
  /** publish_post runs started by this process. */
  publishRuns(): number;
}

/** This process's workers and what they are running, as the publisher and reconcile need to know it. */
function processState(db: Db) {
  const ids = new Set<string>();
  const beating = new Set<string>();
  // Jobs this process is running, from fetch until graphile-worker has recorded their outcome.
  const inFlight = new Set<string>();
  const beat = async (workerIds: string[]) => {
    if (workerIds.length === 0) return;
    await db.execute(sql`
      insert into worker_heartbeats (worker_id, seen_at)
      select unnest(${arrayLiteral(workerIds)}::text[]), now()
      on conflict (worker_id) do update set seen_at = excluded.seen_at`);
  };
  return {
    ids,
    inFlight,
    beat,
    ensureAlive: async (owner: string) => {
      if (beating.has(owner)) return;
      ids.add(owner);
      await beat([owner]);
      beating.add(owner);
    },
  };
}

function channelOptions(opts: WorkerOptions['channels']): ChannelWorkerOptions {
  return {
    pollIntervalS: opts?.pollIntervalS ?? 300,
    webhooksConfigured: opts?.webhooksConfigured ?? false,
    retryDelayMs: opts?.retryDelayMs,
  };
}

export async function startWorker(opts: WorkerOptions): Promise<Worker> {
  installHooks();
  const logger = opts.logger.child({ component: 'worker' });
  const state = processState(opts.db);
  const { retryDelaysMs, ...send } = opts.webhooks ?? {};
  const deps: WorkerDeps = {
    db: opts.db,
    meta: opts.meta,
    cipher: opts.cipher,
    logger,
    settings: { ...DEFAULT_PUBLISHER_SETTINGS, ...opts.settings },
    media: { mode: 'off', allowPrivate: false, publicUrl: '', retentionMs: 7 * 86_400_000, ...opts.media },
    firstCommentRetryDelaysMs: opts.firstCommentRetryDelaysMs,
    webhooks: { retryDelaysMs, send: { timeoutMs: 10_000, allowPrivate: false, ...send } },
    channels: channelOptions(opts.channels),
    ensureAlive: state.ensureAlive,
    ownWorkerIds: () => [...state.ids],
    running: new Set<number>(),
    jobsInFlight: () => [...state.inFlight],
  };

  let publishRuns = 0;
  const events: WorkerEvents = new EventEmitter() as WorkerEvents;
  events.on('worker:create', ({ worker }) => state.ids.add(worker.workerId));
  events.on('job:start', ({ job }) => {
    state.inFlight.add(String(job.id));
    if (job.task_identifier === publishPostJob.task) publishRuns++;
  });
  events.on('job:complete', ({ job }) => state.inFlight.delete(String(job.id)));

  const taskList = (lane: Lane): TaskList =>
    Object.fromEntries(
      LANES[lane].map((h): [string, Task] => [
        h.job.task,
        (payload, helpers) => h.run(deps, payload, helpers),
      ]),
    );
  const backgroundConcurrency = opts.backgroundConcurrency ?? 5;

  // Our own pool rather than one graphile-worker makes: it would end its pool without waiting
  // at stop(), and its outcome writes must be retried whatever connection error they meet.
  const pgPool = createWorkerPool(opts.url, {
    max: Math.max(10, opts.concurrency + backgroundConcurrency + 2),
    timeoutMs: opts.databaseTimeoutMs ?? 5_000,
    logger,
  });
  let stopping = false;
  const start = (lane: Lane, concurrency: number): Promise<Runner> =>
    run({
      pgPool,
      concurrency,
      pollInterval: opts.pollIntervalMs ?? 500,
      noHandleSignals: true,
      logger: workerLogger(logger),
      events,
      crontab: crontab(LANES[lane]),
      taskList: taskList(lane),
    });
  const runner = await start('publishing', opts.concurrency);
  const background = await start('background', backgroundConcurrency);
  // A pool that stops on its own (not through stop()) runs nothing more. Database
  // outages do not get here (server/db/worker-pool.ts makes them retryable).
  const died = (error?: unknown) => {
    if (stopping) return;
    logger.fatal(describeError(error), 'the worker pool stopped unexpectedly');
    opts.onPoolStopped?.();
  };
  for (const r of [runner, background]) r.promise.then(() => died(), died);

  const timer = setInterval(() => {
    state
      .beat([...state.ids])
      .catch((error: unknown) => logger.warn(describeError(error), 'heartbeat failed'));
  }, opts.heartbeatMs ?? 5_000);
  timer.unref();

  await enqueueReconcileAfterStart(
    (task, payload, spec) => runner.addJob(task, payload, spec),
    deps.settings.deadWorkerMs,
  );
  logger.info({ concurrency: opts.concurrency, backgroundConcurrency }, 'publishing worker started');

  return {
    workerIds: () => [...state.ids],
    publishRuns: () => publishRuns,
    async stop() {
      stopping = true;
      clearInterval(timer);
      await Promise.all([runner.stop(), background.stop()]);
      await pgPool.end();
      // Every job has finished or handed its post over: nothing is owned by these ids any more.
      if (state.ids.size > 0)
        await opts.db
          .execute(
            sql`delete from worker_heartbeats where worker_id = any(${arrayLiteral([...state.ids])}::text[])`,
          )
          .catch(() => undefined);
    },
  };
}
