import { z } from 'zod';

/**
 * Deletes what has expired and is only dead weight: sessions nobody presented
 * before they expired (a presented one is checked anyway) and rate-limit
 * counters whose window has ended.
 */
export const PRUNE_EXPIRED_TASK = 'prune_expired';

export const ZPruneExpiredPayload = z.object({}).passthrough();

/** Hourly, at a minute no other crontab entry uses. */
export const PRUNE_EXPIRED_CRONTAB = `17 * * * * ${PRUNE_EXPIRED_TASK} ?max=1&jobKey=${PRUNE_EXPIRED_TASK}`;
