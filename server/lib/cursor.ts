import { AppError } from '../errors.ts';

/**
 * Opaque page cursors over descending ids (`next_cursor`): `<kind>:<id>` in
 * base64url, so a cursor of one list is refused by another.
 */
export function encodeIdCursor(kind: string, id: number): string {
  return Buffer.from(`${kind}:${id}`).toString('base64url');
}

export function decodeIdCursor(kind: string, cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString();
  const match = /^([a-z]+):(\d{1,16})$/.exec(text);
  if (!match || match[1] !== kind)
    throw new AppError('VALIDATION_FAILED', undefined, {
      issues: [{ path: 'cursor', message: 'cursor must be a next_cursor returned by this API' }],
    });
  return Number(match[2]);
}
