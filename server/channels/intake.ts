/**
 * Comments arriving: Meta's webhooks at `/webhooks/instagram` and polling
 * (poll.ts) both end in storeComments, one INSERT that also adds the job
 * that acts on them. (ig_user_id, comment_id) is unique, so Meta's retries
 * (for 36 hours), and a comment both paths bring, are stored once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.ts';
import { AppError, toAppError } from '../errors.ts';
import { addProcessCommentsJob } from '../jobs/process-comments.ts';
import { describeError, type Logger } from '../logger.ts';

/** A comment as both paths bring it. */
export type IncomingComment = {
  ig_user_id: string;
  comment_id: string;
  media_id: string | null;
  parent_id: string | null;
  from_id: string | null;
  username: string | null;
  text: string;
  /** Written by the account itself: never acted on. */
  own: boolean;
  commented_at: string;
};

/**
 * Stores the comments of accounts we know (others are dropped) and, when any
 * is new, the processing job, in one statement. Returns how many were new.
 */
export async function storeComments(
  db: DbOrTx,
  comments: IncomingComment[],
  source: 'webhook' | 'poll',
): Promise<number> {
  if (comments.length === 0) return 0;
  const [row] = await db.execute<{ stored: number }>(sql`
    with incoming as (
      insert into instagram_comments
        (ig_user_id, comment_id, media_id, parent_id, from_id, username, text, own, commented_at, source)
      select x.ig_user_id, x.comment_id, x.media_id, x.parent_id, x.from_id, x.username, x.text, x.own,
             x.commented_at, ${source}
      from jsonb_to_recordset(${JSON.stringify(comments)}::jsonb) as x(ig_user_id text, comment_id text,
        media_id text, parent_id text, from_id text, username text, text text, own boolean, commented_at timestamptz)
      where exists (select 1 from instagrams i where i.ig_user_id = x.ig_user_id)
      on conflict (ig_user_id, comment_id) do nothing
      returning 1)
    select (select count(*) from incoming)::int as stored,
           case when exists (select 1 from incoming) then ${addProcessCommentsJob} end as job`);
  return row!.stored;
}

/**
 * Text as PostgreSQL can keep it: no NUL (text and jsonb refuse it) and no
 * lone UTF-16 surrogate (jsonb refuses its escape), each replaced by U+FFFD
 * so the reader sees something was there. Meta's bodies have carried both.
 */
export function storable(text: string): string {
  return text.replace(UNSTORABLE, '\ufffd');
}
// String.prototype.toWellFormed is ES2024, past the typings this project targets (Node 20).
// eslint-disable-next-line no-control-regex -- NUL is exactly what must go
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const str = (v: unknown): string | null =>
  typeof v === 'string' && v !== '' ? storable(v) : typeof v === 'number' ? String(v) : null;

/** Instagram began in 2010; a comment time before it, or more than a day ahead, is not a time Meta meant. */
const EARLIEST = Date.UTC(2010, 0, 1);
function commentTime(seconds: unknown, now: Date): Date {
  const ms = typeof seconds === 'number' ? seconds * 1000 : NaN;
  return Number.isFinite(ms) && ms >= EARLIEST && ms <= now.getTime() + 86_400_000 ? new Date(ms) : now;
}

/**
 * The `comments` changes of a delivery (docs/graph-api.md, "Webhooks");
 * other fields (messages, mentions) and changes without an id are left out.
 * What PostgreSQL could not store is cleaned (`storable`, `commentTime`), so
 * that one odd comment never makes the whole delivery fail and be lost.
 */
