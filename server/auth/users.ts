import { eq } from 'drizzle-orm';
import { PG_UNIQUE_VIOLATION, pgErrorCode, type DbOrTx } from '../db/client.ts';
import { users } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { hashPassword } from './password.ts';
import type { SessionUser } from './sessions.ts';
import { normalizeUsername, usernameKey } from './username.ts';

export async function findUserByUsername(
  db: DbOrTx,
  username: string,
): Promise<(SessionUser & { passwordHash: string | null }) | undefined> {
  const [user] = await db
    .select({
      id: users.id,
      username: users.username,
      passwordHash: users.passwordHash,
      createdAt: users.createdAt,
      updatedAt: users.updatedAt,
    })
    .from(users)
    .where(eq(users.usernameKey, usernameKey(username)));
  return user;
}

/** Creates a user; USERNAME_TAKEN when the name exists in any letter case or Unicode form. */
export async function createUser(
  db: DbOrTx,
  input: { username: string; password: string },
): Promise<SessionUser> {
  const passwordHash = await hashPassword(input.password);
  try {
    const username = normalizeUsername(input.username);
    const [user] = await db
      .insert(users)
      .values({ username, usernameKey: usernameKey(username), passwordHash })
      .returning({
        id: users.id,
        username: users.username,
        createdAt: users.createdAt,
        updatedAt: users.updatedAt,
      });
    return user!;
  } catch (error) {
    if (pgErrorCode(error) === PG_UNIQUE_VIOLATION) throw new AppError('USERNAME_TAKEN');
    throw error;
  }
}
