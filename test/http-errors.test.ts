import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { describe, expect, it } from 'vitest';
import { createApp } from '../server/http/app.ts';
import { createUser } from '../server/auth/users.ts';
import type { AppRouter } from '../server/router.ts';
import { connect } from '../server/db/client.ts';
import { jsonClient } from './helpers/http.ts';
import { captureLogger } from './helpers/server.ts';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createTokenCipher } from '../server/crypto/token-cipher.ts';
import { useTestServer } from './helpers/setup.ts';

const t = useTestServer({ users: 0 });

function expectNoStack(text: string) {
  expect(text).not.toMatch(/stack|\bat .*\.ts:\d+|node_modules/i);
}

describe('error bodies', () => {
  it('are {code, message} JSON for an unknown route, with no stack', async () => {
    for (const path of ['/api/v1/nothing-here', '/nowhere', '/trpc-not']) {
      const res = await jsonClient(t.server.baseUrl)('GET', path);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        code: 'NOT_FOUND',
        number: 8040,
        message: 'No such route.',
        request_id: expect.any(String),
      });
    }
  });

  it('say MALFORMED_JSON for a body that is not JSON', async () => {
    const res = await t.api('POST', '/login', { rawBody: '{"username": ' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      code: 'MALFORMED_JSON',
      number: 8010,
      message: 'The request body is not valid JSON.',
      request_id: expect.any(String),
    });
    expectNoStack(res.text);
  });

  it('say PAYLOAD_TOO_LARGE for a body over 100 KiB', async () => {
    const res = await t.api('POST', '/login', { body: { username: 'x'.repeat(200_000), password: 'y' } });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('say UNSUPPORTED_MEDIA_TYPE for a form body', async () => {
    const res = await t.api('POST', '/login', {
      rawBody: 'username=a&password=b',
      headers: { 'content-type': 'text/plain' },
    });
    expect(res.status).toBe(415);
    expect(res.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('list every field issue on a validation error, with no stack', async () => {
    const res = await t.api('POST', '/login', { body: { username: 5, password: [], extra: true } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'username' }),
        expect.objectContaining({ path: 'password' }),
        expect.objectContaining({ path: '', message: expect.stringContaining('extra') }),
      ]),
    );
    expectNoStack(res.text);
  });

  it('carry the same domain code over tRPC as over REST', async () => {
    const client = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${t.server.baseUrl}/trpc` })] });
    const error = await client.auth.me.query().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCClientError);
    const data = (error as TRPCClientError<AppRouter>).data as Record<string, unknown>;
    expect(data).toMatchObject({ appCode: 'UNAUTHORIZED', httpStatus: 401, code: 'UNAUTHORIZED' });
    expect(data).not.toHaveProperty('stack');
    expect((error as Error).message).toBe('A valid token is required.');
  });

  it('hide the cause of an unexpected failure from the client but log it without secrets', async () => {
    // A pool pointed at a dropped database makes every query fail unexpectedly.
    const broken = connect(t.server.database.url.replace(/\/[^/]+$/, '/no_such_database'), { max: 1 });
    const { logger, text } = captureLogger();
    const app = createApp({
      database: broken,
      env: t.server.env,
      logger,
      cipher: createTokenCipher(randomBytes(32)),
    });
    const http = await new Promise<import('node:http').Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      const res = await jsonClient(`${base}/api/v1`)('POST', '/login', {
        body: { username: 'ann@example.com', password: 'do not log me' },
      });
      expect(res.status).toBe(500);
      expect(res.body).toEqual({
        code: 'INTERNAL',
        number: 9999,
        message: 'Something went wrong on our side.',
        request_id: expect.any(String),
      });
      const ready = await jsonClient(base)('GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.code).toBe('SERVICE_UNAVAILABLE');
      expect(text()).toContain('unexpected error');
      expect(text()).not.toContain('do not log me');
      expect(text()).not.toContain('params:');
    } finally {
      http.closeAllConnections();
      http.close();
      await broken.close();
    }
  });
});

describe('request ids', () => {
  it('keeps a well-formed X-Request-Id, replaces a malformed one, and logs it with the request', async () => {
    const kept = await t.api('GET', '/posts/1', { headers: { 'x-request-id': 'edge-7f3a:42' } });
    expect(kept.status).toBe(401);
    expect(kept.headers.get('x-request-id')).toBe('edge-7f3a:42');
    expect(kept.body.request_id).toBe('edge-7f3a:42');
    const line = t.server
      .logs()
      .split('\n')
      .find((l) => l.includes('"requestId":"edge-7f3a:42"'));
    expect(line).toContain('"status":401');

    const replaced = await t.api('GET', '/posts/1', { headers: { 'x-request-id': 'has spaces and <html>' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(replaced.body.request_id).toBe(replaced.headers.get('x-request-id'));
  });

  it('gives every request its own id, successes included, and puts it in tRPC errors', async () => {
    const a = await jsonClient(t.server.baseUrl)('GET', '/healthz');
    const b = await jsonClient(t.server.baseUrl)('GET', '/healthz');
    expect(a.headers.get('x-request-id')).toBeTruthy();
    expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'));
    const client = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${t.server.baseUrl}/trpc`, headers: { 'x-request-id': 'sdk-call-1' } })],
    });
    const error = (await client.auth.me.query().catch((e: unknown) => e)) as TRPCClientError<AppRouter>;
    expect((error.data as Record<string, unknown>).request_id).toBe('sdk-call-1');
  });
});

describe('the HTTP surface', () => {
  it('answers /healthz and /readyz', async () => {
    const root = jsonClient(t.server.baseUrl);
    expect((await root('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await root('GET', '/readyz')).body).toEqual({ status: 'ok' });
  });

  it('sends security headers and no X-Powered-By', async () => {
    const res = await jsonClient(t.server.baseUrl)('GET', '/healthz');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('serves the same operations over tRPC', async () => {
    await createUser(t.server.database.db, { username: 'trpc@example.com', password: 'long enough' });
    const anon = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${t.server.baseUrl}/trpc` })] });
    const { token } = await anon.auth.login.mutate({ username: 'trpc@example.com', password: 'long enough' });
    const authed = createTRPCClient<AppRouter>({
      links: [httpLink({ url: `${t.server.baseUrl}/trpc`, headers: { authorization: `Bearer ${token}` } })],
    });
    expect(await authed.auth.me.query()).toMatchObject({ username: 'trpc@example.com' });
  });
});
