import type { TRPC_ERROR_CODE_KEY } from '@trpc/server';
import { noteDatabaseFailure } from './db/health.ts';
import { isDatabaseUnavailable } from './db/unavailable.ts';
import { POST_FAILURES, type PostFailureCode } from './graph/errors.ts';

/**
 * The one table of error codes. Both transports derive the HTTP status, the
 * tRPC code and the default message from it, so they cannot drift apart.
 */
export const ERRORS = {
  VALIDATION_FAILED: { number: 8000, status: 400, trpc: 'BAD_REQUEST', message: 'The request is not valid.' },
  MALFORMED_JSON: {
    number: 8010,
    status: 400,
    trpc: 'PARSE_ERROR',
    message: 'The request body is not valid JSON.',
  },
  MALFORMED_REQUEST: {
    number: 8020,
    status: 400,
    trpc: 'BAD_REQUEST',
    message: 'The request is not valid HTTP.',
  },
  UNAUTHORIZED: { number: 401, status: 401, trpc: 'UNAUTHORIZED', message: 'A valid token is required.' },
  INVALID_CREDENTIALS: {
    number: 401,
    status: 401,
    trpc: 'UNAUTHORIZED',
    message: 'Incorrect username or password.',
  },
  SIGNUP_DISABLED: {
    number: 3040,
    status: 403,
    trpc: 'FORBIDDEN',
    message: 'Sign-up is disabled on this server.',
  },
  NOT_FOUND: { number: 8040, status: 404, trpc: 'NOT_FOUND', message: 'No such route.' },
  POST_NOT_FOUND: { number: 5010, status: 404, trpc: 'NOT_FOUND', message: 'No such post.' },
  METHOD_NOT_ALLOWED: {
    number: 8050,
    status: 405,
    trpc: 'METHOD_NOT_SUPPORTED',
    message: 'That method is not allowed here.',
  },
  USERNAME_TAKEN: { number: 3020, status: 409, trpc: 'CONFLICT', message: 'That username is taken.' },
  POST_NOT_EDITABLE: {
    number: 5020,
    status: 409,
    trpc: 'CONFLICT',
    message: 'The post is being published or has been published and can no longer change.',
  },
  PUBLISH_LIMIT_REACHED: {
    number: 5030,
    status: 409,
    trpc: 'CONFLICT',
    message: 'This Instagram account already has the most posts allowed in a 24-hour window.',
  },
  TOO_MANY_SCHEDULED_POSTS: {
    number: 5040,
    status: 409,
    trpc: 'CONFLICT',
    message: 'You already have the most posts allowed waiting to be published (MAX_SCHEDULED_POSTS).',
  },
  REQUEST_TIMEOUT: {
    number: 8080,
    status: 408,
    trpc: 'TIMEOUT',
    message: 'The request did not arrive in time (nothing received for 30 seconds).',
  },
  PAYLOAD_TOO_LARGE: {
    number: 8130,
    status: 413,
    trpc: 'PAYLOAD_TOO_LARGE',
    message: 'The request body is too large.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    number: 8150,
    status: 415,
    trpc: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'Send JSON with Content-Type: application/json.',
  },
  RANGE_NOT_SATISFIABLE: {
    number: 8160,
    status: 416,
    trpc: 'BAD_REQUEST',
    message: 'The requested byte range is outside the file.',
  },
  TOO_MANY_REQUESTS: {
    number: 8290,
    status: 429,
    trpc: 'TOO_MANY_REQUESTS',
    message: 'Too many requests or login attempts; try again after Retry-After seconds.',
  },
  HEADERS_TOO_LARGE: {
    number: 8310,
    status: 431,
    trpc: 'BAD_REQUEST',
    message: 'The request headers are too large.',
  },
  GRAPH_REQUEST_FAILED: {
    number: 1010,
    status: 502,
    trpc: 'BAD_GATEWAY',
    message: 'The request to Instagram failed; try again shortly.',
  },
  INSTAGRAM_LOGIN_FAILED: {
    number: 1020,
    status: 400,
    trpc: 'BAD_REQUEST',
    message: 'Instagram login failed: Meta did not accept the token.',
  },
  INSTAGRAM_SUSPECTED: {
    number: 1050,
    status: 409,
    trpc: 'CONFLICT',
    message: 'The Instagram account is suspected: connect it again with a new token.',
  },
  INSTAGRAM_NOT_FOUND: {
    number: 2010,
    status: 404,
    trpc: 'NOT_FOUND',
    message: 'No such Instagram account.',
  },
  INSTAGRAM_IN_USE: {
    number: 2100,
    status: 409,
    trpc: 'CONFLICT',
    message: 'Posts of this Instagram account are waiting to be published; delete or move them first.',
  },
  INSTAGRAM_CONNECTED_ELSEWHERE: {
    number: 2150,
    status: 409,
    trpc: 'CONFLICT',
    message:
      'This Instagram account is connected by another user of this server; it can have one owner. Ask them to disconnect it first.',
  },
  PASSWORD_NOT_ACCEPTED: {
    number: 2110,
    status: 400,
    trpc: 'BAD_REQUEST',
    message: 'Instagram passwords are never accepted; connect with a token or `/instagrams/connect`.',
  },
  OAUTH_NOT_CONFIGURED: {
    number: 2120,
    status: 503,
    trpc: 'SERVICE_UNAVAILABLE',
    message: 'Connecting through Meta is not configured on this server (no app id for this login type).',
  },
  OAUTH_STATE_INVALID: {
    number: 2130,
    status: 400,
    trpc: 'BAD_REQUEST',
    message: 'This sign-in link is unknown, used or expired; start connecting again from the app.',
  },
  OAUTH_DENIED: {
    number: 2140,
    status: 400,
    trpc: 'BAD_REQUEST',
    message: 'The Instagram or Facebook sign-in was declined.',
  },
  MEDIA_NOT_FOUND: { number: 6010, status: 404, trpc: 'NOT_FOUND', message: 'No such upload.' },
  MEDIA_IN_USE: {
    number: 6100,
    status: 409,
    trpc: 'CONFLICT',
    message: 'A post waiting to be published uses this upload; delete or change the post first.',
  },
  MEDIA_QUOTA_EXCEEDED: {
    number: 6110,
    status: 409,
    trpc: 'CONFLICT',
    message: 'Your uploads would take more than your storage quota (MEDIA_QUOTA_BYTES); delete some first.',
  },
  MEDIA_TOO_LARGE: {
    number: 6130,
    status: 413,
    trpc: 'PAYLOAD_TOO_LARGE',
    message: 'The file is too large: images may have 30 MB, videos 300 MB.',
  },
  MEDIA_TYPE_UNSUPPORTED: {
    number: 6150,
    status: 415,
    trpc: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'Send a JPEG, PNG, HEIC, HEIF or WebP image or an MP4 or MOV video, with its Content-Type.',
  },
  MEDIA_UNREADABLE: {
    number: 6200,
    status: 400,
    trpc: 'BAD_REQUEST',
    message: 'The file could not be read as the type it was sent as.',
  },
  MEDIA_UNREACHABLE: {
    number: 6210,
    status: 400,
    trpc: 'BAD_REQUEST',
    message: 'A media URL of the post cannot be fetched the way Meta will fetch it.',
  },
  MEDIA_REJECTED: {
    number: 6220,
    status: 400,
    trpc: 'BAD_REQUEST',
    message: 'A media file of the post is not one Instagram accepts.',
  },
  WEBHOOK_NOT_FOUND: { number: 7010, status: 404, trpc: 'NOT_FOUND', message: 'No such webhook endpoint.' },
  WEBHOOK_SIGNATURE_INVALID: {
    number: 7110,
    status: 401,
    trpc: 'UNAUTHORIZED',
    message: 'X-Hub-Signature-256 does not match the body with our app secret; nothing was stored.',
  },
  WEBHOOK_VERIFY_FAILED: {
    number: 7120,
    status: 403,
    trpc: 'FORBIDDEN',
    message: 'hub.verify_token does not match WEBHOOK_VERIFY_TOKEN (or it is not set).',
  },
  CHANNEL_ACTION_UNSUPPORTED: {
    number: 4010,
    status: 400,
    trpc: 'BAD_REQUEST',
    message: 'Undefined action type: a channel can `comment`, `dm` or `hide`.',
  },
  CHANNEL_TARGET_UNSUPPORTED: {
    number: 4030,
    status: 400,
    trpc: 'BAD_REQUEST',
    message: 'Undefined target type: a channel acts on `comments` on the account’s own media.',
  },
  CHANNEL_NOT_FOUND: { number: 4050, status: 404, trpc: 'NOT_FOUND', message: 'Channel not found.' },
  CHANNEL_EMPTY_ACTION: {
    number: 4100,
    status: 400,
    trpc: 'BAD_REQUEST',
    message: 'Empty action: say what the channel does (`comment`, `dm` or `hide`).',
  },
  INTERNAL: {
    number: 9999,
    status: 500,
    trpc: 'INTERNAL_SERVER_ERROR',
    message: 'Something went wrong on our side.',
  },
  IDEMPOTENCY_KEY_IN_USE: {
    number: 8090,
    status: 409,
    trpc: 'CONFLICT',
    message: 'A request with this Idempotency-Key is still running; try again in a moment.',
  },
  IDEMPOTENCY_KEY_REUSED: {
    number: 8220,
    status: 422,
    trpc: 'UNPROCESSABLE_CONTENT',
    message: 'This Idempotency-Key was used with a different request; use a new key for a new request.',
  },
  SERVICE_UNAVAILABLE: {
    number: 8503,
    status: 503,
    trpc: 'SERVICE_UNAVAILABLE',
    message:
      'The service cannot answer right now (its database is unreachable or it is overloaded); try again shortly.',
  },
} as const satisfies Record<
  string,
  { number: number; status: number; trpc: TRPC_ERROR_CODE_KEY; message: string }
