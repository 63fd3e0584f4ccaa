import { z } from 'zod';
import { AppError } from '../errors.ts';
import { authedProcedure, editProcedures, router, type AuthedContext, type EditMode } from '../trpc.ts';
import { connectError, readProfile, verifyToken } from './meta.ts';
import { startOAuth, subscribeConnected } from './oauth.ts';
import { refreshAccount } from './refresh.ts';
import { openAccountToken } from './token.ts';
import {
  ZConnectInput,
  ZDeletedInstagram,
  ZInstagram,
  ZInstagramEventList,
  ZInstagramIdInput,
  ZInstagramList,
  ZOAuthStart,
  ZRefreshOutput,
  ZStartOAuthInput,
  ZUpdateInstagramInput,
  type UpdateInstagramInput,
} from './schemas.ts';
import {
  deleteInstagram,
  getInstagramRow,
  listInstagramEvents,
  listInstagrams,
  saveVerifiedAccount,
  startInstagram,
  stopInstagram,
  toInstagramOutput,
  updateInstagram,
} from './service.ts';

const TAGS = ['instagrams'];

function refusePassword(input: { password?: unknown }): void {
  if (input.password !== undefined) throw new AppError('PASSWORD_NOT_ACCEPTED');
}

/**
 * Seed 002's `{username, password}` body gets its own answer even without a
 * token: checked on the raw input, before the schema would only say that
 * `token` is missing.
 */
const passwordRefused = authedProcedure.use(async ({ getRawInput, next }) => {
  const raw = await getRawInput();
  if (raw && typeof raw === 'object') refusePassword(raw);
  return next();
});

async function update(ctx: AuthedContext, input: UpdateInstagramInput, mode: EditMode) {
  refusePassword(input);
  const current = await getInstagramRow(ctx.db, ctx.user.id, input.id);
  // Meta checks the new token before anything changes; for a Facebook token, it must reach this account.
  const verified = input.token
    ? await verifyToken(ctx.meta, { token: input.token, userId: current.igUserId })
    : undefined;
  const row = await ctx.db.transaction((tx) =>
    updateInstagram(tx, ctx.user.id, { input, mode, verified }, { cipher: ctx.cipher }),
  );
  return toInstagramOutput(row);
}

/** `start` on a suspected account checks its token with Meta first. */
async function start(ctx: AuthedContext, id: number) {
  const current = await getInstagramRow(ctx.db, ctx.user.id, id);
  if (current.state === 'suspected') {
    try {
      await readProfile(ctx.meta, {
        loginType: current.loginType,
        igUserId: current.igUserId,
        token: openAccountToken(ctx, current).token,
      });
    } catch (error) {
      const appError = connectError(error);
      if (appError.code === 'INSTAGRAM_LOGIN_FAILED')
        throw new AppError(
          'INSTAGRAM_SUSPECTED',
          `Meta still refuses the account's token (${appError.message.replace(/^Instagram login failed: /, '')}); connect it again with a new token.`,
        );
      throw appError;
    }
  }
  return toInstagramOutput(await ctx.db.transaction((tx) => startInstagram(tx, ctx.user.id, id)));
}

const stop = async (ctx: AuthedContext, id: number) =>
  toInstagramOutput(await ctx.db.transaction((tx) => stopInstagram(tx, ctx.user.id, id)));

const START = {
  summary: 'Start an account: its posts publish again',
  description:
    'Held posts go back in line in the same transaction (due ones at once). On a suspected account the token is checked with Meta first: still refused → 409 `INSTAGRAM_SUSPECTED`.',
};
const STOP = {
  summary: 'Stop an account: its posts wait',
  description: 'Posts that come due stay `scheduled` with a `held` event until the account is started.',
};

