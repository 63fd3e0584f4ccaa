/**
 * Keyset pages, the one shape every list with a cursor answers with
 * (`{items, next_cursor}`), and the two query fields that ask for one.
 * lib/cursor.ts encodes and decodes the cursor itself.
 */
import { z } from 'zod';

/** `limit` (1 to 200, default 50) and `cursor`, spread into a list's input object. */
export function pageInput(cursorMaxLength = 64) {
  return {
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z
      .string()
      .max(cursorMaxLength)
      .optional()
      .meta({ description: 'The `next_cursor` of the previous page.' }),
  };
}

/** A page of `item`, named `id` in openapi.json (e.g. PostList). */
export function pageOf<T extends z.ZodType>(item: T, id: string) {
  return z
    .object({
      items: z.array(item),
      next_cursor: z
        .string()
        .nullable()
        .meta({ description: 'Pass as `cursor` for the next page; null on the last.' }),
    })
    .meta({ id });
}
