import { authRouter } from './auth/router.ts';
import { channelsRouter } from './channels/router.ts';
import { errorsRouter } from './errors-router.ts';
import { instagramsRouter } from './instagrams/router.ts';
import { mediaRouter } from './media/router.ts';
import { postsRouter } from './posts/router.ts';
import { webhooksRouter } from './webhooks/router.ts';
import { router } from './trpc.ts';

export const appRouter = router({
  auth: authRouter,
  posts: postsRouter,
  instagrams: instagramsRouter,
  channels: channelsRouter,
  webhooks: webhooksRouter,
  media: mediaRouter,
  errors: errorsRouter,
});

export type AppRouter = typeof appRouter;
