import { lt } from 'drizzle-orm';
import { RateLimiterDrizzle, RateLimiterRes } from 'rate-limiter-flexible';
import type { Db } from '../db/client.ts';
import { rateLimits } from '../db/schema.ts';
import { AppError } from '../errors.ts';

/**
 * Login attempts are counted per username and per client address in
 * PostgreSQL, so every API process sees the same counts. Each attempt is
 * counted BEFORE its password is checked, in one atomic upsert
 * (rate-limiter-flexible's drizzle store), so no number of parallel requests
 * gets more than `perUser` guesses in. A successful login forgives the
 * username's count and gives the address its point back.
 */
export interface ThrottlePolicy {
  /** Attempts allowed per username per window; default 5. */
  perUser: number;
  /** Failed attempts allowed per client address per window; default 30. */
  perIp: number;
  /** Window length in seconds; default 900 (15 minutes). */
  windowSeconds: number;
}

const DEFAULT_THROTTLE: ThrottlePolicy = { perUser: 5, perIp: 30, windowSeconds: 900 };

interface LoginAttempt {
  /** The password was right: forget this username's attempts and refund the address's. */
  succeeded(): Promise<void>;
  /** The attempt is over, whatever its outcome (see inFlight below). */
  finished(): void;
}

export interface LoginThrottle {
  /** Counts one attempt for `username` (already normalised) and `ip`; 429 TOO_MANY_REQUESTS past a limit. */
  attempt(username: string, ip: string | undefined): Promise<LoginAttempt>;
}

/** The limit's answer as our error; anything else (a store failure) is rethrown as it is. */
function rateLimitError(error: unknown, message: (retryAfter: number) => string): never {
  if (error instanceof RateLimiterRes) {
    const retryAfter = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
    throw new AppError('TOO_MANY_REQUESTS', message(retryAfter), { retryAfter });
  }
  throw error;
}

export function createLoginThrottle(db: Db, policy: ThrottlePolicy = DEFAULT_THROTTLE): LoginThrottle {
  // Expired rows are deleted by the prune_expired job, not by a timer in every process.
  const common = {
    storeClient: db,
    schema: rateLimits,
    duration: policy.windowSeconds,
    clearExpiredByTimeout: false,
  };
  const perUser = new RateLimiterDrizzle({ ...common, keyPrefix: 'login:user', points: policy.perUser });
  const perIp = new RateLimiterDrizzle({ ...common, keyPrefix: 'login:ip', points: policy.perIp });
  const message = (retryAfter: number) =>
    `Too many login attempts; try again in ${Math.ceil(retryAfter / 60)} minute(s).`;
  /**
   * Attempts per username this process is still working on. No more than
   * `perUser` of them can pass the database's count, so the rest of a flood
   * is refused here at once instead of queueing its upserts (all on one row)
   * in front of everyone else's logins.
   */
  const inFlight = new Map<string, number>();
  return {
    async attempt(username, ip) {
      const running = inFlight.get(username) ?? 0;
      if (running >= policy.perUser) {
        throw new AppError('TOO_MANY_REQUESTS', message(policy.windowSeconds), {
          retryAfter: policy.windowSeconds,
        });
      }
      inFlight.set(username, running + 1);
      const finished = () => {
        const left = (inFlight.get(username) ?? 1) - 1;
        if (left > 0) inFlight.set(username, left);
        else inFlight.delete(username);
      };
      try {
        await perUser.consume(username);
        if (ip) await perIp.consume(ip);
      } catch (error) {
        finished();
        rateLimitError(error, message);
      }
      return {
        async succeeded() {
          await perUser.delete(username);
          if (ip) await perIp.reward(ip, 1);
        },
        finished,
      };
    },
  };
}

/** Counters whose window has ended (the prune_expired job); returns how many. */
export async function deleteExpiredRateLimits(db: Db, now: Date = new Date()): Promise<number> {
  const rows = await db
    .delete(rateLimits)
    .where(lt(rateLimits.expire, now))
    .returning({ key: rateLimits.key });
  return rows.length;
}

/** What the API rate limit reports for one request, sent as RateLimit-* headers. */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** Seconds until the window ends. */
  reset: number;
}

