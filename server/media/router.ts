import { authedProcedure, router } from '../trpc.ts';
import { ZDeletedMedia, ZListMediaInput, ZMedia, ZMediaIdInput, ZMediaList } from './schemas.ts';
import { deleteMedia, getMedia, listMedia } from './service.ts';

const TAGS = ['media'];

/** Uploading is POST /api/v1/media, a raw or multipart body: server/media/upload.ts, not a procedure. */
export const mediaRouter = router({
  list: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/media',
        operationId: 'listMedia',
        summary: 'List your uploads, newest first',
        tags: TAGS,
        protect: true,
      },
      errors: [],
    })
    .input(ZListMediaInput)
    .output(ZMediaList)
    .query(({ ctx, input }) => listMedia(ctx.db, ctx.user.id, input, ctx.env.PUBLIC_URL)),

  get: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/media/{id}',
        operationId: 'getMedia',
        summary: 'Read an upload',
        tags: TAGS,
        protect: true,
      },
      errors: ['MEDIA_NOT_FOUND'],
    })
    .input(ZMediaIdInput)
    .output(ZMedia)
    .query(({ ctx, input }) => getMedia(ctx.db, ctx.user.id, input.id, ctx.env.PUBLIC_URL)),

  delete: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/media/{id}',
        operationId: 'deleteMedia',
        summary: 'Delete an upload',
        description:
          'Refused (409 MEDIA_IN_USE) while a scheduled or publishing post uses it. Its URL answers 404 at once.',
        tags: TAGS,
        protect: true,
      },
      errors: ['MEDIA_NOT_FOUND', 'MEDIA_IN_USE'],
    })
    .input(ZMediaIdInput)
    .output(ZDeletedMedia)
    .mutation(({ ctx, input }) => ctx.db.transaction((tx) => deleteMedia(tx, ctx.user.id, input.id))),
});
