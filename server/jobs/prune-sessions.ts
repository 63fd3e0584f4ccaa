import { z } from 'zod';

/** Deletes sessions nobody presented before they expired (a presented one is checked anyway). */
export const PRUNE_SESSIONS_TASK = 'prune_sessions';

export const ZPruneSessionsPayload = z.object({}).passthrough();

/** Hourly: expired sessions are harmless, only dead weight. */
export const PRUNE_SESSIONS_CRONTAB = `17 * * * * ${PRUNE_SESSIONS_TASK} ?max=1&jobKey=${PRUNE_SESSIONS_TASK}`;
