import { randomUUID } from 'node:crypto';
import { initTRPC, TRPCError, type AnyRouter } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import type { z } from 'zod';
import type { SessionUser, ValidSession } from './auth/sessions.ts';
import { validateSessionToken } from './auth/sessions.ts';
import {
  createLoginThrottle,
  RateLimited,
  type ApiRateLimit,
  type LoginThrottle,
  type RateLimitState,
} from './auth/throttle.ts';
import type { TokenCipher } from './crypto/token-cipher.ts';
import type { Db } from './db/client.ts';
import type { Env } from './env.ts';
import { AppError, ERRORS, toAppError, type ErrorCode } from './errors.ts';
import type { Logger } from './logger.ts';
import { checkIdempotencyKey, fingerprintOf, runIdempotent } from './idempotency/idempotency.ts';
import type { MetaClient } from './instagrams/meta.ts';
import { systemResolver, type Resolver } from './net/public-address.ts';
import type { WaitingCounts } from './posts/publish-limit.ts';

/** Everything a procedure may use; built without an HTTP request so tests can call procedures directly. */
export interface Context {
  db: Db;
  env: Env;
  logger: Logger;
  /** Counts login attempts per username and address (shared by all processes). */
  loginThrottle: LoginThrottle;
  /** This process's recent counts of each user's waiting posts (MAX_SCHEDULED_POSTS). */
  waitingCounts: WaitingCounts;
  /** API_RATE_LIMIT per user, or null when it is off. */
  apiRateLimit: ApiRateLimit | null;
  /** Sets a response header (RateLimit-*); a no-op without an HTTP response. */
  setHeader: (name: string, value: string) => void;
  /** The request's id (X-Request-Id), in every error body and log line of the request. */
  requestId: string;
  /** The bearer token presented, if any; checked by `authedProcedure`. */
  token: string | undefined;
  /** Client address, for the login throttle. */
  ip: string | undefined;
  /** Seals Graph access tokens at rest. */
  cipher: TokenCipher;
  /** Meta's hosts and our apps: connecting accounts, OAuth. */
  meta: MetaClient;
  /** Resolves host names for URL checks (webhooks); tests inject one. */
  resolver: Resolver;
  /** The HTTP status of this success when not the procedure's usual one (a reconnect answers 200, a connect 201). */
  successStatus: { value?: number };
  /** The request's Idempotency-Key header as sent (checked by the idempotency middleware). */
  idempotencyKey: string | string[] | undefined;
}

export function createContextInner(
  opts: Pick<Context, 'db' | 'env' | 'logger' | 'cipher' | 'meta'> &
    Partial<
      Pick<
        Context,
        | 'token'
        | 'ip'
        | 'loginThrottle'
        | 'requestId'
        | 'apiRateLimit'
        | 'setHeader'
        | 'waitingCounts'
        | 'resolver'
        | 'idempotencyKey'
      >
    >,
): Context {
  return {
    ...opts,
    token: opts.token,
    ip: opts.ip,
    requestId: opts.requestId ?? randomUUID(),
    loginThrottle: opts.loginThrottle ?? createLoginThrottle(opts.db),
    apiRateLimit: opts.apiRateLimit ?? null,
    setHeader: opts.setHeader ?? (() => {}),
    successStatus: {},
    resolver: opts.resolver ?? systemResolver,
    waitingCounts: opts.waitingCounts ?? (new Map() as WaitingCounts),
    idempotencyKey: opts.idempotencyKey,
  };
}

/** Reads `Authorization: Token <t>` (the first app's style) or `Authorization: Bearer <t>`. */
export function tokenFromHeader(header: string | undefined): string | undefined {
  const match = header ? /^(?:Token|Bearer)\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

export interface Meta extends OpenApiMeta {
  /** HTTP status of a success over REST; default 200. */
  successStatus?: 200 | 201;
  /** A second success status the procedure may choose with ctx.successStatus (documented beside the first). */
  otherSuccessStatus?: 200;
  /**
   * The error codes this procedure raises itself. openapi.json documents
   * them, plus the ones every route can answer (openapi.ts COMMON_ERRORS).
   */
  errors?: ErrorCode[];
}

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    // Never send stack traces, whatever NODE_ENV says.
    isDev: false,
    errorFormatter({ shape, error, ctx }) {
      const appError = toAppError(error);
      return {
        message: appError.message,
        code: shape.code,
        data: {
          code: shape.data.code,
          httpStatus: appError.status,
          path: shape.data.path,
          /** The domain code, the same one REST clients see in `code`. */
          appCode: appError.code,
          /** The code's number (seed 002's numbered errors), as in REST's `number`. */
          appNumber: ERRORS[appError.code].number,
          issues: appError.issues,
          /** What to quote when reporting the error; also the X-Request-Id header. */
          request_id: ctx?.requestId,
        },
      };
    },
  });

/**
 * Services throw AppError; tRPC would report any non-TRPCError as a 500.
 * This gives it the tRPC code (and so the HTTP status) from the one table.
 */
const appErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof AppError) {
    const appError = result.error.cause;
    throw new TRPCError({ code: ERRORS[appError.code].trpc, message: appError.message, cause: appError });
  }
  return result;
});

export const router = t.router;
export const publicProcedure = t.procedure.use(appErrors);
export const createCallerFactory = t.createCallerFactory;

