import { authedProcedure, router, type AuthedContext } from '../trpc.ts';
import {
  ZCreateWebhookInput,
  ZDeletedWebhook,
  ZDelivery,
  ZDeliveryList,
  ZListDeliveriesInput,
  ZUpdateWebhookInput,
  ZWebhook,
  ZWebhookIdInput,
  ZWebhookList,
  ZWebhookWithSecret,
} from './schemas.ts';
import { z } from 'zod';
import {
  checkWebhookUrl,
  createWebhook,
  deleteWebhook,
  getWebhookRow,
  listDeliveries,
  listWebhooks,
  rotateWebhookSecret,
  testWebhook,
  toWebhookOutput,
  updateWebhook,
} from './service.ts';

const TAGS = ['webhooks'];
const urlCheck = (ctx: AuthedContext) => ({
  allowPrivate: ctx.env.WEBHOOK_ALLOW_PRIVATE_HOSTS,
  resolver: ctx.resolver,
});

export const webhooksRouter = router({
  create: authedProcedure
    .meta({
      successStatus: 201,
      openapi: {
        method: 'POST',
        path: '/webhooks',
        operationId: 'createWebhook',
        summary: 'Add a webhook endpoint',
        description:
          'The answer carries the signing `secret`, shown only here. The URL must be https with a host that resolves to public addresses.',
        tags: TAGS,
        protect: true,
      },
      errors: [],
    })
    .input(ZCreateWebhookInput)
    .output(ZWebhookWithSecret)
    .mutation(async ({ ctx, input }) => {
      const url = await checkWebhookUrl(input.url, urlCheck(ctx));
      return ctx.db.transaction((tx) => createWebhook(tx, ctx.user.id, { ...input, url }, ctx.cipher));
    }),

  list: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/webhooks',
        operationId: 'listWebhooks',
        summary: 'Your webhook endpoints',
        tags: TAGS,
        protect: true,
      },
      errors: [],
    })
    .input(z.object({}).strict())
    .output(ZWebhookList)
    .query(({ ctx }) => listWebhooks(ctx.db, ctx.user.id)),

  get: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/webhooks/{id}',
        operationId: 'getWebhook',
        summary: 'Read a webhook endpoint (without its secret)',
        tags: TAGS,
        protect: true,
      },
      errors: ['WEBHOOK_NOT_FOUND'],
    })
    .input(ZWebhookIdInput)
    .output(ZWebhook)
    .query(async ({ ctx, input }) => toWebhookOutput(await getWebhookRow(ctx.db, ctx.user.id, input.id))),

  update: authedProcedure
    .meta({
      openapi: {
        method: 'PATCH',
        path: '/webhooks/{id}',
        operationId: 'updateWebhook',
        summary: 'Change a webhook endpoint',
        tags: TAGS,
        protect: true,
      },
      errors: ['WEBHOOK_NOT_FOUND'],
    })
    .input(ZUpdateWebhookInput)
    .output(ZWebhook)
    .mutation(async ({ ctx, input }) => {
      await getWebhookRow(ctx.db, ctx.user.id, input.id);
      const url = input.url !== undefined ? await checkWebhookUrl(input.url, urlCheck(ctx)) : undefined;
      return ctx.db.transaction((tx) =>
        updateWebhook(tx, ctx.user.id, { ...input, ...(url ? { url } : {}) }),
      );
    }),

  rotateSecret: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/webhooks/{id}/rotate-secret',
        operationId: 'rotateWebhookSecret',
        summary: 'Make a new signing secret',
        description:
          'The new secret is shown only here. For 24 hours both secrets sign every delivery (two `v1,` signatures), so receivers can switch without missing one.',
        tags: TAGS,
        protect: true,
      },
      errors: ['WEBHOOK_NOT_FOUND'],
    })
    .input(ZWebhookIdInput)
    .output(ZWebhookWithSecret)
    .mutation(({ ctx, input }) =>
      ctx.db.transaction((tx) => rotateWebhookSecret(tx, ctx.user.id, input.id, ctx.cipher)),
    ),

  test: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/webhooks/{id}/test',
        operationId: 'testWebhook',
        summary: 'Send a ping now',
        description:
          'Returns the delivery (`pending`); its outcome shows in the delivery log within seconds.',
        tags: TAGS,
        protect: true,
      },
      errors: ['WEBHOOK_NOT_FOUND'],
    })
    .input(ZWebhookIdInput)
    .output(ZDelivery)
    .mutation(({ ctx, input }) => ctx.db.transaction((tx) => testWebhook(tx, ctx.user.id, input.id))),

  deliveries: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/webhooks/{id}/deliveries',
        operationId: 'listWebhookDeliveries',
        summary: 'The delivery log, newest first',
        tags: TAGS,
        protect: true,
      },
      errors: ['WEBHOOK_NOT_FOUND'],
    })
    .input(ZListDeliveriesInput)
    .output(ZDeliveryList)
    .query(({ ctx, input }) => listDeliveries(ctx.db, ctx.user.id, input)),

  delete: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/webhooks/{id}',
        operationId: 'deleteWebhook',
        summary: 'Delete a webhook endpoint and its log',
        tags: TAGS,
        protect: true,
      },
      errors: ['WEBHOOK_NOT_FOUND'],
    })
    .input(ZWebhookIdInput)
    .output(ZDeletedWebhook)
    .mutation(({ ctx, input }) => ctx.db.transaction((tx) => deleteWebhook(tx, ctx.user.id, input.id))),
});
