import { inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.ts';
import { loginFailures } from '../db/schema.ts';
import { AppError } from '../errors.ts';

/**
 * Failed logins are counted per username and per client address in a fixed
 * window kept in PostgreSQL, so every API process sees the same counts.
 * Past the limit, logins for that key are refused with 429 until the window
 * ends, even with the right password.
 */
export interface ThrottlePolicy {
  /** Failures allowed per username per window; default 5. */
  perUser: number;
  /** Failures allowed per client address per window; default 30. */
  perIp: number;
  /** Window length in seconds; default 900 (15 minutes). */
  windowSeconds: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = { perUser: 5, perIp: 30, windowSeconds: 900 };

export function throttleKeys(
  username: string,
  ip: string | undefined,
): { key: string; limit: 'perUser' | 'perIp' }[] {
  const keys: { key: string; limit: 'perUser' | 'perIp' }[] = [
    { key: `user:${username.toLowerCase()}`, limit: 'perUser' },
  ];
  if (ip) keys.push({ key: `ip:${ip}`, limit: 'perIp' });
  return keys;
}

export async function assertLoginAllowed(
  db: DbOrTx,
  username: string,
  ip: string | undefined,
  policy: ThrottlePolicy,
  now: Date = new Date(),
): Promise<void> {
  const keys = throttleKeys(username, ip);
  const rows = await db
    .select()
    .from(loginFailures)
    .where(
      inArray(
        loginFailures.key,
        keys.map((k) => k.key),
      ),
    );
  let retryAfter = 0;
  for (const row of rows) {
    const limit = policy[keys.find((k) => k.key === row.key)!.limit];
    const windowEnds = row.windowStartedAt.getTime() + policy.windowSeconds * 1000;
    if (row.failures >= limit && windowEnds > now.getTime()) {
      retryAfter = Math.max(retryAfter, Math.ceil((windowEnds - now.getTime()) / 1000));
    }
  }
  if (retryAfter > 0) {
    throw new AppError(
      'TOO_MANY_REQUESTS',
      `Too many failed logins; try again in ${Math.ceil(retryAfter / 60)} minute(s).`,
      { retryAfter },
    );
  }
}

export async function recordLoginFailure(
  db: DbOrTx,
  username: string,
  ip: string | undefined,
  policy: ThrottlePolicy,
  now: Date = new Date(),
): Promise<void> {
  const windowStart = new Date(now.getTime() - policy.windowSeconds * 1000);
  const expired = sql`${loginFailures.windowStartedAt} <= ${windowStart.toISOString()}::timestamptz`;
  await db
    .insert(loginFailures)
    .values(throttleKeys(username, ip).map(({ key }) => ({ key, failures: 1, windowStartedAt: now })))
    .onConflictDoUpdate({
      target: loginFailures.key,
      set: {
        failures: sql`case when ${expired} then 1 else ${loginFailures.failures} + 1 end`,
        windowStartedAt: sql`case when ${expired} then excluded.window_started_at else ${loginFailures.windowStartedAt} end`,
      },
    });
}

/** A successful login forgives that username's failures (not the address's). */
export async function clearUserFailures(db: DbOrTx, username: string): Promise<void> {
  await db.delete(loginFailures).where(inArray(loginFailures.key, [`user:${username.toLowerCase()}`]));
}
