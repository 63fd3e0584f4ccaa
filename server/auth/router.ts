import { AppError } from '../errors.ts';
import { authedProcedure, publicProcedure, router } from '../trpc.ts';
import { ZCredentials, ZLogoutOutput, ZNoInput, ZSignupInput, ZToken, ZUser } from './schemas.ts';
import { login, signup, toTokenOutput, toUserOutput } from './service.ts';
import { invalidateSession, rotateSession } from './sessions.ts';
import { usernameKey } from './username.ts';

const TAGS = ['auth'];

/**
 * Counts the attempt before the password is checked (see throttle.ts); a
 * success forgives the username. Runs after the input is parsed: the count
 * is per normalised username.
 */
const throttledLogin = publicProcedure.input(ZCredentials).use(async ({ ctx, input, next }) => {
  const attempt = await ctx.loginThrottle.attempt(usernameKey(input.username), ctx.ip);
  try {
    const result = await next();
    if (result.ok) await attempt.succeeded();
    else ctx.logger.info({ ip: ctx.ip, requestId: ctx.requestId }, 'failed login');
    return result;
  } finally {
    attempt.finished();
  }
});

/** The same login under two routes: the first app's `/api-token-auth/` and seed 002's `/login`. */
const loginProcedure = (path: `/${string}`, operationId: string, summary: string, description?: string) =>
  throttledLogin
    .meta({
      openapi: {
        method: 'POST',
        path,
        operationId,
        summary,
        ...(description ? { description } : {}),
        tags: TAGS,
        protect: false,
      },
      // Public routes do not get the rate limit's 429 among the common codes; the login throttle answers it.
      errors: ['INVALID_CREDENTIALS', 'TOO_MANY_REQUESTS'],
    })
    .output(ZToken)
    .mutation(({ ctx, input }) =>
      ctx.db.transaction((tx) => login(tx, { ...input, ttlSeconds: ctx.env.SESSION_TTL })),
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
        protect: false,
      },
      errors: ['SIGNUP_DISABLED', 'USERNAME_TAKEN'],
    })
    // Before the input is read: a disabled sign-up says so whatever is sent.
    .use(({ ctx, next }) => {
      if (!ctx.env.SIGNUP_ENABLED) throw new AppError('SIGNUP_DISABLED');
      return next();
    })
    .input(ZSignupInput)
    .output(ZUser)
    .mutation(({ ctx, input }) => ctx.db.transaction((tx) => signup(tx, input))),

  me: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/user',
        operationId: 'getCurrentUser',
        summary: 'The user the token belongs to',
        tags: TAGS,
        protect: true,
      },
      errors: [],
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
        protect: true,
      },
      errors: [],
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
        protect: true,
      },
      errors: [],
    })
    .input(ZNoInput)
    .output(ZLogoutOutput)
    .mutation(async ({ ctx }) => {
      await invalidateSession(ctx.db, ctx.session.id);
      return { logged_out: true as const };
    }),
});
