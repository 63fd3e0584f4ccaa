import { z } from 'zod';

/** Removes uploads no waiting post needs (server/media/retention.ts). */
export const PRUNE_MEDIA_TASK = 'prune_media';

export const ZPruneMediaPayload = z.object({}).passthrough();

/** Hourly, at a minute no other crontab entry uses. */
export const PRUNE_MEDIA_CRONTAB = `29 * * * * ${PRUNE_MEDIA_TASK} ?max=1&jobKey=${PRUNE_MEDIA_TASK}`;
