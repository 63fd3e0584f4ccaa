/**
 * The hourly `prune_expired` job: expired rows of several domains, none of
 * which owns the job, so it lives with the worker.
 */
import { deleteExpiredSessions } from '../auth/sessions.ts';
import { deleteExpiredRateLimits } from '../auth/throttle.ts';
import { pruneComments } from '../channels/process.ts';
import type { Db } from '../db/client.ts';
import { deleteExpiredIdempotencyKeys } from '../idempotency/idempotency.ts';
import { deleteExpiredOAuthStates } from '../instagrams/oauth.ts';
import { handle } from '../jobs/job.ts';
import { pruneExpiredJob } from '../jobs/prune-expired.ts';
import type { Logger } from '../logger.ts';

export const pruneExpiredHandler = handle(pruneExpiredJob, async (deps: { db: Db; logger: Logger }) => {
  const sessions = await deleteExpiredSessions(deps.db);
  const counters = await deleteExpiredRateLimits(deps.db);
  const oauthStates = await deleteExpiredOAuthStates(deps.db);
  const comments = await pruneComments(deps.db);
  const idempotencyKeys = await deleteExpiredIdempotencyKeys(deps.db);
  deps.logger.info(
    { sessions, counters, oauthStates, comments, idempotencyKeys },
    'deleted expired sessions, rate-limit counters, OAuth states, old comments and kept answers',
  );
});
