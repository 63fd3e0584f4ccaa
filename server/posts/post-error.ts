import { z } from 'zod';
import { ERRORS } from '../errors.ts';
import { POST_FAILURES } from '../graph/errors.ts';

/** What the app is told when publishing failed: our code, plus Meta's when Meta refused. */
export const ZPostError = z
  .object({
    code: z.string().meta({ description: 'Stable machine-readable reason, e.g. GRAPH_TOKEN_INVALID.' }),
    number: z.number().int().meta({ description: 'The numbered form of `code` (see `GET /errors`).' }),
    message: z.string(),
    graph_code: z.number().int().nullable(),
    graph_subcode: z.number().int().nullable(),
  })
  .meta({ id: 'PostError', description: 'Why publishing failed, and Meta’s codes when Meta refused.' });

/** What is stored; `number` is derived from `code` when read. */
export type PostError = Omit<z.infer<typeof ZPostError>, 'number'>;

function numberOf(code: string): number {
  if (code in POST_FAILURES) return POST_FAILURES[code as keyof typeof POST_FAILURES].number;
  if (code in ERRORS) return ERRORS[code as keyof typeof ERRORS].number;
  return ERRORS.INTERNAL.number;
}

/** Stored errors written before graph_code/graph_subcode were always set lack them; read them as null. */
export function toPostErrorOutput(error: Partial<PostError> | null): z.infer<typeof ZPostError> | null {
  return error
    ? {
        code: error.code ?? 'INTERNAL',
        number: numberOf(error.code ?? 'INTERNAL'),
        message: error.message ?? '',
        graph_code: error.graph_code ?? null,
        graph_subcode: error.graph_subcode ?? null,
      }
    : null;
}
