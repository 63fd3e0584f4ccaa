import { afterAll, beforeAll } from 'vitest';
import { jsonClient } from './http.ts';
import { restClient } from './openapi.ts';
import { startTestServer, type TestServer } from './server.ts';
import { userWithToken, type TestUser } from './users.ts';

export interface ServerFixture {
  server: TestServer;
  /** A JSON client for /api/v1 (any route, any body, any header). */
  api: ReturnType<typeof jsonClient>;
  /** The typed openapi-fetch client, as the first user. */
  rest: ReturnType<typeof restClient>;
  /** The users made for the file, each with an API token. */
  users: TestUser[];
  /** The first user, and its token. */
  user: TestUser;
  token: string;
}

/**
 * The real API over a fresh database for this test file: started before
 * its first test, stopped after its last (graphile-worker's test helpers
 * register their own hooks the same way). Read the fields inside tests.
 */
export function useTestServer(opts: { env?: Record<string, string>; users?: number } = {}): ServerFixture {
  const fixture = {} as ServerFixture;
  beforeAll(async () => {
    fixture.server = await startTestServer(opts.env);
    fixture.api = jsonClient(`${fixture.server.baseUrl}/api/v1`);
    fixture.users = [];
    for (let i = 0; i < (opts.users ?? 1); i++)
      fixture.users.push(await userWithToken(fixture.server.database.db));
    fixture.user = fixture.users[0]!;
    fixture.token = fixture.user?.token;
    fixture.rest = restClient(fixture.server.baseUrl, fixture.token);
  });
  afterAll(() => fixture.server?.close());
  return fixture;
}
