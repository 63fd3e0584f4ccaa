import { z } from 'zod';

/** What the app is told when publishing failed: our code, plus Meta's when Meta refused. */
export const ZPostError = z
  .object({
    code: z.string().meta({ description: 'Stable machine-readable reason, e.g. GRAPH_TOKEN_INVALID.' }),
    message: z.string(),
    graph_code: z.number().int().nullable(),
    graph_subcode: z.number().int().nullable(),
  })
  .meta({ id: 'PostError', description: 'Why publishing failed, and Meta’s codes when Meta refused.' });

export type PostError = z.infer<typeof ZPostError>;

/** Stored errors written before graph_code/graph_subcode were always set lack them; read them as null. */
export function toPostErrorOutput(error: Partial<PostError> | null): PostError | null {
  return error
    ? {
        code: error.code ?? 'INTERNAL',
        message: error.message ?? '',
        graph_code: error.graph_code ?? null,
        graph_subcode: error.graph_subcode ?? null,
      }
    : null;
}
