import { connect as tcpConnect, type Socket } from 'node:net';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonClient } from './helpers/http.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { useTestServer } from './helpers/setup.ts';

const t = useTestServer();

/** Sends raw bytes and collects the answer until the server closes the connection. */
function raw(baseUrl: string, parts: { data: string | Buffer; delayMs?: number }[], timeoutMs = 10_000) {
  const { port } = new URL(baseUrl);
  return new Promise<{ text: string; closedAfterMs: number }>((resolve, reject) => {
    const started = Date.now();
    const socket: Socket = tcpConnect(Number(port), '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after ${timeoutMs} ms: ${text}`));
    }, timeoutMs);
    socket.on('data', (d) => (text += d.toString()));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - started });
    });
    socket.on('error', () => {});
    void (async () => {
      for (const part of parts) {
        if (part.delayMs) await new Promise((r) => setTimeout(r, part.delayMs));
        if (!socket.destroyed) socket.write(part.data);
      }
    })();
  });
}

const bodyOf = (text: string) =>
  JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;

describe("answers Node's HTTP layer gives itself", () => {
  it('are our JSON error for oversized headers (431) and malformed requests (400)', async () => {
    const big = await raw(t.server.baseUrl, [
      { data: `GET /api/v1/user HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n` },
    ]);
    expect(big.text).toMatch(/^HTTP\/1.1 431 /);
    expect(big.text).toContain('Content-Type: application/json');
    expect(bodyOf(big.text)).toMatchObject({ code: 'HEADERS_TOO_LARGE', request_id: expect.any(String) });

    const garbage = await raw(t.server.baseUrl, [{ data: 'NOT AN HTTP REQUEST\r\n\r\n' }]);
    expect(garbage.text).toMatch(/^HTTP\/1.1 400 /);
    expect(bodyOf(garbage.text)).toMatchObject({ code: 'MALFORMED_REQUEST', request_id: expect.any(String) });
  });
});

describe('slow and silent clients', () => {
  let quick: TestServer;
  beforeAll(async () => {
    quick = await startTestServer({}, { idleTimeoutMs: 1_000 });
  });
  afterAll(() => quick.close());

  it('closes a connection that sends nothing', async () => {
    const { closedAfterMs } = await raw(quick.baseUrl, []);
    expect(closedAfterMs).toBeLessThan(3_000);
  });

  it('answers 408 in our JSON shape when headers keep trickling in past the limit', async () => {
    const { text } = await raw(quick.baseUrl, [
      { data: 'GET /api/v1/user HTTP/1.1\r\nHost: x\r\n' },
      ...Array.from({ length: 8 }, (_, i) => ({ data: `X-Slow-${i}: y\r\n`, delayMs: 300 })),
    ]);
    expect(text).toMatch(/^HTTP\/1.1 408 /);
    expect(bodyOf(text)).toMatchObject({ code: 'REQUEST_TIMEOUT', request_id: expect.any(String) });
  });

  it('cuts a body that stops arriving', async () => {
    const { closedAfterMs, text } = await raw(quick.baseUrl, [
      {
        data: 'POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"us',
      },
    ]);
    expect(closedAfterMs).toBeLessThan(3_000);
    expect(text).not.toContain('200 OK');
  });

  it('does not cut an upload that keeps arriving, however long it takes in all', async () => {
    const body = JSON.stringify({ username: 'slow@example.com', password: 'x'.repeat(200) });
    const chunks = body.match(/.{1,30}/g)!;
    const { text, closedAfterMs } = await raw(quick.baseUrl, [
      {
        data: `POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      },
      ...chunks.map((data) => ({ data, delayMs: 400 })),
    ]);
    // Longer than the 1 s idle limit in all, never silent for 1 s: answered, not cut.
    expect(closedAfterMs).toBeGreaterThan(1_500);
    expect(text).toMatch(/^HTTP\/1.1 401 /);
  });
});

describe('methods', () => {
  it('answers 405 with Allow for a wrong method on an existing path', async () => {
    const res = await t.api('DELETE', '/user', { token: t.token });
    expect(res.status).toBe(405);
    expect(res.body.code).toBe('METHOD_NOT_ALLOWED');
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    const posts = await t.api('PATCH', '/posts/', { token: t.token, body: {} });
    expect(posts.status).toBe(405);
    expect(posts.headers.get('allow')?.split(', ').sort()).toEqual(['GET', 'HEAD', 'POST']);
    expect((await t.api('GET', '/no-such-thing', { token: t.token })).status).toBe(404);
  });

  it('answers HEAD like GET, without a body', async () => {
    const res = await fetch(`${t.server.baseUrl}/api/v1/user`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${t.token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.text()).toBe('');
    const missing = await fetch(`${t.server.baseUrl}/api/v1/posts/999999`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${t.token}` },
    });
    expect(missing.status).toBe(404);
  });
});

describe('bodies and queries that once made a 500', () => {
  const login = JSON.stringify({ username: 'nobody@example.com', password: 'wrong password' });

  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const)(
    'decodes a valid %s body, and refuses one that does not decode with a 400',
    async (encoding, compress) => {
      const ok = await fetch(`${t.server.baseUrl}/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        body: compress(Buffer.from(login)),
      });
      expect(ok.status).toBe(401);
      const bad = await t.api('POST', '/login', {
        rawBody: 'this is not compressed',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('MALFORMED_JSON');
    },
  );

  it('refuses deeply nested JSON with a 400 on both transports', async () => {
    const deep = `{"username": ${'['.repeat(20_000)}${']'.repeat(20_000)}, "password": "x"}`;
    const rest = await t.api('POST', '/login', { rawBody: deep });
    expect(rest.status).toBe(400);
    expect(rest.body.code).toMatch(/^(VALIDATION_FAILED|MALFORMED_JSON)$/);
    const trpc = await jsonClient(t.server.baseUrl)('POST', '/trpc/auth.login', { rawBody: deep });
    expect(trpc.status).toBeGreaterThanOrEqual(400);
    expect(trpc.status).toBeLessThan(500);
  });

  it('refuses __proto__ and friends in a query string like any unknown field', async () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const res = await t.api('GET', `/posts?${key}=x`, { token: t.token });
      expect(res.status, key).toBe(400);
      expect(res.body.issues).toEqual([{ path: key, message: `${key} is not a field of this operation` }]);
    }
  });
});
