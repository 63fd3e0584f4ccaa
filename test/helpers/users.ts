import { createSession } from '../../server/auth/sessions.ts';
import { createUser } from '../../server/auth/users.ts';
import type { Db } from '../../server/db/client.ts';

let counter = 0;

/** A new user with an API token, straight through the services. */
export async function userWithToken(
  db: Db,
  name?: string,
): Promise<{ id: number; token: string; username: string }> {
  const username = name ?? `user${++counter}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const user = await createUser(db, { username, password: 'a long password' });
  const { token } = await createSession(db, { userId: user.id, kind: 'api', ttlSeconds: 3600 });
  return { id: user.id, token, username };
}

export const IG_USER = '17841400008460056';
export const GRAPH_TOKEN = 'EAAGraphSecretToken1234567890abcdef';

export const photo = (over: Record<string, unknown> = {}) => ({
  user_id: IG_USER,
  content_type: 'Photo' as const,
  url: 'https://cdn.example.com/photos/a.jpg',
  caption: 'Sunset #beach @friend',
  user_tags: [{ username: 'friend.one', x: 0.5, y: 0.8 }],
  token: GRAPH_TOKEN,
  date_pub: new Date(Date.now() + 3600_000).toISOString(),
  ...over,
});

export const video = (over: Record<string, unknown> = {}) => ({
  user_id: IG_USER,
  content_type: 'Video' as const,
  url: 'https://cdn.example.com/videos/a.mp4',
  caption: 'Reel',
  thumb_offset: 1500,
  token: GRAPH_TOKEN,
  date_pub: new Date(Date.now() + 7200_000).toISOString(),
  ...over,
});
