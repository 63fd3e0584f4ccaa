/**
 * One POST to a receiver through safeRequest (https only, public addresses
 * only, pinned connection), no redirects followed, 10 s, 1 KB of the answer kept.
 */
import type { Resolver } from '../net/public-address.ts';
import { safeRequest } from '../net/safe-request.ts';

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

const sentence = (text: string) => `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;

export async function sendWebhook(
  target: string,
  body: string,
  headers: Record<string, string>,
  opts: SendOptions,
): Promise<SendResult> {
  const answer = await safeRequest(new URL(target), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'instagram-autopost-webhooks/1',
      ...headers,
    },
    body,
    timeoutMs: opts.timeoutMs,
    maxBytes: MAX_RESPONSE_BYTES,
    allowPrivate: opts.allowPrivate,
    resolver: opts.resolver,
  });
  if (!answer.ok)
    return {
      status: null,
      error: answer.refused ? `Not sent: ${answer.error}.` : sentence(answer.error),
      response: null,
    };
  const { status } = answer;
  const ok = status >= 200 && status < 300;
  return {
    status,
    error: ok
      ? null
      : status >= 300 && status < 400
        ? `Answered ${status}: redirects are not followed.`
        : `Answered ${status}.`,
    response: answer.body.toString('utf8'),
  };
}
