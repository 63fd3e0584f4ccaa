import { availableParallelism } from 'node:os';
import { hash, verify } from '@node-rs/argon2';
import pLimit from 'p-limit';
import { AppError } from '../errors.ts';

/**
 * argon2id with OWASP's recommended minimum: 19 MiB of memory, 2 passes,
 * 1 lane (about 25 ms here). The parameters are stored in each hash, so
 * raising them later only affects new hashes.
 */
const PARAMS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;

/**
 * Hashes run at most one per core at once (each takes 19 MiB and a core for
 * ~25 ms); a burst waits in line instead of stalling every other login, and
 * past MAX_WAITING in line the login is refused at once (503, Retry-After: 1)
 * rather than kept waiting for seconds.
 */
const hashing = pLimit(Math.max(2, availableParallelism()));
const MAX_WAITING = 32;

async function bounded<T>(work: () => Promise<T>): Promise<T> {
  if (hashing.pendingCount >= MAX_WAITING) {
    throw new AppError('SERVICE_UNAVAILABLE', 'Too many logins at once; try again in a second.', {
      retryAfter: 1,
    });
  }
  return hashing(work);
}

export function hashPassword(password: string): Promise<string> {
  return bounded(() => hash(password, PARAMS));
}

let dummyHash: Promise<string> | undefined;

/**
 * Checks a password against a stored hash. With no hash (unknown user) it
 * still does the same work against a dummy hash, so a wrong username and a
 * wrong password take the same time.
 */
export async function verifyPassword(
  storedHash: string | null | undefined,
  password: string,
): Promise<boolean> {
  if (!storedHash) {
    dummyHash ??= hash('timing-equaliser-not-a-password', PARAMS);
    const dummy = await dummyHash;
    await bounded(() => verify(dummy, password).catch(() => false));
    return false;
  }
  return bounded(() => verify(storedHash, password).catch(() => false));
}
