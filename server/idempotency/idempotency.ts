/**
 * `Idempotency-Key` on POST operations (docs/api.md, "Retries"), as the IETF
 * draft and Stripe define it. A phone that lost the answer to a request that
 * worked retries it with the same key and gets the same answer, and nothing
 * is created twice:
 * - the request runs inside one transaction that also writes its answer to
 *   `idempotency_keys`, so the answer is kept exactly when what it created is;
 * - a transaction-scoped advisory lock on (user, key) makes a second request
 *   with the key, while the first still runs, a 409 at once;
 * - the same key with another operation or input is a 422.
 * Kept: successes, and refusals that depend on the request alone (400, 404,
 * 422). Not kept: 5xx (nothing committed) and refusals that depend on the
 * moment (401, 403, 409, 429), so that a retry later can succeed.
 */
import { createHash } from 'node:crypto';
import { and, eq, gt, lt, sql } from 'drizzle-orm';
import type { Db, DbOrTx, Tx } from '../db/client.ts';
import { idempotencyKeys } from '../db/schema.ts';
import { AppError, ERRORS, toAppError, type ErrorCode } from '../errors.ts';

/** How long an answer is kept. */
export const IDEMPOTENCY_TTL_HOURS = 24;

/** Statuses of refusals that say something about the request itself, whenever it is retried. */
const KEPT_ERROR_STATUSES = new Set([400, 404, 422]);

/** 1–255 visible ASCII characters (the draft leaves the syntax to the server; Stripe allows 255). */
export function checkIdempotencyKey(raw: string | string[] | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const key = Array.isArray(raw) ? raw.join(',') : raw;
  if (!/^[\x21-\x7e]{1,255}$/.test(key))
    throw new AppError('VALIDATION_FAILED', undefined, {
      issues: [
        {
          path: 'Idempotency-Key',
          message: 'must be 1 to 255 visible ASCII characters (a UUID is a good choice)',
        },
      ],
    });
  return key;
}

/** JSON with object keys sorted, so that the same input always has the same fingerprint. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}

export function fingerprintOf(operation: string, input: unknown): string {
  return createHash('sha256').update(operation).update('\n').update(canonical(input)).digest('hex');
}

/** What a kept request answered. */
export type KeptAnswer =
  { status: number; ok: true; data: unknown } | { status: number; ok: false; error: AppError };

/** What runs the request: its work on the transaction it is given, and how its success is answered. */
export interface IdempotentRequest<T> {
  userId: number;
  key: string;
  fingerprint: string;
  run: (tx: Tx) => Promise<T>;
  /** The HTTP status the success answers with (known once it ran). */
  successStatus: () => number;
}

/**
 * Runs `request` once per (user, key). Returns the answer to send (a kept
 * refusal too: the caller throws it) and whether it is a replay; errors that
 * are not kept are rethrown, and nothing of the request is committed.
 */
export async function runIdempotent<T>(
  db: Db,
  request: IdempotentRequest<T>,
): Promise<{ replayed: boolean; answer: KeptAnswer }> {
  const { userId, key, fingerprint } = request;
  const outcome = await db.transaction(async (tx) => {
    const [lock] = await tx.execute<{ ok: boolean }>(
      sql`select pg_try_advisory_xact_lock(hashtextextended(${`${userId}:${key}`}, 7243911)) as ok`,
    );
    if (!lock?.ok) throw new AppError('IDEMPOTENCY_KEY_IN_USE', undefined, { retryAfter: 1 });
    const [kept] = await tx
      .select()
      .from(idempotencyKeys)
      .where(
        and(
          eq(idempotencyKeys.userId, userId),
          eq(idempotencyKeys.key, key),
          gt(idempotencyKeys.createdAt, sql`now() - ${`${IDEMPOTENCY_TTL_HOURS} hours`}::interval`),
        ),
      );
    if (kept) {
      if (kept.fingerprint !== fingerprint) throw new AppError('IDEMPOTENCY_KEY_REUSED');
      return { replayed: true, answer: fromRow(kept.status, kept.response) };
    }
    let answer: KeptAnswer;
    try {
      // A savepoint: a refusal's partial writes go, while its answer may still be kept.
      const data = await tx.transaction((sp) => request.run(sp));
      answer = { status: request.successStatus(), ok: true, data };
    } catch (error) {
      const appError = toAppError(error);
      if (!KEPT_ERROR_STATUSES.has(appError.status)) throw error;
      answer = { status: appError.status, ok: false, error: appError };
    }
    await tx
      .insert(idempotencyKeys)
      .values({ userId, key, fingerprint, status: answer.status, response: toRow(answer) })
      // A key older than the TTL, not yet pruned, starts again.
      .onConflictDoUpdate({
        target: [idempotencyKeys.userId, idempotencyKeys.key],
        set: { fingerprint, status: answer.status, response: toRow(answer), createdAt: sql`now()` },
      });
    return { replayed: false, answer };
  });
  return outcome;
}

function toRow(answer: KeptAnswer): unknown {
  if (answer.ok) return { data: answer.data ?? null };
  const { code, message, issues } = answer.error;
  return { error: { code, message, ...(issues ? { issues } : {}) } };
}

function fromRow(status: number, response: unknown): KeptAnswer {
  const row = response as { data?: unknown; error?: { code: ErrorCode; message: string; issues?: never } };
  if (row.error && row.error.code in ERRORS)
    return {
      status,
      ok: false,
      error: new AppError(
        row.error.code,
        row.error.message,
        row.error.issues ? { issues: row.error.issues } : {},
      ),
    };
  return { status, ok: true, data: row.data ?? null };
}

/** Answers older than the TTL; run by the prune_expired task. */
export async function deleteExpiredIdempotencyKeys(db: DbOrTx): Promise<number> {
  const rows = await db
    .delete(idempotencyKeys)
    .where(lt(idempotencyKeys.createdAt, sql`now() - ${`${IDEMPOTENCY_TTL_HOURS} hours`}::interval`))
    .returning({ key: idempotencyKeys.key });
  return rows.length;
}
