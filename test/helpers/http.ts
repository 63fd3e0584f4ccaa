import { ERRORS, type ErrorCode } from '../../server/errors.ts';
import { recordOpenApiCheck, recordViolation } from './openapi.ts';

/**
 * Every error body carries the request's id, the same one as the
 * X-Request-Id header, and the number of its code from the one table.
 */
export function checkRequestId(status: number, headers: Headers, body: unknown): void {
  if (status < 400 || !body || typeof body !== 'object') return;
  // REST: {request_id}; tRPC: {error: {data: {request_id}}}, one per call in a batch.
  const first = (Array.isArray(body) ? body[0] : body) as {
    request_id?: unknown;
    code?: string;
    number?: unknown;
    error?: { data?: { request_id?: unknown; appCode?: string; appNumber?: unknown } };
  };
  const id = first?.request_id ?? first?.error?.data?.request_id;
  if (!id || id !== headers.get('x-request-id'))
    recordViolation(`error ${status} without a matching request_id: ${JSON.stringify(body).slice(0, 200)}`);
  const code = (first?.code ?? first?.error?.data?.appCode) as ErrorCode | undefined;
  const number = first?.number ?? first?.error?.data?.appNumber;
  if (!code || !(code in ERRORS) || number !== ERRORS[code].number)
    recordViolation(`error ${status} without its code's number: ${JSON.stringify(body).slice(0, 200)}`);
}

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A small JSON client for routes and failure modes a typed client cannot express (bad bodies, bad headers). */
export function jsonClient(baseUrl: string) {
  return async function request<T = any>(
    method: string,
    path: string,
    opts: {
      body?: unknown;
      rawBody?: string | Uint8Array | FormData | Blob;
      token?: string;
      headers?: Record<string, string>;
    } = {},
  ): Promise<JsonResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | Uint8Array | FormData | Blob | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (typeof body === 'string' && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    checkRequestId(res.status, res.headers, parsed);
    if (new URL(`${baseUrl}${path}`).pathname.startsWith('/api/v1'))
      recordOpenApiCheck(method, `${baseUrl}${path}`, res.status, res.headers.get('content-type'), parsed);
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  };
}
