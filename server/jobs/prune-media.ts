import { z } from 'zod';
import { defineJob } from './job.ts';

/** Removes uploads no waiting post needs (server/media/retention.ts). Hourly, at a minute of its own. */
export const pruneMediaJob = defineJob({
  task: 'prune_media',
  payload: z.object({}).passthrough(),
  maxAttempts: 1,
  schedule: '29 * * * *',
});
