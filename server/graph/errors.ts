/**
 * What to do about a Graph API failure, following docs/graph-api.md.
 * - retry: temporary trouble; try again with backoff.
 * - retry_later: rate limited; try again with a longer backoff.
 * - poll: the container is not ready; check its status, then publish.
 * - new_container: the container is gone or unusable; make a new one.
 * - quota: the account's daily publishing quota is used up; wait for the window.
 * - permanent: the user must change something (token, permission, media).
 */
export type GraphAction = 'retry' | 'retry_later' | 'poll' | 'new_container' | 'quota' | 'permanent';

/** Our stable code for each kind of failure, as shown to the app in `error.code`. */
export type GraphErrorCode =
  | 'GRAPH_TEMPORARY'
  | 'GRAPH_RATE_LIMITED'
  | 'GRAPH_CONTAINER_NOT_READY'
  | 'GRAPH_CONTAINER_EXPIRED'
  | 'GRAPH_QUOTA_EXCEEDED'
  | 'GRAPH_TOKEN_INVALID'
  | 'GRAPH_PERMISSION_MISSING'
  | 'GRAPH_POLICY_BLOCK'
  | 'GRAPH_ACCOUNT_RESTRICTED'
  | 'GRAPH_MEDIA_REJECTED'
  | 'GRAPH_NETWORK'
  | 'GRAPH_UNKNOWN'
  | 'GRAPH_ACTION_REFUSED'
  | 'MEDIA_FETCH_FAILED';

/**
 * Numbers for the reasons a post's publishing failed (`error.code` of a
 * post), seed 002 style: Graph failures on posts are 11xx. Listed by
 * `GET /errors` beside the HTTP error codes; never renumbered.
 */
export const POST_FAILURES = {
  GRAPH_TEMPORARY: { number: 1110, message: 'Meta had temporary trouble; retried with backoff.' },
  GRAPH_RATE_LIMITED: { number: 1120, message: 'Meta rate-limited the account or the app; retried later.' },
  GRAPH_CONTAINER_NOT_READY: { number: 1130, message: 'Meta had not finished processing the media.' },
  GRAPH_CONTAINER_EXPIRED: { number: 1140, message: 'The media container expired; a new one is made.' },
  GRAPH_QUOTA_EXCEEDED: { number: 1150, message: "The account's daily publishing quota is used up." },
  GRAPH_TOKEN_INVALID: { number: 1160, message: 'The access token is invalid or expired.' },
  GRAPH_PERMISSION_MISSING: { number: 1170, message: 'The token lacks a permission publishing needs.' },
  GRAPH_POLICY_BLOCK: {
    number: 1180,
    message: 'Instagram temporarily blocked the action for policy reasons.',
  },
  GRAPH_ACCOUNT_RESTRICTED: { number: 1190, message: 'The Instagram account is restricted.' },
  GRAPH_MEDIA_REJECTED: { number: 1200, message: 'Meta refused the media, caption or parameters.' },
  GRAPH_NETWORK: { number: 1210, message: 'Meta did not answer.' },
  GRAPH_UNKNOWN: { number: 1220, message: 'Meta refused the request for a reason we do not know.' },
  GRAPH_PROCESSING_TIMEOUT: { number: 1230, message: 'Meta did not finish processing the video in time.' },
  GRAPH_ACTION_REFUSED: {
    number: 1250,
    message:
      'Meta refused the action on this comment (already answered privately, outside the 7-day window, or the comment is gone).',
  },
  // Not MEDIA_UNREACHABLE: that code is the create/update refusal (6210); one code, one number.
  MEDIA_FETCH_FAILED: {
    number: 1240,
    message: 'A media URL could not be fetched right before the container was made; retried with backoff.',
  },
} as const satisfies Record<GraphErrorCode | 'GRAPH_PROCESSING_TIMEOUT', { number: number; message: string }>;

export type PostFailureCode = keyof typeof POST_FAILURES;

interface Rule {
  code: number | number[];
  subcode?: number | number[];
  action: GraphAction;
  errorCode: GraphErrorCode;
  hint?: string;
}

