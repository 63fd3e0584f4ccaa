import type { Db } from '../db/client.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { formatInstant } from '../lib/time.ts';
import type { Credentials, SignupInput, TokenOutput, UserOutput } from './schemas.ts';
import { createSession, type SessionUser } from './sessions.ts';
import { verifyPassword } from './password.ts';
import {
  assertLoginAllowed,
  clearUserFailures,
  recordLoginFailure,
  type ThrottlePolicy,
} from './throttle.ts';
import { createUser, findUserByUsername } from './users.ts';

export function toUserOutput(user: SessionUser): UserOutput {
  return {
    id: user.id,
    username: user.username,
    created_at: formatInstant(user.createdAt),
    updated_at: formatInstant(user.updatedAt),
  };
}

export function toTokenOutput(session: { token: string; expiresAt: Date }): TokenOutput {
  return { token: session.token, expire: formatInstant(session.expiresAt) };
}

/**
 * Exchanges a username and password for a new login session. Unknown user
 * and wrong password are the same error and take the same time.
 */
export async function login(
  db: Db,
  input: Credentials & {
    ip: string | undefined;
    ttlSeconds: number;
    throttle: ThrottlePolicy;
    logger: Logger;
  },
): Promise<TokenOutput> {
  await assertLoginAllowed(db, input.username, input.ip, input.throttle);
  const user = await findUserByUsername(db, input.username);
  const ok = await verifyPassword(user?.passwordHash, input.password);
  if (!user || !ok) {
    await recordLoginFailure(db, input.username, input.ip, input.throttle);
    input.logger.info({ ip: input.ip }, 'failed login');
    throw new AppError('INVALID_CREDENTIALS');
  }
  return db.transaction(async (tx) => {
    await clearUserFailures(tx, input.username);
    return toTokenOutput(
      await createSession(tx, { userId: user.id, kind: 'login', ttlSeconds: input.ttlSeconds }),
    );
  });
}

export async function signup(db: Db, input: SignupInput & { enabled: boolean }): Promise<UserOutput> {
  if (!input.enabled) throw new AppError('SIGNUP_DISABLED');
  return toUserOutput(await createUser(db, input));
}
