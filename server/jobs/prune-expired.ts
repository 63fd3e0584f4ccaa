import { z } from 'zod';
import { defineJob } from './job.ts';

/**
 * Deletes what has expired and is only dead weight: sessions nobody presented
 * before they expired (a presented one is checked anyway), rate-limit
 * counters whose window has ended, OAuth states, old comments and kept
 * Idempotency-Key answers (server/worker/housekeeping.ts). Hourly, at a
 * minute no other scheduled job uses.
 */
export const pruneExpiredJob = defineJob({
  task: 'prune_expired',
  payload: z.object({}).passthrough(),
  maxAttempts: 1,
  schedule: '17 * * * *',
});
