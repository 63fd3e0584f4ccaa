import { z } from 'zod';

/**
 * A Graph access token as Meta issues them: printable ASCII, no spaces. Any
 * other character could never be a token, and would not even fit in the
 * HTTP header it is sent in: a 400 naming the field, not a failed call to Meta.
 */
export const graphTokenSchema = () =>
  z
    .string()
    .trim()
    .min(1, 'token is required')
    .max(2048, 'token is at most 2048 characters')
    .refine((v) => !v.includes('\u0000'), { message: 'token must not contain NUL characters', abort: true })
    .refine(
      (v) => /^[\x21-\x7e]*$/.test(v),
      'token must be printable ASCII without spaces, as Meta issues them',
    );
