/**
 * Every job the worker runs: one line each, in its lane. A job's declaration (task name,
 * payload, tries, schedule, how to add it) is in server/jobs/<name>.ts, its
 * handler beside the domain function it calls (`handle()`); this list is the
 * only place they meet graphile-worker. The list is typed against
 * WorkerDeps, so a handler asking for something the worker does not give
 * fails to compile here.
 */
import { channelActionHandler } from '../channels/act.ts';
import { pollCommentsHandler } from '../channels/poll.ts';
import { processCommentsHandler } from '../channels/process.ts';
import { refreshTokensHandler } from '../instagrams/refresh.ts';
import { crontabLine, type JobHandler } from '../jobs/job.ts';
import { pruneMediaHandler } from '../media/retention.ts';
import { firstCommentHandler } from '../publisher/first-comment.ts';
import { reconcileHandler } from '../publisher/reconcile.ts';
import { publishPostHandler } from '../publisher/run.ts';
import { deliverWebhookHandler } from '../webhooks/deliver.ts';
import type { WorkerDeps } from './deps.ts';
import { pruneExpiredHandler } from './housekeeping.ts';

/**
 * Two lanes, each its own graphile-worker runner with its own slots: a
 * receiver that never answers, or one user's thousands of comments, fill
 * the background lane's slots at most, never the publishing lane's
 * (WORKER_CONCURRENCY and WORKER_BACKGROUND_CONCURRENCY). A runner fetches
 * only the jobs of its own tasks.
 */
export const LANES = {
  publishing: [publishPostHandler, firstCommentHandler, reconcileHandler],
  background: [
    deliverWebhookHandler,
    processCommentsHandler,
    channelActionHandler,
    pollCommentsHandler,
    refreshTokensHandler,
    pruneMediaHandler,
    pruneExpiredHandler,
  ],
} satisfies Record<string, JobHandler<WorkerDeps>[]>;

export type Lane = keyof typeof LANES;

/** The jobs of `handlers` that run on a schedule, as graphile-worker's crontab text. */
export function crontab(handlers: JobHandler<WorkerDeps>[]): string {
  return handlers
    .map((h) => crontabLine(h.job))
    .filter((line) => line !== null)
    .join('\n');
}