const has = (spec: number | number[] | undefined, value: number | null) =>
  spec === undefined || (value !== null && (Array.isArray(spec) ? spec.includes(value) : spec === value));

// Order matters: specific subcodes before their codes' general meaning.
const RULES: Rule[] = [
  {
    code: 4,
    subcode: 2207051,
    action: 'permanent',
    errorCode: 'GRAPH_ACCOUNT_RESTRICTED',
    hint: 'Instagram restricted this account for spam-like activity.',
  },
  {
    code: 25,
    subcode: 2207050,
    action: 'permanent',
    errorCode: 'GRAPH_ACCOUNT_RESTRICTED',
    hint: 'The Instagram account is restricted or inactive.',
  },
  { code: 9, subcode: 2207042, action: 'quota', errorCode: 'GRAPH_QUOTA_EXCEEDED' },
  { code: 9007, action: 'poll', errorCode: 'GRAPH_CONTAINER_NOT_READY' },
  { code: 24, action: 'new_container', errorCode: 'GRAPH_CONTAINER_EXPIRED' },
  { code: -2, subcode: 2207020, action: 'new_container', errorCode: 'GRAPH_CONTAINER_EXPIRED' },
  { code: -1, subcode: 2207053, action: 'new_container', errorCode: 'GRAPH_CONTAINER_EXPIRED' },
  {
    code: 1,
    subcode: 2207057,
    action: 'permanent',
    errorCode: 'GRAPH_MEDIA_REJECTED',
    hint: 'thumb_offset is outside the video.',
  },
  // Private replies: Meta's answers about the comment, not about the token or its permissions.
  {
    code: 10,
    subcode: 2534022,
    action: 'permanent',
    errorCode: 'GRAPH_ACTION_REFUSED',
    hint: 'The comment is older than 7 days: Meta allows a private reply only within 7 days of it.',
  },
  {
    code: 10900,
    action: 'permanent',
    errorCode: 'GRAPH_ACTION_REFUSED',
    hint: 'This comment already has its private reply (Meta allows one per comment).',
  },
  { code: [1, 2, -1, -2], action: 'retry', errorCode: 'GRAPH_TEMPORARY' },
  { code: [4, 17, 32, 613, 80002], action: 'retry_later', errorCode: 'GRAPH_RATE_LIMITED' },
  {
    code: 190,
    action: 'permanent',
    errorCode: 'GRAPH_TOKEN_INVALID',
    hint: 'The access token is invalid or expired; send a new token.',
  },
  { code: 10, action: 'permanent', errorCode: 'GRAPH_PERMISSION_MISSING' },
  {
    code: 368,
    action: 'permanent',
    errorCode: 'GRAPH_POLICY_BLOCK',
    hint: 'Instagram temporarily blocked this action for policy reasons.',
  },
  {
    code: [100, 352, 9004, 36000, 36001, 36002, 36003, 36004],
    action: 'permanent',
    errorCode: 'GRAPH_MEDIA_REJECTED',
  },
];

const SUBCODE_HINTS: Record<number, string> = {
  2207023: 'The media type is not supported.',
  2207026: 'The video format is not supported: use MP4 or MOV, H.264 or HEVC, 3 s to 15 min.',
  2207028: 'A carousel needs 2 to 10 items.',
  2207052: 'Meta could not fetch the media URL: it must be public and reachable.',
  2207003:
    'Meta timed out downloading the media: its host must answer quickly (or upload the file to /media).',
  2207004: 'The image is too large (at most 8 MB).',
  2207005: 'The image format is not supported: use JPEG.',
  2207009: 'The image aspect ratio must be between 4:5 and 1.91:1.',
  2207010: 'The caption is too long or has too many hashtags or mentions.',
};

export interface GraphErrorFields {
  httpStatus: number | null;
  code: number | null;
  subcode: number | null;
  isTransient: boolean;
  type: string | null;
  fbtraceId: string | null;
  message: string;
}

export class GraphError extends Error {
  override name = 'GraphError';
  readonly httpStatus: number | null;
  readonly code: number | null;
  readonly subcode: number | null;
  readonly isTransient: boolean;
  readonly type: string | null;
  readonly fbtraceId: string | null;
  readonly action: GraphAction;
  readonly errorCode: GraphErrorCode;
  /** A sentence for the app's user: what went wrong and what to do (a media failure adds the URL). */
  userMessage: string;