export const instagramsRouter = router({
  create: passwordRefused
    .meta({
      successStatus: 201,
      otherSuccessStatus: 200,
      openapi: {
        method: 'POST',
        path: '/instagrams',
        operationId: 'createInstagram',
        summary: 'Connect an Instagram account with a token',
        description:
          'Meta checks the token at once (profile read). `IG…` tokens are Instagram Login, others Facebook Login; with a Facebook token, `user_id` picks the account when it reaches several. 201 for a new account; 200 when the same account was connected before (its token is replaced and `suspected` cleared).',
        tags: TAGS,
        protect: true,
      },
      errors: [
        'PASSWORD_NOT_ACCEPTED',
        'INSTAGRAM_LOGIN_FAILED',
        'INSTAGRAM_CONNECTED_ELSEWHERE',
        'GRAPH_REQUEST_FAILED',
      ],
    })
    .input(ZConnectInput)
    .output(ZInstagram)
    .mutation(async ({ ctx, input }) => {
      refusePassword(input);
      const verified = await verifyToken(ctx.meta, { token: input.token, userId: input.user_id });
      const { row, created } = await ctx.db.transaction((tx) =>
        saveVerifiedAccount(tx, ctx.user.id, verified, { cipher: ctx.cipher, settings: input }),
      );
      await subscribeConnected(ctx, row, verified.token);
      if (!created) ctx.successStatus.value = 200;
      return toInstagramOutput(row);
    }),

  list: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/instagrams',
        operationId: 'listInstagrams',
        summary: 'Your connected Instagram accounts',
        tags: TAGS,
        protect: true,
      },
      errors: [],
    })
    .input(z.object({}).strict())
    .output(ZInstagramList)
    .query(({ ctx }) => listInstagrams(ctx.db, ctx.user.id)),

  get: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/instagrams/{id}',
        operationId: 'getInstagram',
        summary: 'Read an account',
        tags: TAGS,
        protect: true,
      },
      errors: ['INSTAGRAM_NOT_FOUND'],
    })
    .input(ZInstagramIdInput)
    .output(ZInstagram)
    .query(async ({ ctx, input }) => toInstagramOutput(await getInstagramRow(ctx.db, ctx.user.id, input.id))),

  ...editProcedures({
    path: '/instagrams/{id}',
    name: 'Instagram',
    tags: TAGS,
    errors: [
      'INSTAGRAM_NOT_FOUND',
      'PASSWORD_NOT_ACCEPTED',
      'INSTAGRAM_LOGIN_FAILED',
      'GRAPH_REQUEST_FAILED',
    ],
    output: ZInstagram,
    patch: {
      input: ZUpdateInstagramInput,
      summary: 'Change an account’s settings or token',
      description:
        'A new `token` is checked with Meta and must be for this same account; a suspected account is started again and its held posts released.',
    },
    replace: {
      input: ZUpdateInstagramInput,
      summary: 'Replace an account’s settings (and token)',
      description:
        'Settings left out go back to their defaults; the token is kept unless one is sent. Same token rules as PATCH.',
    },
    run: update,
  }),

  start: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/instagrams/{id}/start',
        operationId: 'startInstagram',
        ...START,
        tags: TAGS,
        protect: true,
      },
      errors: ['INSTAGRAM_NOT_FOUND', 'INSTAGRAM_SUSPECTED', 'GRAPH_REQUEST_FAILED'],
    })
    .input(ZInstagramIdInput)
    .output(ZInstagram)
    .mutation(({ ctx, input }) => start(ctx, input.id)),

  startLegacy: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/instagrams/{id}/start',
        operationId: 'startInstagramLegacy',
        summary: `${START.summary} (seed 002's GET)`,
        description: `Use POST. ${START.description}`,
        deprecated: true,
        tags: TAGS,
        protect: true,
      },
      errors: ['INSTAGRAM_NOT_FOUND', 'INSTAGRAM_SUSPECTED', 'GRAPH_REQUEST_FAILED'],
    })
    .input(ZInstagramIdInput)
    .output(ZInstagram)
    .query(({ ctx, input }) => start(ctx, input.id)),

  stop: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/instagrams/{id}/stop',
        operationId: 'stopInstagram',
        ...STOP,
        tags: TAGS,
        protect: true,
      },
      errors: ['INSTAGRAM_NOT_FOUND'],
    })
    .input(ZInstagramIdInput)
    .output(ZInstagram)
    .mutation(({ ctx, input }) => stop(ctx, input.id)),

  stopLegacy: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/instagrams/{id}/stop',
        operationId: 'stopInstagramLegacy',
        summary: `${STOP.summary} (seed 002's GET)`,
        description: `Use POST. ${STOP.description}`,
        deprecated: true,
        tags: TAGS,
        protect: true,
      },
      errors: ['INSTAGRAM_NOT_FOUND'],
    })
    .input(ZInstagramIdInput)
    .output(ZInstagram)
    .query(({ ctx, input }) => stop(ctx, input.id)),

  refresh: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/instagrams/{id}/refresh',
        operationId: 'refreshInstagram',
        summary: 'Read the profile again and refresh the token now',
        description:
          'Meta refreshes Instagram-Login tokens at least 24 hours old and not expired; its refusal of a younger token is reported in `message` and an event, not turned into `suspected`. Token, permission and restriction errors make the account suspected. A suspected account answers 409 `INSTAGRAM_SUSPECTED`: connect it again with a new token.',
        tags: TAGS,
        protect: true,
      },
      errors: ['INSTAGRAM_NOT_FOUND', 'INSTAGRAM_SUSPECTED'],
    })
    .input(ZInstagramIdInput)
    .output(ZRefreshOutput)
    .mutation(async ({ ctx, input }) => {
      const row = await getInstagramRow(ctx.db, ctx.user.id, input.id);
      if (row.state === 'suspected') throw new AppError('INSTAGRAM_SUSPECTED');
      const outcome = await refreshAccount(
        { db: ctx.db, meta: ctx.meta, cipher: ctx.cipher, logger: ctx.logger },
        row,
        { refreshToken: true, alwaysRecord: true },
      );
      return {
        instagram: toInstagramOutput(await getInstagramRow(ctx.db, ctx.user.id, input.id)),
        token_refreshed: outcome.refreshed,
        message: outcome.message,
      };
    }),

  events: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/instagrams/{id}/events',
        operationId: 'listInstagramEvents',
        summary: 'What happened to an account, oldest first',
        tags: TAGS,
        protect: true,
      },
      errors: ['INSTAGRAM_NOT_FOUND'],
    })
    .input(ZInstagramIdInput)
    .output(ZInstagramEventList)
    .query(({ ctx, input }) => listInstagramEvents(ctx.db, ctx.user.id, input.id)),

  delete: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/instagrams/{id}',
        operationId: 'deleteInstagram',
        summary: 'Disconnect an account',
        description:
          'Refused (409 `INSTAGRAM_IN_USE`, with the count) while posts of it are scheduled or publishing. Its published and failed posts stay.',
        tags: TAGS,
        protect: true,
      },
      errors: ['INSTAGRAM_NOT_FOUND', 'INSTAGRAM_IN_USE'],
    })
    .input(ZInstagramIdInput)
    .output(ZDeletedInstagram)
    .mutation(({ ctx, input }) => ctx.db.transaction((tx) => deleteInstagram(tx, ctx.user.id, input.id))),

  oauthStart: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/instagrams/connect',
        operationId: 'startInstagramOAuth',
        summary: 'Start connecting an account through Meta’s sign-in',
        description:
          'Open `authorize_url` in ASWebAuthenticationSession. Meta returns the browser to `/api/v1/oauth/{login_type}/callback`, which redirects to your `redirect_uri` with `status=connected&instagram_id=<ids>` or `status=error&code=<CODE>&message=<text>`. `state` is single-use and valid 15 minutes.',
        tags: TAGS,
        protect: true,
      },
      errors: ['OAUTH_NOT_CONFIGURED'],
    })
    .input(ZStartOAuthInput)
    .output(ZOAuthStart)
    .mutation(({ ctx, input }) => ctx.db.transaction((tx) => startOAuth(tx, ctx.user.id, input, ctx.meta))),
});
