/**
 * Every job the worker runs: one line each. A job's declaration (task name,
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

export const HANDLERS: JobHandler<WorkerDeps>[] = [
  publishPostHandler,
  reconcileHandler,
  firstCommentHandler,
  deliverWebhookHandler,
  processCommentsHandler,
  channelActionHandler,
  pollCommentsHandler,
  refreshTokensHandler,
  pruneMediaHandler,
  pruneExpiredHandler,
];

/** The jobs that run on a schedule, as graphile-worker's crontab text. */
export function crontab(handlers: JobHandler<WorkerDeps>[] = HANDLERS): string {
  return handlers
    .map((h) => crontabLine(h.job))
    .filter((line) => line !== null)
    .join('\n');
}
