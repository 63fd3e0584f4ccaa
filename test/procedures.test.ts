import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenCipher } from '../server/crypto/token-cipher.ts';
import { parseEnv } from '../server/env.ts';
import { AppError } from '../server/errors.ts';
import { createMeta } from '../server/instagrams/meta.ts';
import { appRouter } from '../server/router.ts';
import { createCallerFactory, createContextInner } from '../server/trpc.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { captureLogger } from './helpers/server.ts';
import { GRAPH_TOKEN, photo } from './helpers/post-fixtures.ts';
import { userWithToken } from './helpers/users.ts';

let database: TestDatabase;
const createCaller = createCallerFactory(appRouter);

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

const env = parseEnv({ NODE_ENV: 'test', MEDIA_PREFLIGHT: 'off' });
const callerFor = (token?: string) =>
  createCaller(
    createContextInner({
      db: database.db,
      env,
      meta: createMeta(env),
      logger: captureLogger().logger,
      cipher: createTokenCipher(randomBytes(32)),
      token,
    }),
  );

describe('procedures called directly, without HTTP', () => {
  it('create, read and list a post for the token’s user', async () => {
    const user = await userWithToken(database.db);
    const api = callerFor(user.token);
    const post = await api.posts.create(photo({ user_id: '321' }));
    expect(post).toMatchObject({ user_id: '321', status: 'scheduled' });
    expect(JSON.stringify(post)).not.toContain(GRAPH_TOKEN);
    expect(await api.posts.get({ id: post.id })).toEqual(post);
    expect((await api.posts.list({ limit: 50 })).items.map((p) => p.id)).toEqual([post.id]);
  });

  it('reject without a token, and hide other users’ posts, with the domain error', async () => {
    const owner = await userWithToken(database.db);
    const other = await userWithToken(database.db);
    const post = await callerFor(owner.token).posts.create(photo({ user_id: '322' }));
    const anonymous = await callerFor()
      .posts.get({ id: post.id })
      .catch((e: unknown) => e);
    expect((anonymous as { cause?: unknown }).cause).toBeInstanceOf(AppError);
    expect((anonymous as { cause: AppError }).cause.code).toBe('UNAUTHORIZED');
    const stranger = await callerFor(other.token)
      .posts.get({ id: post.id })
      .catch((e: unknown) => e);
    expect((stranger as { cause: AppError }).cause.code).toBe('POST_NOT_FOUND');
    expect((stranger as { code?: string }).code).toBe('NOT_FOUND');
  });
});
