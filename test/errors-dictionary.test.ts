import { describe, expect, it } from 'vitest';
import { ERRORS } from '../server/errors.ts';
import { useTestServer } from './helpers/setup.ts';

const t = useTestServer();

describe('GET /errors', () => {
  it('lists every code with its number and status, without a token, keeping seed 002 numbers', async () => {
    const { data, response } = await t.rest.GET('/errors');
    expect(response.status).toBe(200);
    const byCode = new Map(data!.items.map((e) => [e.code, e]));
    // Seed 002's numbers for the meanings they had.
    expect(byCode.get('INSTAGRAM_LOGIN_FAILED')).toMatchObject({ number: 1020, status: 400 });
    expect(byCode.get('INSTAGRAM_SUSPECTED')).toMatchObject({ number: 1050 });
    expect(byCode.get('INSTAGRAM_NOT_FOUND')).toMatchObject({ number: 2010, status: 404 });
    expect(byCode.get('GRAPH_REQUEST_FAILED')).toMatchObject({ number: 1010 });
    expect(byCode.get('INTERNAL')).toMatchObject({ number: 9999, status: 500 });
    expect(byCode.get('UNAUTHORIZED')).toMatchObject({ number: 401, status: 401 });
    expect(byCode.get('INVALID_CREDENTIALS')).toMatchObject({ number: 401, status: 401 });
    // A post's failure reasons are listed too, without an HTTP status.
    expect(byCode.get('GRAPH_TOKEN_INVALID')).toMatchObject({ number: 1160, status: null });
    for (const code of Object.keys(ERRORS)) expect(byCode.has(code)).toBe(true);
    // One number means one thing (401 is seed 002's one shared number for both 401s).
    const numbers = data!.items.filter((e) => e.number !== 401).map((e) => e.number);
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it('puts the number beside the code in REST and tRPC error bodies', async () => {
    const rest = await t.api('GET', '/posts/424242', { token: t.token });
    expect(rest.body).toMatchObject({ code: 'POST_NOT_FOUND', number: 5010 });
    const res = await fetch(
      `${t.server.baseUrl}/trpc/posts.get?input=${encodeURIComponent('{"id":424242}')}`,
      {
        headers: { authorization: `Bearer ${t.token}` },
      },
    );
    const body = (await res.json()) as { error: { data: { appCode: string; appNumber: number } } };
    expect(body.error.data).toMatchObject({ appCode: 'POST_NOT_FOUND', appNumber: 5010 });
  });
});