/** The token's user, counted against API_RATE_LIMIT: what every protected route does first (uploads too). */
export async function authenticate(ctx: Context): Promise<AuthedContext> {
  if (!ctx.token) throw new AppError('UNAUTHORIZED');
  const result = await validateSessionToken(ctx.db, ctx.token);
  if (!result) throw new AppError('UNAUTHORIZED', 'The token is invalid or has expired.');
  if (ctx.apiRateLimit) {
    let state: RateLimitState;
    try {
      state = await ctx.apiRateLimit.consume(result.user.id);
    } catch (error) {
      if (error instanceof RateLimited) {
        rateLimitHeaders(ctx, error.state);
        ctx.setHeader('Retry-After', String(error.state.reset));
      }
      throw error;
    }
    rateLimitHeaders(ctx, state);
  }
  return { ...ctx, user: result.user, session: result.session };
}

/**
 * POST operations run once per Idempotency-Key (server/idempotency/): the
 * request's work and its kept answer share one transaction, handed to the
 * procedure as `ctx.db`.
 */
const idempotent = t.middleware(async (opts) => {
  const { ctx, meta, type, path, next } = opts;
  const key = checkIdempotencyKey(ctx.idempotencyKey);
  if (key === undefined || type !== 'mutation' || meta?.openapi?.method !== 'POST') return next();
  const { user } = ctx as AuthedContext;
  const { replayed, answer } = await runIdempotent(ctx.db, {
    userId: user.id,
    key,
    fingerprint: fingerprintOf(path, await opts.getRawInput()),
    run: async (tx) => {
      // Services take `Db | Tx`; a procedure's own transactions become savepoints of this one.
      const result = await next({ ctx: { ...ctx, db: tx as unknown as Db } });
      if (!result.ok) throw result.error;
      return result.data;
    },
    successStatus: () => ctx.successStatus.value ?? meta.successStatus ?? 200,
  });
  if (replayed) {
    ctx.setHeader('Idempotent-Replayed', 'true');
    ctx.successStatus.value = answer.status;
  }
  if (!answer.ok) throw answer.error;
  // A kept answer is returned without running the procedure: tRPC's result shape, built by hand.
  return { ok: true as const, data: answer.data, marker: 'middlewareMarker' } as unknown as ReturnType<
    typeof next
  >;
});

export const authedProcedure = publicProcedure
  .use(async ({ ctx, next }) => next({ ctx: await authenticate(ctx) }))
  .use(idempotent);

/** The IETF draft's RateLimit-* fields, as most public APIs send them. */
function rateLimitHeaders(ctx: Context, state: RateLimitState): void {
  ctx.setHeader('RateLimit-Limit', String(state.limit));
  ctx.setHeader('RateLimit-Remaining', String(state.remaining));
  ctx.setHeader('RateLimit-Reset', String(state.reset));
}

export type AuthedContext = Context & { user: SessionUser; session: ValidSession };

export type EditMode = 'patch' | 'replace';

interface EditSpec<P extends z.ZodType, R extends z.ZodType, O extends z.ZodType> {
  /** The resource's path, e.g. `/posts/{id}`. */
  path: `/${string}`;
  /** Its name in operation ids: `update<Name>` (PATCH) and `replace<Name>` (PUT). */
  name: string;
  tags: string[];
  errors: ErrorCode[];
  output: O;
  patch: { input: P; summary: string; description?: string };
  replace: { input: R; summary: string; description?: string };
  /** The one service call both make: `patch` keeps fields left out, `replace` resets them. */
  run(ctx: AuthedContext, input: z.output<P> | z.output<R>, mode: EditMode): Promise<z.input<O>>;
}

/**
 * A resource's PATCH (`update`) and PUT (`replace`): the same path, errors,
 * output and service call, told apart by the mode the service is given.
 */
export function editProcedures<P extends z.ZodType, R extends z.ZodType, O extends z.ZodType>(
  spec: EditSpec<P, R, O>,
) {
  const procedure = <I extends z.ZodType>(
    mode: EditMode,
    text: { input: I; summary: string; description?: string },
  ) =>
    authedProcedure
      .meta({
        openapi: {
          method: mode === 'patch' ? 'PATCH' : 'PUT',
          path: spec.path,
          operationId: `${mode === 'patch' ? 'update' : 'replace'}${spec.name}`,
          summary: text.summary,
          ...(text.description ? { description: text.description } : {}),
          tags: spec.tags,
          protect: true,
        },
        errors: spec.errors,
      })
      .input(text.input)
      .output(spec.output)
      .mutation(
        // The casts only restate, for tRPC's generic inference, what EditSpec already ties together.
        ({ ctx, input }) => spec.run(ctx, input as z.output<P> | z.output<R>, mode) as Promise<never>,
      );
  return { update: procedure('patch', spec.patch), replace: procedure('replace', spec.replace) };
}

/** Each procedure's meta by its dotted path (`posts.create`). */
export function proceduresMeta(appRouter: AnyRouter): Map<string, Meta> {
  // At run time `_def.procedures` is the flat path -> procedure map.
  const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { meta?: Meta } }>;
  return new Map(Object.entries(procedures).map(([path, p]) => [path, p._def.meta ?? {}]));
}