>;

export type ErrorCode = keyof typeof ERRORS;

/** One problem with one input field; `path` is dotted (`user_tags.0.x`), empty for the whole body. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** The body of every REST error response (tRPC carries the same fields in `error.data`). */
export interface ErrorBody {
  code: ErrorCode;
  /** Seed 002's numbered form of `code`; numbers never change once released. */
  number: number;
  message: string;
  issues?: FieldIssue[];
  /** The request's id, also sent as X-Request-Id: what a user quotes when reporting the error. */
  request_id: string;
}

/** The only error type services throw. */
export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly issues: FieldIssue[] | undefined;
  /** Seconds after which a retry may succeed (sent as Retry-After). */
  readonly retryAfter: number | undefined;

  constructor(
    code: ErrorCode,
    message?: string,
    opts: { issues?: FieldIssue[]; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(message ?? ERRORS[code].message, { cause: opts.cause });
    this.code = code;
    this.issues = opts.issues;
    this.retryAfter = opts.retryAfter;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }

  toBody(requestId: string): ErrorBody {
    return {
      code: this.code,
      number: ERRORS[this.code].number,
      message: this.message,
      ...(this.issues ? { issues: this.issues } : {}),
      request_id: requestId,
    };
  }
}

interface ZodLikeIssue {
  path: PropertyKey[];
  message: string;
}

