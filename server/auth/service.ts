import type { Tx } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { formatInstant } from '../lib/time.ts';
import type { Credentials, SignupInput, TokenOutput, UserOutput } from './schemas.ts';
import { createSession, type SessionUser } from './sessions.ts';
import { verifyPassword } from './password.ts';
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
 * and wrong password are the same error and take the same time. The attempt
 * is counted by the login throttle before this runs (auth/router.ts).
 */
export async function login(tx: Tx, input: Credentials & { ttlSeconds: number }): Promise<TokenOutput> {
  const user = await findUserByUsername(tx, input.username);
  const ok = await verifyPassword(user?.passwordHash, input.password);
  if (!user || !ok) throw new AppError('INVALID_CREDENTIALS');
  return toTokenOutput(
    await createSession(tx, { userId: user.id, kind: 'login', ttlSeconds: input.ttlSeconds }),
  );
}

/** Whether sign-up is open is checked before the input is read (auth/router.ts). */
export async function signup(tx: Tx, input: SignupInput): Promise<UserOutput> {
  return toUserOutput(await createUser(tx, input));
}
