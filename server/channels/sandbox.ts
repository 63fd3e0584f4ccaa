/**
 * GRAPH_API_URL=sandbox: `POST /sandbox/comments` makes someone comment on
 * the account's newest post in the simulated Meta and delivers the webhook
 * Meta would send, so an app can try its channels without Meta. Token
 * required; the account must be the caller's. Not under /api/v1 and not in
 * openapi.json: it does not exist outside the sandbox.
 */
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { FakeGraph } from '../graph/fake-graph.ts';
import { getInstagramRow } from '../instagrams/service.ts';
import { authenticate, type Context } from '../trpc.ts';
import { commentsOfDelivery, storeComments } from './intake.ts';

const ZSandboxComment = z
  .object({
    instagram_id: z.number().int().positive(),
    text: z.string().trim().min(1).max(2200),
    username: z
      .string()
      .regex(/^[A-Za-z0-9._]{1,30}$/, 'an Instagram username: letters, digits, dots, underscores')
      .optional(),
  })
  .strict();

export function sandboxComment(deps: {
  fake: FakeGraph;
  createContext: (req: Request, res: Response) => Context;
}): RequestHandler {
  return (req, res, next) => {
    void (async () => {
      const ctx = await authenticate(deps.createContext(req, res));
      const input = ZSandboxComment.parse(req.body);
      const account = await getInstagramRow(ctx.db, ctx.user.id, input.instagram_id);
      const media =
        deps.fake.media.filter((m) => m.igUserId === account.igUserId).at(-1) ??
        deps.fake.addMedia(account.igUserId, 'A sandbox post');
      const comment = deps.fake.addComment(media.id, {
        text: input.text,
        ...(input.username ? { username: input.username } : {}),
      });
      // Exactly what Meta's webhook would bring, through the same one insert.
      const delivery = JSON.parse(deps.fake.webhookDelivery([comment]).body) as unknown;
      await storeComments(ctx.db, commentsOfDelivery(delivery).comments, 'webhook');
      res.status(201).json({ comment_id: comment.id, media_id: media.id, username: comment.username });
    })().catch(next);
  };
}