  constructor(fields: GraphErrorFields) {
    super(fields.message);
    this.httpStatus = fields.httpStatus;
    this.code = fields.code;
    this.subcode = fields.subcode;
    this.isTransient = fields.isTransient;
    this.type = fields.type;
    this.fbtraceId = fields.fbtraceId;
    const { action, errorCode, hint } = classify(fields);
    this.action = action;
    this.errorCode = errorCode;
    this.userMessage = hint ?? fields.message;
  }
}

/** Network failure or timeout: no answer from Meta at all. */
export class GraphNetworkError extends Error {
  override name = 'GraphNetworkError';
  readonly action: GraphAction = 'retry';
  readonly errorCode: GraphErrorCode = 'GRAPH_NETWORK';
  readonly userMessage: string = 'Could not reach the Instagram Graph API.';
}

/** Pre-flight right before a container: a media URL did not answer. Retried like a network failure. */
export class MediaUnreachableError extends GraphNetworkError {
  override name = 'MediaUnreachableError';
  override readonly errorCode: GraphErrorCode = 'MEDIA_FETCH_FAILED';
  override readonly userMessage: string;
  constructor(message: string) {
    super(message);
    this.userMessage = message;
  }
}

/** Meta's own "could not fetch" (9004/2207052) and "timed out downloading" (2207003). */
export function isMediaDownloadError(error: unknown): error is GraphError {
  return (
    error instanceof GraphError &&
    (error.code === 9004 || error.subcode === 2207052 || error.subcode === 2207003)
  );
}

export function classify(
  e: Pick<GraphErrorFields, 'code' | 'subcode' | 'isTransient' | 'httpStatus' | 'message'>,
): {
  action: GraphAction;
  errorCode: GraphErrorCode;
  hint?: string;
} {
  const rule: Pick<Rule, 'action' | 'errorCode' | 'hint'> =
    RULES.find((r) => has(r.code, e.code) && has(r.subcode, e.subcode)) ??
    (e.code !== null && e.code >= 200 && e.code <= 299
      ? { action: 'permanent', errorCode: 'GRAPH_PERMISSION_MISSING' }
      : e.isTransient || (e.httpStatus !== null && e.httpStatus >= 500)
        ? { action: 'retry', errorCode: 'GRAPH_TEMPORARY' }
        : { action: 'permanent', errorCode: 'GRAPH_UNKNOWN' });
  const hint =
    rule.hint ??
    (e.subcode !== null ? SUBCODE_HINTS[e.subcode] : undefined) ??
    (rule.errorCode === 'GRAPH_PERMISSION_MISSING' ? `Missing permission: ${e.message}` : undefined);
  return { action: rule.action, errorCode: rule.errorCode, ...(hint ? { hint } : {}) };
}

/**
 * A failure as it is stored and shown (a post's `error`, a channel action's):
 * our code, a sentence for the user, and Meta's codes when Meta refused.
 */
export interface FailureRecord {
  code: string;
  message: string;
  graph_code: number | null;
  graph_subcode: number | null;
}

/** The record of any error a Graph call threw; anything else is `INTERNAL`, its text kept out. */
export function errorOf(error: unknown): FailureRecord {
  if (error instanceof GraphError) {
    return {
      code: error.errorCode,
      message: error.userMessage,
      graph_code: error.code,
      graph_subcode: error.subcode,
    };
  }
  if (error instanceof GraphNetworkError)
    return { code: error.errorCode, message: error.userMessage, graph_code: null, graph_subcode: null };
  return {
    code: 'INTERNAL',
    message: 'Publishing failed unexpectedly.',
    graph_code: null,
    graph_subcode: null,
  };
}

/** What to do about an error a Graph call threw; `unknown` for anything that is not Meta's. */
export function actionOf(error: unknown): GraphAction | 'unknown' {
  if (error instanceof GraphError || error instanceof GraphNetworkError) return error.action;
  return 'unknown';
}
