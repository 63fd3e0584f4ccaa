/**
 * One HTTP exchange with a host a user named (a webhook receiver, a media
 * URL), made safely: https only (http too when private hosts are allowed,
 * for tests), the host resolved now and refused unless every address is
 * public, the connection made to exactly the address checked (a DNS answer
 * that changes in between cannot send us elsewhere), redirects never
 * followed here (the caller decides, and checks the next hop the same way),
 * a time limit on the whole exchange and at most `maxBytes` of the answer read.
 */
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { NonPublicAddress, resolvePublic, type Resolver } from './public-address.ts';

export interface SafeRequestOptions {
  method: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Bytes of the answer kept; reading stops there. */
  maxBytes: number;
  /** Loopback and private hosts, and plain http: tests only, refused in production. */
  allowPrivate: boolean;
  resolver?: Resolver | undefined;
}

export type SafeResponse =
  | {
      ok: true;
      status: number;
      headers: http.IncomingHttpHeaders;
      /** At most maxBytes of the body. */
      body: Buffer;
    }
  | {
      ok: false;
      /** Why there is no answer, in words that never include an address. */
      error: string;
      /** A refusal of ours (not https, a non-public address), as opposed to the host failing. */
      refused: boolean;
    };

export async function safeRequest(target: URL, opts: SafeRequestOptions): Promise<SafeResponse> {
  const plainHttpAllowed = opts.allowPrivate && target.protocol === 'http:';
  if (target.protocol !== 'https:' && !plainHttpAllowed)
    return { ok: false, error: 'the URL must use https', refused: true };
  let pinned: { address: string; family: 4 | 6 };
  try {
    pinned = await resolvePublic(target.hostname, {
      resolver: opts.resolver,
      allowPrivate: opts.allowPrivate,
    });
  } catch (error) {
    return error instanceof NonPublicAddress
      ? { ok: false, error: error.message, refused: true }
      : { ok: false, error: `${target.hostname} could not be resolved`, refused: false };
  }
  // net calls lookup with `all: true` when it tries several addresses (autoSelectFamily): answer both ways.
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all)
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  const client = target.protocol === 'https:' ? https : http;
  return new Promise<SafeResponse>((resolve) => {
    let settled = false;
    const done = (result: SafeResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const request = client.request(
      target,
      {
        method: opts.method,
        lookup,
        headers: {
          ...(opts.body !== undefined ? { 'content-length': String(Buffer.byteLength(opts.body)) } : {}),
          ...opts.headers,
        },
        // No connection reuse: each request resolves and checks the host again.
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = () => {
          done({
            ok: true,
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).subarray(0, opts.maxBytes),
          });
          response.destroy();
        };
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= opts.maxBytes) finish();
        });
        response.on('end', finish);
        response.on('error', finish);
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      done({ ok: false, error: `no answer within ${opts.timeoutMs / 1000} s`, refused: false });
    }, opts.timeoutMs);
    request.on('error', (error) => {
      done({
        ok: false,
        error: `could not connect: ${error.message.replace(/\d+\.\d+\.\d+\.\d+(:\d+)?/g, '[address]')}`,
        refused: false,
      });
    });
    request.end(opts.body);
  });
}
