import { z } from 'zod';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './password.ts';
import { normalizeUsername, usernameProblem } from './username.ts';

const ZUsername = z
  .string()
  .transform(normalizeUsername)
  .pipe(
    z
      .string()
      .min(1, 'username is required')
      .max(254, 'username is at most 254 characters')
      .refine(
        (v) => usernameProblem(v) === null,
        'username must not contain control or invisible characters',
      ),
  )
  .meta({
    description: 'Login name, often an e-mail address; case-insensitive.',
    example: 'user@example.com',
  });

export const ZCredentials = z
  .object({
    username: ZUsername,
    password: z.string().min(1, 'password is required').max(PASSWORD_MAX_LENGTH),
  })
  .strict();
export type Credentials = z.infer<typeof ZCredentials>;

export const ZSignupInput = z
  .object({
    username: ZUsername,
    password: z
      .string()
      .min(PASSWORD_MIN_LENGTH, `password must be at least ${PASSWORD_MIN_LENGTH} characters`)
      .max(PASSWORD_MAX_LENGTH, `password is at most ${PASSWORD_MAX_LENGTH} characters`),
  })
  .strict();
export type SignupInput = z.infer<typeof ZSignupInput>;

const ZInstant = z.iso.datetime();

export const ZToken = z
  .object({
    token: z
      .string()
      .meta({ description: 'Send as `Authorization: Bearer <token>` or `Authorization: Token <token>`.' }),
    expire: ZInstant.meta({
      description: 'When the token stops working unless it is used; each use extends it.',
    }),
  })
  .meta({ id: 'Token' });
export type TokenOutput = z.infer<typeof ZToken>;

export const ZUser = z
  .object({
    id: z.number().int(),
    username: z.string(),
    created_at: ZInstant,
    updated_at: ZInstant,
  })
  .meta({ id: 'User' });
export type UserOutput = z.infer<typeof ZUser>;

export const ZLogoutOutput = z.object({ logged_out: z.literal(true) }).meta({ id: 'LogoutResult' });
export const ZNoInput = z.object({}).strict().optional();