export function commentsOfDelivery(
  body: unknown,
  now = new Date(),
): { comments: IncomingComment[]; changes: number; cleaned: number } {
  const comments: IncomingComment[] = [];
  let changes = 0;
  let cleaned = 0;
  const entries = (body as { entry?: unknown } | null)?.entry;
  if (!Array.isArray(entries)) return { comments, changes, cleaned };
  for (const entry of entries as Record<string, unknown>[]) {
    const igUserId = str(entry?.id);
    const time = commentTime(entry?.time, now);
    const timeReplaced = typeof entry?.time === 'number' && time === now;
    const list = Array.isArray(entry?.changes) ? (entry.changes as Record<string, unknown>[]) : [];
    changes += list.length;
    for (const change of list) {
      const value = change?.value as Record<string, unknown> | undefined;
      const id = str(value?.id);
      if (change?.field !== 'comments' || !igUserId || !value || !id) continue;
      const from = (value.from ?? {}) as Record<string, unknown>;
      const fromId = str(from.id);
      const sent = typeof value.text === 'string' ? value.text : '';
      const text = storable(sent);
      // Values replaced, counted per comment: its text, and the entry's time it carries.
      cleaned += (text !== sent ? 1 : 0) + (timeReplaced ? 1 : 0);
      comments.push({
        ig_user_id: igUserId,
        comment_id: id,
        media_id: str((value.media as Record<string, unknown> | undefined)?.id),
        parent_id: str(value.parent_id),
        from_id: fromId,
        username: str(from.username),
        text,
        own: fromId === igUserId || str(from.self_ig_scoped_id) !== null,
        commented_at: time.toISOString(),
      });
    }
  }
  return { comments, changes, cleaned };
}

/** Whether `header` is `sha256=<hex>` of the body with one of the secrets; constant-time per secret. */
export function signatureMatches(raw: Buffer, header: string | undefined, secrets: string[]): boolean {
  const hex = /^sha256=([0-9a-f]{64})$/i.exec(header ?? '')?.[1];
  if (!hex) return false;
  const given = Buffer.from(hex, 'hex');
  let ok = false;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(raw).digest();
    // Every secret is tried whatever the outcome, so the time taken does not tell which matched.
    ok = timingSafeEqual(expected, given) || ok;
  }
  return ok;
}

export interface IntakeDeps {
  db: DbOrTx;
  logger: Logger;
  /** WEBHOOK_VERIFY_TOKEN; without it verification is refused. */
  verifyToken: string | undefined;
  /** INSTAGRAM_APP_SECRET and FACEBOOK_APP_SECRET (either may sign, docs/graph-api.md). */
  secrets: string[];
}

function refuse(req: Request, res: Response, error: AppError) {
  res.status(error.status).json(error.toBody(res.locals.requestId));
}

/** `GET /webhooks/instagram`: Meta's subscription check echoes `hub.challenge` when the token is ours. */
export function verifySubscription(deps: IntakeDeps) {
  return (req: Request, res: Response): void => {
    const q = (name: string) => (typeof req.query[name] === 'string' ? req.query[name] : '');
    const expected = Buffer.from(deps.verifyToken ?? '');
    const given = Buffer.from(q('hub.verify_token'));
    const matches =
      expected.length > 0 && given.length === expected.length && timingSafeEqual(given, expected);
    if (q('hub.mode') !== 'subscribe' || !matches)
      return refuse(req, res, new AppError('WEBHOOK_VERIFY_FAILED'));
    res.status(200).type('text/plain').send(q('hub.challenge'));
  };
}

/**
 * `POST /webhooks/instagram`: the raw bytes are checked against the
 * signature before anything is parsed; each comment change is stored in one
 * insert and the answer goes at once (the work is done by jobs).
 */
export function receiveDelivery(deps: IntakeDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!signatureMatches(raw, req.get('x-hub-signature-256'), deps.secrets))
      return refuse(req, res, new AppError('WEBHOOK_SIGNATURE_INVALID'));
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return refuse(req, res, new AppError('MALFORMED_JSON'));
    }
    const { comments, changes, cleaned } = commentsOfDelivery(body);
    // What could not be kept as Meta sent it is said, without the text itself.
    if (cleaned > 0)
      deps.logger.warn(
        { cleaned, requestId: res.locals.requestId },
        'webhook comments stored with unstorable characters or times replaced',
      );
    try {
      const stored = await storeComments(deps.db, comments, 'webhook');
      res.status(200).json({ received: changes, stored, ...(cleaned > 0 ? { cleaned } : {}) });
    } catch (error) {
      // Not stored: an error status makes Meta deliver it again.
      const appError = toAppError(error);
      if (appError.code === 'INTERNAL')
        deps.logger.error({ ...describeError(error), requestId: res.locals.requestId }, 'webhook not stored');
      refuse(req, res, appError);
    }
  };
}
