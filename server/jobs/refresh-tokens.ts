import { z } from 'zod';

/**
 * Keeps connected accounts alive: profiles read into `info`, Instagram-Login
 * tokens refreshed before they expire, expired ones made `suspected`
 * (server/instagrams/refresh.ts).
 */
export const REFRESH_TOKENS_TASK = 'refresh_tokens';

export const ZRefreshTokensPayload = z.object({}).passthrough();

/**
 * Daily at 04:41 UTC. A token is refreshed within 30 days of expiring, so a
 * day or two missed (the workers were down) costs nothing; jobKey keeps one
 * run at a time.
 */
export const REFRESH_TOKENS_CRONTAB = `41 4 * * * ${REFRESH_TOKENS_TASK} ?max=1&jobKey=${REFRESH_TOKENS_TASK}`;
