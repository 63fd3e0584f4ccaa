import { createSession } from '../../server/auth/sessions.ts';
import { createUser } from '../../server/auth/users.ts';
import type { Db } from '../../server/db/client.ts';

let counter = 0;

export interface TestUser {
  id: number;
  token: string;
  username: string;
}

/** A new user with an API token, straight through the services. */
export async function userWithToken(db: Db, name?: string): Promise<TestUser> {
  const username = name ?? `user${++counter}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const user = await createUser(db, { username, password: 'a long password' });
  const { token } = await createSession(db, { userId: user.id, kind: 'api', ttlSeconds: 3600 });
  return { id: user.id, token, username };
}
