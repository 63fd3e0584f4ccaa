import { authedProcedure, router, type AuthedContext } from '../trpc.ts';
import {
  ZChannel,
  ZChannelActionList,
  ZChannelActionsInput,
  ZChannelIdInput,
  ZChannelList,
  ZChannelsInput,
  ZCreateChannelInput,
  ZDeletedChannel,
  ZUpdateChannelInput,
  type UpdateChannelInput,
} from './schemas.ts';
import {
  createChannel,
  deleteChannel,
  getChannel,
  listChannelActions,
  listChannels,
  startChannel,
  stopChannel,
  updateChannel,
} from './service.ts';

const TAGS = ['channels'];
const BASE = '/instagrams/{instagram_id}/channels';
const FIELD_ERRORS = [
  'INSTAGRAM_NOT_FOUND',
  'CHANNEL_EMPTY_ACTION',
  'CHANNEL_ACTION_UNSUPPORTED',
  'CHANNEL_TARGET_UNSUPPORTED',
] as const;

const ids = (input: { instagram_id: number; id: number }) => ({
  instagramId: input.instagram_id,
  id: input.id,
});

const START = {
  summary: 'Start a channel',
  description:
    'It acts on comments made from now on; its queued actions go back in line. While the account is stopped or suspected, nothing is done.',
};
const STOP = {
  summary: 'Stop a channel',
  description: 'Nothing more is done; queued actions wait for `start`.',
};

const edit = (ctx: AuthedContext, input: UpdateChannelInput, mode: 'patch' | 'replace') => {
  const { instagram_id, id, ...fields } = input;
  return ctx.db.transaction((tx) =>
    updateChannel(tx, ctx.user.id, { instagramId: instagram_id, id }, fields, mode),
  );
};
const start = (ctx: AuthedContext, input: { instagram_id: number; id: number }) =>
  ctx.db.transaction((tx) => startChannel(tx, ctx.user.id, ids(input)));
const stop = (ctx: AuthedContext, input: { instagram_id: number; id: number }) =>
  ctx.db.transaction((tx) => stopChannel(tx, ctx.user.id, ids(input)));

/** `POST …/{id}/start|stop`, and seed 002's GET on the same path (deprecated in openapi.json). */
function stateRoute(
  verb: 'start' | 'stop',
  text: { summary: string; description: string },
  opts: { legacy?: boolean } = {},
) {
  return authedProcedure
    .meta({
      openapi: {
        method: opts.legacy ? 'GET' : 'POST',
        path: `${BASE}/{id}/${verb}`,
        operationId: `${verb}Channel${opts.legacy ? 'Legacy' : ''}`,
        summary: opts.legacy ? `${text.summary} (seed 002's GET)` : text.summary,
        description: opts.legacy ? `Use POST. ${text.description}` : text.description,
        ...(opts.legacy ? { deprecated: true } : {}),
        tags: TAGS,
        protect: true,
      },
      errors: ['INSTAGRAM_NOT_FOUND', 'CHANNEL_NOT_FOUND'],
    })
    .input(ZChannelIdInput)
    .output(ZChannel);
}

export const channelsRouter = router({
  create: authedProcedure
    .meta({
      successStatus: 201,
      openapi: {
        method: 'POST',
        path: BASE,
        operationId: 'createChannel',
        summary: 'Create a channel: reply to, privately answer or hide comments on the account’s media',
        description:
          'Acts on comments made from now on. `like`, `follow`, `unfollow` and targets other than `comments` are refused with seed 002’s numbers: Meta’s official API has no such actions, and automating them breaks Instagram’s Terms of Use.',
        tags: TAGS,
        protect: true,
      },
      errors: [...FIELD_ERRORS],
    })
    .input(ZCreateChannelInput)
    .output(ZChannel)
    .mutation(({ ctx, input }) => {
      const { instagram_id, ...fields } = input;
      return ctx.db.transaction((tx) => createChannel(tx, ctx.user.id, instagram_id, fields));
    }),

  list: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: BASE,
        operationId: 'listChannels',
        summary: 'The account’s channels',
        tags: TAGS,
        protect: true,
      },
      errors: ['INSTAGRAM_NOT_FOUND'],
    })
    .input(ZChannelsInput)
    .output(ZChannelList)
    .query(({ ctx, input }) => listChannels(ctx.db, ctx.user.id, input.instagram_id)),

  get: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: `${BASE}/{id}`,
        operationId: 'getChannel',
        summary: 'Read a channel',
        tags: TAGS,
        protect: true,
      },
      errors: ['INSTAGRAM_NOT_FOUND', 'CHANNEL_NOT_FOUND'],
    })
    .input(ZChannelIdInput)
    .output(ZChannel)
    .query(({ ctx, input }) => getChannel(ctx.db, ctx.user.id, input.instagram_id, input.id)),

  update: authedProcedure
    .meta({
      openapi: {
        method: 'PATCH',
        path: `${BASE}/{id}`,
        operationId: 'updateChannel',
        summary: 'Change a channel’s action, target, value or templates',
        description: 'Fields left out keep their values. Queued actions keep the text they were given.',
        tags: TAGS,
        protect: true,
      },
      errors: [...FIELD_ERRORS, 'CHANNEL_NOT_FOUND'],
    })
    .input(ZUpdateChannelInput)
    .output(ZChannel)
    .mutation(({ ctx, input }) => edit(ctx, input, 'patch')),

  replace: authedProcedure
    .meta({
      openapi: {
        method: 'PUT',
        path: `${BASE}/{id}`,
        operationId: 'replaceChannel',
        summary: 'Replace a channel’s action, target, value and templates',
        description: 'Fields left out are emptied (so `action` is required).',
        tags: TAGS,
        protect: true,
      },
      errors: [...FIELD_ERRORS, 'CHANNEL_NOT_FOUND'],
    })
    .input(ZUpdateChannelInput)
    .output(ZChannel)
    .mutation(({ ctx, input }) => edit(ctx, input, 'replace')),

  start: stateRoute('start', START).mutation(({ ctx, input }) => start(ctx, input)),
  startLegacy: stateRoute('start', START, { legacy: true }).query(({ ctx, input }) => start(ctx, input)),
  stop: stateRoute('stop', STOP).mutation(({ ctx, input }) => stop(ctx, input)),
  stopLegacy: stateRoute('stop', STOP, { legacy: true }).query(({ ctx, input }) => stop(ctx, input)),

  actions: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: `${BASE}/{id}/actions`,
        operationId: 'listChannelActions',
        summary: 'What a channel did, newest first',
        tags: TAGS,
        protect: true,
      },
      errors: ['INSTAGRAM_NOT_FOUND', 'CHANNEL_NOT_FOUND', 'VALIDATION_FAILED'],
    })
    .input(ZChannelActionsInput)
    .output(ZChannelActionList)
    .query(({ ctx, input }) => listChannelActions(ctx.db, ctx.user.id, input)),

  delete: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: `${BASE}/{id}`,
        operationId: 'deleteChannel',
        summary: 'Delete a channel',
        description: 'Its queued actions are dropped; what it did is deleted with it.',
        tags: TAGS,
        protect: true,
      },
      errors: ['INSTAGRAM_NOT_FOUND', 'CHANNEL_NOT_FOUND'],
    })
    .input(ZChannelIdInput)
    .output(ZDeletedChannel)
    .mutation(({ ctx, input }) => ctx.db.transaction((tx) => deleteChannel(tx, ctx.user.id, ids(input)))),
});
