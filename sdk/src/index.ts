/**
 * Typed clients for the Instagram autopost server.
 *
 * - `createClient` talks tRPC to `/trpc`, typed by the server's router
 *   (imported as a type only: no server code ends up in a bundle).
 * - `paths` and `components` are the REST types generated from
 *   openapi/openapi.json, for use with openapi-fetch against `/api/v1`.
 */
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
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

export interface ClientOptions {
  /** Server origin, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** An API token (`npm run create-token`) or a login token. */
  token?: string;
  /** A fetch implementation; default the global one. */
  fetch?: typeof fetch;
}

export function createClient(opts: ClientOptions) {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${opts.url.replace(/\/+$/, '')}/trpc`,
        // The server refuses batches of more than 50 calls.
        maxItems: 50,
        headers: () => (opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.fetch ? { fetch: opts.fetch } : {}),
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
