/**
 * One POST to a receiver, safely: https only, the host resolved now and
 * refused unless every address is public, the connection made to exactly
 * the address checked (a DNS answer that changes in between cannot send us
 * elsewhere), no redirects followed, a time limit on the whole exchange and
 * at most 1 KB of the answer read.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { NonPublicAddress, resolvePublic, type Resolver } from '../net/public-address.ts';

export interface SendOptions {
  timeoutMs: number;
  /** WEBHOOK_ALLOW_PRIVATE_HOSTS: loopback receivers (and plain http) for tests; refused in production. */
  allowPrivate: boolean;
  resolver?: Resolver;
}

export interface SendResult {
  /** The receiver's status code; null when there was no answer. */
  status: number | null;
  /** Why it did not count as delivered; null for a 2xx. */
  error: string | null;
  /** The first 1 KB of the answer. */
  response: string | null;
}

const MAX_RESPONSE_BYTES = 1024;

export async function sendWebhook(
  target: string,
  body: string,
  headers: Record<string, string>,
  opts: SendOptions,
): Promise<SendResult> {
  const url = new URL(target);
  const plainHttpAllowed = opts.allowPrivate && url.protocol === 'http:';
  if (url.protocol !== 'https:' && !plainHttpAllowed)
    return { status: null, error: 'The URL must use https.', response: null };
  let pinned: { address: string; family: 4 | 6 };
  try {
    pinned = await resolvePublic(url.hostname, { resolver: opts.resolver, allowPrivate: opts.allowPrivate });
  } catch (error) {
    const message =
      error instanceof NonPublicAddress ? error.message : `${url.hostname} could not be resolved`;
    return { status: null, error: `Not sent: ${message}.`, response: null };
  }
  // net calls lookup with `all: true` when it tries several addresses (autoSelectFamily): answer both ways.
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all)
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const done = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const request = client.request(
      url,
      {
        method: 'POST',
        lookup,
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'instagram-autopost-webhooks/1',
          ...headers,
        },
        // No connection reuse: each send resolves and checks the host again.
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = () => {
          const status = response.statusCode ?? null;
          const text = Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8');
          const ok = status !== null && status >= 200 && status < 300;
          done({
            status,
            error: ok
              ? null
              : status !== null && status >= 300 && status < 400
                ? `Answered ${status}: redirects are not followed.`
                : `Answered ${status}.`,
            response: text,
          });
          response.destroy();
        };
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= MAX_RESPONSE_BYTES) finish();
        });
        response.on('end', finish);
        response.on('error', finish);
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      done({ status: null, error: `No answer within ${opts.timeoutMs / 1000} s.`, response: null });
    }, opts.timeoutMs);
    request.on('error', (error) => {
      done({
        status: null,
        error: `Could not connect: ${error.message.replace(/\d+\.\d+\.\d+\.\d+/g, '[address]')}`,
        response: null,
      });
    });
    request.end(body);
  });
}
