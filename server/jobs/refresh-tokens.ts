import { z } from 'zod';
import { defineJob } from './job.ts';

/**
 * Keeps connected accounts alive: profiles read into `info`, Instagram-Login
 * tokens refreshed before they expire, expired ones made `suspected`
 * (server/instagrams/refresh.ts). Daily at 04:41 UTC: a token is refreshed
 * within 30 days of expiring, so a day or two missed (the workers were down)
 * costs nothing.
 */
export const refreshTokensJob = defineJob({
  task: 'refresh_tokens',
  payload: z.object({}).passthrough(),
  maxAttempts: 1,
  schedule: '41 4 * * *',
});
