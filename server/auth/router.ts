import { invalidateSession, rotateSession } from './sessions.ts';
import { login, signup, toTokenOutput, toUserOutput } from './service.ts';
import { ZCredentials, ZLogoutOutput, ZNoInput, ZSignupInput, ZToken, ZUser } from './schemas.ts';
import { authedProcedure, publicProcedure, router } from '../trpc.ts';

const TAGS = ['auth'];

/** The same login under two routes: the first app's `/api-token-auth/` and seed 002's `/login`. */
const loginProcedure = (path: `/${string}`, operationId: string, summary: string, description?: string) =>
  publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path,
        operationId,
        summary,
        ...(description ? { description } : {}),
        tags: TAGS,
        errorResponses: [400, 401, 429],
        protect: false,
      },
    })
    .input(ZCredentials)
    .output(ZToken)
    .mutation(({ ctx, input }) =>
      login(ctx.db, {
        ...input,
        ip: ctx.ip,
        ttlSeconds: ctx.env.SESSION_TTL,
        throttle: ctx.throttle,
        logger: ctx.logger,
      }),
    );

export const authRouter = router({
  obtainToken: loginProcedure(
    '/api-token-auth',
    'obtainToken',
    'Exchange a username and password for a token',
    'The route name of the first (Django REST) app; identical to `POST /login`.',
  ),
  login: loginProcedure('/login', 'login', 'Log in with a username and password'),

  signup: publicProcedure
    .meta({
      successStatus: 201,
      openapi: {
        method: 'POST',
        path: '/signup',
        operationId: 'signup',
        summary: 'Create a user (only when SIGNUP_ENABLED=true)',
        tags: TAGS,
        errorResponses: [400, 403, 409],
        protect: false,
      },
    })
    .input(ZSignupInput)
    .output(ZUser)
    .mutation(({ ctx, input }) => signup(ctx.db, { ...input, enabled: ctx.env.SIGNUP_ENABLED })),

  me: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/user',
        operationId: 'getCurrentUser',
        summary: 'The user the token belongs to',
        tags: TAGS,
        errorResponses: [401],
        protect: true,
      },
    })
    .input(ZNoInput)
    .output(ZUser)
    .query(({ ctx }) => toUserOutput(ctx.user)),

  refreshToken: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/user/refresh_token',
        operationId: 'refreshToken',
        summary: 'Replace the token with a new one; the old one stops working',
        tags: TAGS,
        errorResponses: [401],
        protect: true,
      },
    })
    .input(ZNoInput)
    .output(ZToken)
    .query(async ({ ctx }) =>
      toTokenOutput(await ctx.db.transaction((tx) => rotateSession(tx, ctx.session))),
    ),

  logout: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/logout',
        operationId: 'logout',
        summary: 'End the session of the presented token',
        tags: TAGS,
        errorResponses: [401],
        protect: true,
      },
    })
    .input(ZNoInput)
    .output(ZLogoutOutput)
    .mutation(async ({ ctx }) => {
      await invalidateSession(ctx.db, ctx.session.id);
      return { logged_out: true as const };
    }),
});
