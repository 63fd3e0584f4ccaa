/**
 * A flood of badly signed bodies at Meta's webhook URL (issue 21): past 20
 * failed signatures a minute, an address is refused before its body is read
 * or an HMAC computed; other addresses (Meta's) are not affected.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.ts';

const SECRET = 'instagram-app-secret-for-tests';
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    INSTAGRAM_APP_ID: '1234',
    INSTAGRAM_APP_SECRET: SECRET,
    WEBHOOK_VERIFY_TOKEN: 'verify-token-123456',
    // Behind a proxy: the caller's address is X-Forwarded-For, so the test can speak from several.
    TRUST_PROXY: 'true',
  });
});
afterAll(() => server.close());

const body = JSON.stringify({ object: 'instagram', entry: [] });
const signed = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;

function deliver(from: string, signature: string, payload: string = body) {
  return fetch(`${server.baseUrl}/webhooks/instagram`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': signature,
      'x-forwarded-for': from,
    },
    body: payload,
  });
}

describe('badly signed deliveries from one address', () => {
  it('are refused with 429 before the body is read once 20 failed in a minute; Meta’s address is unaffected', async () => {
    const big = 'x'.repeat(1_000_000);
    for (let i = 0; i < 20; i++) {
      const res = await deliver('203.0.113.7', `sha256=${'0'.repeat(64)}`, big);
      expect(res.status, `attempt ${i + 1}`).toBe(401);
      await res.arrayBuffer();
    }
    const refused = await deliver('203.0.113.7', `sha256=${'0'.repeat(64)}`, big);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as { code: string }).code).toBe('TOO_MANY_REQUESTS');
    // Even a good signature from that address waits its turn: the address is what is refused.
    expect((await deliver('203.0.113.7', signed)).status).toBe(429);
    // Meta, from its own address, is heard as always.
    const meta = await deliver('198.51.100.20', signed);
    expect(meta.status).toBe(200);
    expect(await meta.json()).toEqual({ received: 0, stored: 0 });
  });
});
