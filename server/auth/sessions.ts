import { sha256 } from '@oslojs/crypto/sha2';
import { encodeBase32LowerCaseNoPadding, encodeHexLowerCase } from '@oslojs/encoding';
import { eq, lt, sql } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { rowMapper } from '../db/rows.ts';
import { sessions } from '../db/schema.ts';

export type SessionKind = 'login' | 'api';

export interface SessionUser {
  id: number;
  username: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface ValidSession {
  id: string;
  userId: number;
  kind: SessionKind;
  label: string | null;
  ttlSeconds: number;
  expiresAt: Date;
}

/** 20 random bytes (160 bits), base32: what Lucia's guide recommends. */
function generateSessionToken(): string {
  const bytes = new Uint8Array(20);
  crypto.getRandomValues(bytes);
  return encodeBase32LowerCaseNoPadding(bytes);
}

/** Sessions are stored under the SHA-256 of their token, so a leaked table grants nothing. */
export function sessionIdFromToken(token: string): string {
  return encodeHexLowerCase(sha256(new TextEncoder().encode(token)));
}

export async function createSession(
  db: DbOrTx,
  opts: { userId: number; kind: SessionKind; ttlSeconds: number; label?: string | null; now?: Date },
): Promise<{ token: string; expiresAt: Date }> {
  const token = generateSessionToken();
  const now = opts.now ?? new Date();
  const expiresAt = new Date(now.getTime() + opts.ttlSeconds * 1000);
  await db.insert(sessions).values({
    id: sessionIdFromToken(token),
    userId: opts.userId,
    kind: opts.kind,
    label: opts.label ?? null,
    ttlSeconds: opts.ttlSeconds,
    expiresAt,
    createdAt: now,
  });
  return { token, expiresAt };
}

const toSession = rowMapper(sessions);

/**
 * Returns the session and its user, or null when the token is unknown or
 * expired. Expiry slides: once less than half the lifetime is left, it is
 * pushed to now + lifetime.
 */
export async function validateSessionToken(
  db: DbOrTx,
  token: string,
  now: Date = new Date(),
): Promise<{ session: ValidSession; user: SessionUser } | null> {
  const id = sessionIdFromToken(token);
  // Runs on every authenticated request, hence plain SQL (see db/rows.ts).
  const [row] = await db.execute<
    Record<string, unknown> & { username: string; user_created_at: string; user_updated_at: string }
  >(sql`
    select s.*, u.username, u.created_at as user_created_at, u.updated_at as user_updated_at
    from sessions s join users u on u.id = s.user_id where s.id = ${id}`);
  if (!row) return null;
  const { createdAt: _created, ...session } = toSession(row);
  const user: SessionUser = {
    id: session.userId,
    username: row.username,
    createdAt: new Date(row.user_created_at),
    updatedAt: new Date(row.user_updated_at),
  };
  if (session.expiresAt.getTime() <= now.getTime()) {
    await db.delete(sessions).where(eq(sessions.id, id));
    return null;
  }
  const ttlMs = session.ttlSeconds * 1000;
  if (session.expiresAt.getTime() - now.getTime() < ttlMs / 2) {
    session.expiresAt = new Date(now.getTime() + ttlMs);
    await db.update(sessions).set({ expiresAt: session.expiresAt }).where(eq(sessions.id, id));
  }
  return { session, user };
}

export async function invalidateSession(db: DbOrTx, sessionId: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.id, sessionId));
}

/**
 * Swaps a session for a new one with the same kind, label and lifetime; the
 * old token stops working in the same transaction.
 */
export async function rotateSession(
  db: DbOrTx,
  session: ValidSession,
): Promise<{ token: string; expiresAt: Date }> {
  const deleted = await db.delete(sessions).where(eq(sessions.id, session.id)).returning({ id: sessions.id });
  // A concurrent logout or refresh got there first: this token is already dead.
  if (deleted.length === 0) throw new AppError('UNAUTHORIZED');
  return createSession(db, {
    userId: session.userId,
    kind: session.kind,
    ttlSeconds: session.ttlSeconds,
    label: session.label,
  });
}

/** Deletes expired sessions; returns how many. */
export async function deleteExpiredSessions(db: DbOrTx, now: Date = new Date()): Promise<number> {
  const rows = await db.delete(sessions).where(lt(sessions.expiresAt, now)).returning({ id: sessions.id });
  return rows.length;
}
