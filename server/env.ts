import { z } from 'zod';
import { decodeKey } from './crypto/token-cipher.ts';
import { parseDuration } from './lib/duration.ts';

// Deployments often template variables as `FOO=`; an empty value means "not set".
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), schema);

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const duration = z.string().transform((v, ctx) => {
  const seconds = parseDuration(v);
  if (seconds === null) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as 30d, 12h, 15m or 90s' });
    return z.NEVER;
  }
  return seconds;
});

const port = z.coerce.number().int().min(0).max(65_535);

const KEY_MESSAGE = 'expected 32 bytes as base64 (44 characters) or hex (64 characters)';

export const DEFAULT_GRAPH_API_URL = 'https://graph.facebook.com/v25.0';

const httpUrl = z.url({ protocol: /^https?$/ });

const ZEnv = z
  .object({
    NODE_ENV: optional(z.enum(['development', 'production', 'test']).default('development')),
    /** HTTP port; default 3000. */
    PORT: optional(port.default(3000)),
    /** Bind address; default 127.0.0.1, or 0.0.0.0 in production. */
    HOST: optional(z.string().optional()),
    /** PostgreSQL URL; when unset an embedded PostgreSQL keeps its data under DATA_DIR. */
    DATABASE_URL: optional(z.url({ protocol: /^postgres(ql)?$/ }).optional()),
    /** Where the embedded database and the generated development key live; default .data */
    DATA_DIR: optional(z.string().default('.data')),
    /** Graph API base URL with version, or `sandbox` for the in-process simulation. */
    GRAPH_API_URL: optional(
      z.union([z.literal('sandbox'), z.url({ protocol: /^https?$/ })]).default(DEFAULT_GRAPH_API_URL),
    ),
    /** Instagram Login's Graph host with version. */
    INSTAGRAM_GRAPH_URL: optional(httpUrl.default('https://graph.instagram.com/v25.0')),
    /** Instagram Login's authorize page. */
    INSTAGRAM_AUTH_URL: optional(httpUrl.default('https://www.instagram.com/oauth/authorize')),
    /** Instagram Login's code exchange. */
    INSTAGRAM_TOKEN_URL: optional(httpUrl.default('https://api.instagram.com/oauth/access_token')),
    /** Facebook Login's authorize dialog. */
    FACEBOOK_AUTH_URL: optional(httpUrl.default('https://www.facebook.com/v25.0/dialog/oauth')),
    /** Our Meta app for Instagram Login; without it, OAuth connect answers 503 OAUTH_NOT_CONFIGURED. */
    INSTAGRAM_APP_ID: optional(
      z
        .string()
        .regex(/^\d{1,32}$/, 'expected the digits of an app id')
        .optional(),
    ),
    INSTAGRAM_APP_SECRET: optional(z.string().min(8).optional()),
    /** Our Meta app for Facebook Login. */
    FACEBOOK_APP_ID: optional(
      z
        .string()
        .regex(/^\d{1,32}$/, 'expected the digits of an app id')
        .optional(),
    ),
    FACEBOOK_APP_SECRET: optional(z.string().min(8).optional()),
    /** Where the OAuth callback may send the browser back to: comma-separated prefixes, e.g. myapp://oauth. */
    APP_REDIRECT_URIS: optional(
      z
        .string()
        .transform((v) =>
          v
            .split(',')
            .map((u) => u.trim())
            .filter(Boolean),
        )
        .pipe(
          z.array(
            z
              .string()
              .regex(/^[a-z][a-z0-9+.-]*:\/\/[^\s]+$/i, 'expected absolute URIs such as myapp://oauth'),
          ),
        )
        .default([]),
    ),
    /** What Meta's webhook verification (GET /webhooks/instagram) must send as hub.verify_token. */
    WEBHOOK_VERIFY_TOKEN: optional(z.string().min(8, 'use at least 8 characters').max(256).optional()),
    /** How often comments are read for accounts without Meta's webhooks; default 5m. */
    COMMENT_POLL_INTERVAL: optional(duration.pipe(z.number().min(1, 'at least 1s')).default(300)),
    /** Tests only: webhook receivers on loopback or private addresses, over http too. Refused in production. */
    WEBHOOK_ALLOW_PRIVATE_HOSTS: optional(bool.default(false)),
    /** Bytes of uploads each user may keep; default 2 GiB. */
    MEDIA_QUOTA_BYTES: optional(
      z.coerce
        .number()
        .int()
        .min(0)
        .max(Number.MAX_SAFE_INTEGER)
        .default(2 * 1024 ** 3),
    ),
    /** How long an upload stays after the last post using it was published; default 7d. */
    MEDIA_RETENTION: optional(duration.default(7 * 86_400)),
    /** Pre-flight of media URLs that are not uploads: enforce (refuse), warn (accept, record an event) or off. */
    MEDIA_PREFLIGHT: optional(z.enum(['enforce', 'warn', 'off']).default('enforce')),
    /** Tests only: pre-flight may fetch media from loopback or private addresses, over http too. Refused in production. */
    MEDIA_ALLOW_PRIVATE_HOSTS: optional(bool.default(false)),
    /** The server's public base URL (https in production); default http://HOST:PORT. */
    PUBLIC_URL: optional(httpUrl.optional()),
    /** 32-byte key (base64 or hex) for Graph tokens at rest; required in production. */
    ENCRYPTION_KEY: optional(
      z
        .string()
        .refine((v) => decodeKey(v) !== null, KEY_MESSAGE)
        .optional(),
    ),
    /** Older keys still accepted for decryption while rotating, comma-separated. */
    ENCRYPTION_KEYS_OLD: optional(
      z
        .string()
        .refine((v) => v.split(',').every((k) => k.trim() === '' || decodeKey(k) !== null), KEY_MESSAGE)
        .optional(),
    ),
    /** all = API and worker in one process; default all. */
    ROLE: optional(z.enum(['all', 'api', 'worker']).default('all')),
    /** Posts of one Instagram account allowed in any 24-hour window; default 25. */
    PUBLISH_LIMIT_PER_24H: optional(z.coerce.number().int().min(1).max(1000).default(25)),
    /** Requests per minute per user on the API (REST and tRPC calls alike); 0 turns the limit off; default 600. */
    API_RATE_LIMIT: optional(z.coerce.number().int().min(0).max(1_000_000).default(600)),
    /** Posts one user may have waiting (`scheduled`) at once; default 10000. */
    MAX_SCHEDULED_POSTS: optional(z.coerce.number().int().min(1).max(10_000_000).default(10_000)),
    /** Whether POST /signup creates users; default false. */
    SIGNUP_ENABLED: optional(bool.default(false)),
    /** Lifetime of a login session, renewed when half used; default 30d. */
    SESSION_TTL: optional(duration.default(30 * 86_400)),
    /**
     * Longest wait for a database connection, and for an owed answer to start arriving before the
     * connection is given up (server/db/socket.ts); `5s` or `5`; default 5 s, at most 10 min.
     */
    DATABASE_TIMEOUT: optional(
      z
        .string()
        .transform((v) => (/^\d+$/.test(v.trim()) ? `${v.trim()}s` : v))
        .pipe(duration)
        .pipe(z.number().max(600, 'at most 10m'))
        .default(5),
    ),
    /** Jobs one worker process runs at once; default 10. */
    WORKER_CONCURRENCY: optional(z.coerce.number().int().min(1).max(500).default(10)),
    WORKER_BACKGROUND_CONCURRENCY: optional(z.coerce.number().int().min(1).max(500).default(5)),
    /** How often idle workers look for jobs that became due, ms; default 500. */
    WORKER_POLL_INTERVAL_MS: optional(z.coerce.number().int().min(50).max(60_000).default(500)),
    /** Trust X-Forwarded-For (behind a proxy) for client addresses; default false. */
    TRUST_PROXY: optional(bool.default(false)),
    LOG_LEVEL: optional(
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ),
  })
  .transform((env) => {
    const HOST = env.HOST ?? (env.NODE_ENV === 'production' ? '0.0.0.0' : '127.0.0.1');
    return {
      ...env,
      HOST,
      PUBLIC_URL: (env.PUBLIC_URL ?? `http://${HOST.includes(':') ? `[${HOST}]` : HOST}:${env.PORT}`).replace(
        /\/+$/,
        '',
      ),
    };
  })
  .superRefine((env, ctx) => {
    for (const [id, secret] of [
      ['INSTAGRAM_APP_ID', 'INSTAGRAM_APP_SECRET'],
      ['FACEBOOK_APP_ID', 'FACEBOOK_APP_SECRET'],
    ] as const) {
      if (Boolean(env[id]) !== Boolean(env[secret]))
        ctx.addIssue({
          code: 'custom',
          path: [env[id] ? secret : id],
          message: `${id} and ${secret} go together`,
        });
    }
    if (
      env.NODE_ENV === 'production' &&
      (env.INSTAGRAM_APP_ID || env.FACEBOOK_APP_ID) &&
      !env.PUBLIC_URL.startsWith('https://')
    )
      ctx.addIssue({
        code: 'custom',
        path: ['PUBLIC_URL'],
        message: 'must be the https address Meta redirects to when an app id is set in production',
      });
    for (const flag of ['WEBHOOK_ALLOW_PRIVATE_HOSTS', 'MEDIA_ALLOW_PRIVATE_HOSTS'] as const)
      if (env.NODE_ENV === 'production' && env[flag])
        ctx.addIssue({
          code: 'custom',
          path: [flag],
          message: 'is for tests only and refused when NODE_ENV=production',
        });
    // The sandbox's fake Meta has a public app secret: in production it would let anyone sign
    // "Meta's" webhooks, and posts would never reach Instagram.
    if (env.NODE_ENV === 'production' && env.GRAPH_API_URL === 'sandbox')
      ctx.addIssue({
        code: 'custom',
        path: ['GRAPH_API_URL'],
        message: 'sandbox is for development and tests and refused when NODE_ENV=production',
      });
    if (env.NODE_ENV === 'production' && !env.ENCRYPTION_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['ENCRYPTION_KEY'],
        message: 'required when NODE_ENV=production',
      });
    }
  });

export type Env = z.infer<typeof ZEnv>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment once; throws ConfigError listing every bad variable. */
export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  const result = ZEnv.safeParse(source);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(environment)';
    // Never echo the value: it may be a secret such as ENCRYPTION_KEY or DATABASE_URL.
    return `  ${name}: ${issue.message}`;
  });
  throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
}
