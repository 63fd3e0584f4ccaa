/**
 * Typed clients for the Instagram autopost server.
 *
 * - `createClient` talks tRPC to `/trpc`, typed by the server's router
 *   (imported as a type only: no server code ends up in a bundle).
 * - `paths` and `components` are the REST types generated from
 *   openapi/openapi.json, for use with openapi-fetch against `/api/v1`.
 */
import { createTRPCClient, httpBatchLink, httpLink, splitLink, TRPCClientError } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../../server/router.ts';

export type { AppRouter };
export type { paths, components, operations } from './generated/rest.ts';
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
export type Post = RouterOutputs['posts']['get'];
export type CreatePostInput = RouterInputs['posts']['create'];
export type Instagram = RouterOutputs['instagrams']['get'];
export type ConnectInstagramInput = RouterInputs['instagrams']['create'];
export type Channel = RouterOutputs['channels']['get'];
export type CreateChannelInput = RouterInputs['channels']['create'];
export type ChannelAction = RouterOutputs['channels']['actions']['items'][number];

export interface ClientOptions {
  /** Server origin, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** An API token (`npm run create-token`) or a login token. */
  token?: string;
  /** A fetch implementation; default the global one. */
  fetch?: typeof fetch;
}

/**
 * A tRPC client. A mutation given `{ context: { idempotencyKey } }` is sent
 * alone with that `Idempotency-Key`: retried with the same key after a lost
 * answer, it answers the first answer again and creates nothing twice.
 *
 * ```ts
 * const key = crypto.randomUUID();
 * await api.posts.create.mutate(input, { context: { idempotencyKey: key } });
 * ```
 */
export function createClient(opts: ClientOptions) {
  const url = `${opts.url.replace(/\/+$/, '')}/trpc`;
  const auth = (): Record<string, string> => (opts.token ? { authorization: `Bearer ${opts.token}` } : {});
  const fetchOption = opts.fetch ? { fetch: opts.fetch } : {};
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        // A key belongs to one call: such calls are never batched with others.
        condition: (op) => typeof op.context.idempotencyKey === 'string',
        true: httpLink({
          url,
          headers: ({ op }) => ({ ...auth(), 'idempotency-key': String(op.context.idempotencyKey) }),
          ...fetchOption,
        }),
        false: httpBatchLink({
          url,
          // The server refuses batches of more than 50 calls.
          maxItems: 50,
          headers: auth,
          ...fetchOption,
        }),
      }),
    ],
  });
}

export type Client = ReturnType<typeof createClient>;

/** The server's error code (`POST_NOT_FOUND`, `VALIDATION_FAILED`, ...) of a failed call, if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (error instanceof TRPCClientError) {
    const data = (error as TRPCClientError<AppRouter>).data as { appCode?: string } | undefined;
    return data?.appCode;
  }
  return undefined;
}

/** The number of the server's error code (seed 002's numbered errors: 2010, 5010, ...), if it has one. */
export function errorNumber(error: unknown): number | undefined {
  if (error instanceof TRPCClientError) {
    const data = (error as TRPCClientError<AppRouter>).data as { appNumber?: number } | undefined;
    return data?.appNumber;
  }
  return undefined;
}

export type Media = RouterOutputs['media']['get'];

/** A refused upload: the server's error body (`code`, `number`, `message`, `issues`). */
export class UploadError extends Error {
  override name = 'UploadError';
  constructor(
    readonly status: number,
    readonly body: {
      code: string;
      number: number;
      message: string;
      issues?: { path: string; message: string }[];
    },
  ) {
    super(body.message);
  }
}

/**
 * Uploads a photo or video (`POST /api/v1/media`; a file body is not a tRPC
 * call). `body` may be a stream, a Blob or bytes; `contentType` says what it
 * is (`image/heic`, `video/mp4`, ...). Resolves with the upload, whose `url`
 * goes into a post.
 */
export async function uploadMedia(
  opts: ClientOptions,
  body: Blob | Uint8Array | ReadableStream<Uint8Array>,
  contentType: string,
  /** `idempotencyKey`: send the same one when retrying the same upload, and it is stored once. */
  options: { idempotencyKey?: string } = {},
): Promise<Media> {
  const res = await (opts.fetch ?? fetch)(`${opts.url.replace(/\/+$/, '')}/api/v1/media`, {
    method: 'POST',
    headers: {
      'content-type': contentType,
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}),
    },
    body,
    // Node's fetch needs this to send a stream.
    ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  });
  const json = await res.json();
  if (res.status !== 201) throw new UploadError(res.status, json as UploadError['body']);
  return json as Media;
}
