import { z } from 'zod';
import { errorDictionary } from './errors.ts';
import { publicProcedure, router } from './trpc.ts';

const ZErrorEntry = z
  .object({
    code: z.string(),
    number: z.number().int(),
    status: z.number().int().nullable().meta({
      description: 'HTTP status of the answer; null for the reasons a post failed (`post.error.code`).',
    }),
    message: z.string().meta({ description: 'The default message.' }),
  })
  .meta({ id: 'ErrorEntry' });

export const errorsRouter = router({
  list: publicProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/errors',
        operationId: 'listErrors',
        summary: 'The error dictionary: every code with its number',
        description:
          'Seed 002 numbered its errors; every error body carries `number` beside `code`. Numbers never change once released.',
        tags: ['errors'],
        protect: false,
      },
      errors: [],
    })
    .input(z.object({}).strict())
    .output(z.object({ items: z.array(ZErrorEntry) }).meta({ id: 'ErrorList' }))
    .query(() => ({ items: errorDictionary() })),
});
