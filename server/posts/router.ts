import { authedProcedure, editProcedures, router, type AuthedContext } from '../trpc.ts';
import {
  ZCreatePostInput,
  ZDeletePostOutput,
  ZListPostsInput,
  ZPost,
  ZPostEventList,
  ZPostIdInput,
  ZPostList,
  ZReplacePostInput,
  ZUpdatePostInput,
} from './schemas.ts';
import { externalUrls, probeAll } from '../media/post-media.ts';
import type { Probe } from '../media/preflight.ts';
import {
  createPost,
  deletePost,
  getPost,
  listPostEvents,
  listPosts,
  updatePost,
  type PostDeps,
} from './service.ts';

const TAGS = ['posts'];
const MEDIA_ERRORS = ['MEDIA_UNREACHABLE', 'MEDIA_REJECTED'] as const;

/**
 * The service's dependencies, with the request's media URLs fetched first
 * (pre-flight): network calls are made before the transaction, never in it.
 */
async function deps(ctx: AuthedContext, input: Parameters<typeof externalUrls>[0]): Promise<PostDeps> {
  const { env } = ctx;
  const urls =
    env.MEDIA_PREFLIGHT === 'off' ? [] : externalUrls(input, env.PUBLIC_URL, env.MEDIA_ALLOW_PRIVATE_HOSTS);
  return {
    cipher: ctx.cipher,
    publishLimit: env.PUBLISH_LIMIT_PER_24H,
    maxScheduled: env.MAX_SCHEDULED_POSTS,
    waitingCounts: ctx.waitingCounts,
    media: {
      publicUrl: env.PUBLIC_URL,
      mode: env.MEDIA_PREFLIGHT,
      allowPrivate: env.MEDIA_ALLOW_PRIVATE_HOSTS,
      probes:
        urls.length === 0
          ? new Map<string, Probe>()
          : await probeAll(urls, { allowPrivate: env.MEDIA_ALLOW_PRIVATE_HOSTS, resolver: ctx.resolver }),
    },
  };
}

export const postsRouter = router({
  create: authedProcedure
    .meta({
      successStatus: 201,
      openapi: {
        method: 'POST',
        path: '/posts',
        operationId: 'createPost',
        summary: 'Schedule a post',
        description: 'Stores the post and schedules its publication at `date_pub` (or as soon as possible).',
        tags: TAGS,
        protect: true,
      },
      errors: ['PUBLISH_LIMIT_REACHED', 'TOO_MANY_SCHEDULED_POSTS', ...MEDIA_ERRORS],
    })
    .input(ZCreatePostInput)
    .output(ZPost)
    .mutation(async ({ ctx, input }) => {
      const postDeps = await deps(ctx, input);
      return ctx.db.transaction((tx) => createPost(tx, ctx.user.id, input, postDeps));
    }),

  list: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/posts',
        operationId: 'listPosts',
        summary: 'List your posts, newest first',
        tags: TAGS,
        protect: true,
      },
      errors: [],
    })
    .input(ZListPostsInput)
    .output(ZPostList)
    .query(({ ctx, input }) => listPosts(ctx.db, ctx.user.id, input)),

  get: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/posts/{id}',
        operationId: 'getPost',
        summary: 'Read a post',
        tags: TAGS,
        protect: true,
      },
      errors: ['POST_NOT_FOUND'],
    })
    .input(ZPostIdInput)
    .output(ZPost)
    .query(({ ctx, input }) => getPost(ctx.db, ctx.user.id, input.id)),

  ...editProcedures({
    path: '/posts/{id}',
    name: 'Post',
    tags: TAGS,
    errors: [
      'POST_NOT_FOUND',
      'POST_NOT_EDITABLE',
      'PUBLISH_LIMIT_REACHED',
      'TOO_MANY_SCHEDULED_POSTS',
      ...MEDIA_ERRORS,
    ],
    output: ZPost,
    patch: {
      input: ZUpdatePostInput,
      summary: 'Change some fields of a post',
      description:
        'Refused (409) while the post is publishing or once published. Editing a failed post schedules it again.',
    },
    replace: {
      input: ZReplacePostInput,
      summary: 'Replace a post (all required fields)',
      description: 'Optional fields left out are cleared. Same rules as PATCH.',
    },
    run: async (ctx, input, mode) => {
      const postDeps = await deps(ctx, input);
      return ctx.db.transaction((tx) => updatePost(tx, ctx.user.id, { input, mode }, postDeps));
    },
  }),

  delete: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/posts/{id}',
        operationId: 'deletePost',
        summary: 'Delete a post and cancel its publication',
        description: 'Refused (409) while the post is being published.',
        tags: TAGS,
        protect: true,
      },
      errors: ['POST_NOT_FOUND', 'POST_NOT_EDITABLE'],
    })
    .input(ZPostIdInput)
    .output(ZDeletePostOutput)
    .mutation(({ ctx, input }) => ctx.db.transaction((tx) => deletePost(tx, ctx.user.id, input.id))),

  events: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/posts/{id}/events',
        operationId: 'listPostEvents',
        summary: 'What happened to a post, oldest first',
        tags: TAGS,
        protect: true,
      },
      errors: ['POST_NOT_FOUND'],
    })
    .input(ZPostIdInput)
    .output(ZPostEventList)
    .query(({ ctx, input }) => listPostEvents(ctx.db, ctx.user.id, input.id)),
});