export interface ApiRateLimit {
  /** Counts one request of `userId`; 429 TOO_MANY_REQUESTS (with the state) past the limit. */
  consume(userId: number): Promise<RateLimitState>;
}

export class RateLimited extends AppError {
  constructor(readonly state: RateLimitState) {
    super('TOO_MANY_REQUESTS', `More than ${state.limit} requests a minute; try again in ${state.reset} s.`, {
      retryAfter: state.reset,
    });
  }
}

/** Per user in this process: what the shared counter said last, and what it has not been told yet. */
interface WindowState {
  /** Requests counted in PostgreSQL for this window, as of the last answer. */
  counted: number;
  /** Requests allowed here and not yet added to the shared counter. */
  pending: number;
  /** Requests in the upsert on its way. */
  sending: number;
  resetAt: number;
  /** An upsert is on its way, or waiting for FLUSH_EVERY_MS to pass. */
  flushing: boolean;
}

/** How often a busy user's requests are added to the shared counter, at most. */
const FLUSH_EVERY_MS = 250;

/**
 * API_RATE_LIMIT: requests per minute per user, in fixed one-minute windows
 * counted in PostgreSQL by rate-limiter-flexible, so every process shares
 * them. A request is decided at once from what this process knows (the last
 * shared count plus its own requests not yet added), and its own requests
 * are added to the shared counter in the background, at most one upsert per
 * user every FLUSH_EVERY_MS: a request costs no database round trip, and a
 * busy user four upserts a second rather than one per request. Within one
 * process the count is exact; across processes a user can get past the limit
 * by what the other processes allowed in their last quarter second.
 */
export function createApiRateLimit(db: Db, perMinute: number): ApiRateLimit {
  const limiter = new RateLimiterDrizzle({
    storeClient: db,
    schema: rateLimits,
    keyPrefix: 'api:user',
    points: perMinute,
    duration: 60,
    clearExpiredByTimeout: false,
  });
  const windows = new Map<string, WindowState>();
  let sinceSweep = 0;

  const flush = (key: string, state: WindowState) => {
    if (state.flushing || state.pending === 0) return;
    state.flushing = true;
    setTimeout(() => void send(key, state), FLUSH_EVERY_MS).unref();
  };
  const send = (key: string, state: WindowState): Promise<void> => {
    const points = state.pending;
    state.pending = 0;
    state.sending = points;
    const learn = (res: RateLimiterRes) => {
      state.counted = res.consumedPoints;
      state.resetAt = Date.now() + res.msBeforeNext;
    };
    return limiter
      .consume(key, points)
      .then(learn, (error: unknown) => {
        // Over the limit: the answer still says where the shared count stands.
        if (error instanceof RateLimiterRes) learn(error);
        // The database is away: keep counting here and try again later.
        else state.pending += points;
      })
      .finally(() => {
        state.sending = 0;
        state.flushing = false;
        flush(key, state);
      });
  };

  return {
    async consume(userId) {
      const now = Date.now();
      const key = String(userId);
      if (++sinceSweep >= 1000) {
        sinceSweep = 0;
        for (const [k, w] of windows) if (w.resetAt <= now && !w.flushing) windows.delete(k);
      }
      let state = windows.get(key);
      if (!state || state.resetAt <= now) {
        // A user's first request in a window here waits for the shared count, so a user who
        // used up the limit through another process is refused here too.
        state = { counted: 0, pending: 1, sending: 0, resetAt: now + 60_000, flushing: true };
        windows.set(key, state);
        await send(key, state);
        // Its own place in the shared count (requests that came in meanwhile are behind it).
        const used = Math.max(state.counted, 1);
        const reset = Math.max(1, Math.ceil((state.resetAt - Date.now()) / 1000));
        if (used > perMinute) throw new RateLimited({ limit: perMinute, remaining: 0, reset });
        return { limit: perMinute, remaining: perMinute - used, reset };
      }
      const used = state.counted + state.sending + state.pending + 1;
      const reset = Math.max(1, Math.ceil((state.resetAt - now) / 1000));
      if (used > perMinute) throw new RateLimited({ limit: perMinute, remaining: 0, reset });
      state.pending++;
      flush(key, state);
      return { limit: perMinute, remaining: perMinute - used, reset };
    },
  };
}