function isZodError(value: unknown): value is Error & { issues: ZodLikeIssue[] } {
  return (
    value instanceof Error &&
    value.name === 'ZodError' &&
    Array.isArray((value as { issues?: unknown }).issues)
  );
}

function zodIssuesToFieldIssues(issues: ZodLikeIssue[]): FieldIssue[] {
  return issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

const FROM_TRPC: Partial<Record<TRPC_ERROR_CODE_KEY, ErrorCode>> = {
  PARSE_ERROR: 'MALFORMED_JSON',
  BAD_REQUEST: 'VALIDATION_FAILED',
  UNAUTHORIZED: 'UNAUTHORIZED',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_SUPPORTED: 'METHOD_NOT_ALLOWED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
};

/**
 * Turns anything thrown into an AppError. Unknown errors become INTERNAL with
 * the generic message: their text may hold SQL, URLs or secrets.
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const trpcLike = error as { name?: string; code?: TRPC_ERROR_CODE_KEY; cause?: unknown; message?: string };
  if (error instanceof Error && trpcLike.name === 'TRPCError') {
    if (trpcLike.cause instanceof AppError) return trpcLike.cause;
    if (trpcLike.code === 'BAD_REQUEST' && isZodError(trpcLike.cause)) {
      return new AppError('VALIDATION_FAILED', undefined, {
        issues: zodIssuesToFieldIssues(trpcLike.cause.issues),
        cause: error,
      });
    }
    const code = trpcLike.code ? FROM_TRPC[trpcLike.code] : undefined;
    if (code) return new AppError(code, undefined, { cause: error });
  }
  if (isZodError(error)) {
    return new AppError('VALIDATION_FAILED', undefined, {
      issues: zodIssuesToFieldIssues(error.issues),
      cause: error,
    });
  }
  // The request was fine; the database is away (an outage, a restart): the client may retry.
  if (isDatabaseUnavailable(error)) {
    // Requests still waiting for the database get their 503 at DATABASE_TIMEOUT (http/app.ts).
    noteDatabaseFailure();
    return new AppError('SERVICE_UNAVAILABLE', undefined, { cause: error, retryAfter: 5 });
  }
  return new AppError('INTERNAL', undefined, { cause: error });
}

/** Every numbered code: HTTP errors (with their status) and post failures (status null). */
export function errorDictionary(): {
  code: string;
  number: number;
  status: number | null;
  message: string;
}[] {
  const http = (Object.keys(ERRORS) as ErrorCode[]).map((code) => ({
    code,
    number: ERRORS[code].number,
    status: ERRORS[code].status,
    message: ERRORS[code].message,
  }));
  const failures = (Object.keys(POST_FAILURES) as PostFailureCode[]).map((code) => ({
    code,
    number: POST_FAILURES[code].number,
    status: null,
    message: POST_FAILURES[code].message,
  }));
  return [...http, ...failures].sort((a, b) => a.number - b.number || a.code.localeCompare(b.code));
}
