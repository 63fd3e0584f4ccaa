/**
 * Connected Instagram accounts: saving what Meta verified, settings, states
 * and history. Meta is asked before the transaction (router.ts), so no
 * database connection waits on the network; these functions take the
 * transaction. States and held posts: docs/accounts.md.
 */
import { and, asc, eq, sql } from 'drizzle-orm';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import type { DbOrTx, Tx } from '../db/client.ts';
import { instagramEvents, instagrams, type InstagramEventType, type InstagramRow } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { formatInstant, formatInstantOrNull } from '../lib/time.ts';
import { emitWebhookEvent } from '../webhooks/outbox.ts';
import { releaseHeldPosts } from './held-posts.ts';
import { accountHooks } from './hooks.ts';
import type { VerifiedAccount } from './meta.ts';
import { DEFAULT_HOURS, DEFAULT_SPEED, type InstagramOutput, type UpdateInstagramInput } from './schemas.ts';
import type { StateReason } from '../db/columns.ts';

export interface Settings {
  trusted?: boolean | undefined;
  hours?: { min: number; max: number } | undefined;
  speed?: Partial<typeof DEFAULT_SPEED> | undefined;
  timezone?: string | undefined;
}

export function toInstagramOutput(row: InstagramRow): InstagramOutput {
  return {
    id: row.id,
    user_id: row.igUserId,
    username: row.username,
    login_type: row.loginType,
    state: row.state,
    state_reason: row.stateReason ?? null,
    info: row.info,
    trusted: row.trusted,
    hours: row.hours,
    speed: { ...DEFAULT_SPEED, ...row.speed },
    timezone: row.timezone,
    token_expires_at: formatInstantOrNull(row.tokenExpiresAt),
    token_refreshed_at: formatInstant(row.tokenRefreshedAt),
    created_at: formatInstant(row.createdAt),
    updated_at: formatInstant(row.updatedAt),
  };
}

export async function appendInstagramEvent(
  db: DbOrTx,
  instagramId: number,
  event: { type: InstagramEventType; message: string; reason?: StateReason | null },
): Promise<void> {
  await db.insert(instagramEvents).values({ instagramId, ...event, reason: event.reason ?? null });
}

/** The caller's account, or 404 (another user's account is not theirs to learn of). */
export async function getInstagramRow(db: DbOrTx, ownerId: number, id: number): Promise<InstagramRow> {
  const [row] = await db
    .select()
    .from(instagrams)
    .where(and(eq(instagrams.id, id), eq(instagrams.ownerId, ownerId)));
  if (!row) throw new AppError('INSTAGRAM_NOT_FOUND');
  return row;
}

/** Locks the caller's account for the rest of the transaction. */
export async function lockInstagram(tx: Tx, ownerId: number, id: number): Promise<InstagramRow> {
  const [row] = await tx
    .select()
    .from(instagrams)
    .where(and(eq(instagrams.id, id), eq(instagrams.ownerId, ownerId)))
    .for('update');
  if (!row) throw new AppError('INSTAGRAM_NOT_FOUND');
  return row;
}

function settingsValues(settings: Settings, base: Pick<InstagramRow, 'speed'> | null) {
  return {
    ...(settings.trusted !== undefined ? { trusted: settings.trusted } : {}),
    ...(settings.hours !== undefined ? { hours: settings.hours } : {}),
    ...(settings.speed !== undefined
      ? { speed: { ...DEFAULT_SPEED, ...base?.speed, ...settings.speed } }
      : {}),
    ...(settings.timezone !== undefined ? { timezone: settings.timezone } : {}),
  };
}

/**
 * Stores an account Meta just verified: a new row, or the same account of the
 * same user updated (new token; `suspected` cleared, which releases its held
 * posts in this transaction). An account another user has connected is a 409:
 * one owner per Instagram account, kept by a unique index, so two users'
 * channels never both answer its comments.
 */
export async function saveVerifiedAccount(
  tx: Tx,
  ownerId: number,
  account: VerifiedAccount,
  deps: { cipher: TokenCipher; settings?: Settings; now?: Date },
): Promise<{ row: InstagramRow; created: boolean }> {
  const now = deps.now ?? new Date();
  const sealed = deps.cipher.seal(account.token);
  const tokenValues = {
    username: account.username,
    loginType: account.loginType,
    info: account.info,
    tokenKeyId: sealed.keyId,
    tokenCiphertext: sealed.ciphertext,
    tokenExpiresAt: account.expiresAt,
    tokenRefreshedAt: now,
    updatedAt: now,
  };
  const [inserted] = await tx
    .insert(instagrams)
    .values({
      ownerId,
      igUserId: account.igUserId,
      hours: DEFAULT_HOURS,
      speed: DEFAULT_SPEED,
      ...settingsValues(deps.settings ?? {}, null),
      ...tokenValues,
      createdAt: now,
    })
    .onConflictDoNothing()
    .returning();
  if (inserted) {
    await appendInstagramEvent(tx, inserted.id, {
      type: 'connected',
      message: `Connected @${account.username} (${account.loginType} login).`,
    });
    return { row: inserted, created: true };
  }
  const [current] = await tx
    .select()
    .from(instagrams)
    .where(and(eq(instagrams.ownerId, ownerId), eq(instagrams.igUserId, account.igUserId)))
    .for('update');
  // Not this user's: the one-owner index (instagrams_one_owner_idx) kept the row out.
  if (!current)
    throw new AppError(
      'INSTAGRAM_CONNECTED_ELSEWHERE',
      `@${account.username} is connected by another user of this server; an Instagram account can have one owner here, so they must disconnect it first.`,
    );
  return {
    row: await reconnect(
      tx,
      current,
      { ...tokenValues, ...settingsValues(deps.settings ?? {}, current) },
      now,
    ),
    created: false,
  };
}

/** A new good token for a locked row: `suspected` becomes `start` and held posts go back in line. */
async function reconnect(
  tx: Tx,
  current: InstagramRow,
  values: Partial<typeof instagrams.$inferInsert>,
  now: Date,
): Promise<InstagramRow> {
  const wasSuspected = current.state === 'suspected';
  const [row] = await tx
    .update(instagrams)
    .set({ ...values, ...(wasSuspected ? { state: 'start' as const, stateReason: null } : {}) })
    .where(eq(instagrams.id, current.id))
    .returning();
  const released = row!.state === 'start' ? await releaseHeldPosts(tx, current.id, now) : 0;
  if (row!.state === 'start') await accountHooks().started(tx, current.id, now);
  await appendInstagramEvent(tx, current.id, {
    type: 'reconnected',
    message:
      `Reconnected with a new token.` +
      (wasSuspected ? ' The account is started again.' : '') +
      (released > 0 ? ` ${released} held post(s) released.` : ''),
  });
  return row!;
}

/** PATCH/PUT: settings, and a token Meta verified (for this same account) when one was sent. */
export async function updateInstagram(
  tx: Tx,
  ownerId: number,
  edit: { input: UpdateInstagramInput; mode: 'patch' | 'replace'; verified?: VerifiedAccount | undefined },
  deps: { cipher: TokenCipher; now?: Date },
): Promise<InstagramRow> {
  const now = deps.now ?? new Date();
  const current = await lockInstagram(tx, ownerId, edit.input.id);
  const { input } = edit;
  // PUT replaces the settings: those left out go back to their defaults.
  const settings: Settings =
    edit.mode === 'replace'
      ? {
          trusted: input.trusted ?? false,
          hours: input.hours ?? DEFAULT_HOURS,
          speed: { ...DEFAULT_SPEED, ...input.speed },
          timezone: input.timezone ?? 'UTC',
        }
      : input;
  const values = { ...settingsValues(settings, edit.mode === 'replace' ? null : current), updatedAt: now };
  if (!edit.verified) {
    const [row] = await tx.update(instagrams).set(values).where(eq(instagrams.id, current.id)).returning();
    // A new speed, window or time zone moves what channels have queued.
    if (values.speed || values.hours || values.timezone)
      await accountHooks().paceChanged(tx, current.id, now);
    return row!;
  }
  const v = edit.verified;
  if (v.igUserId !== current.igUserId)
    throw new AppError(
      'INSTAGRAM_LOGIN_FAILED',
      `The token is for @${v.username}, not @${current.username}; connect it with POST /instagrams/.`,
    );
  const sealed = deps.cipher.seal(v.token);
  return reconnect(
    tx,
    current,
    {
      ...values,
      username: v.username,
      loginType: v.loginType,
      info: v.info,
      tokenKeyId: sealed.keyId,
      tokenCiphertext: sealed.ciphertext,
      tokenExpiresAt: v.expiresAt,
      tokenRefreshedAt: now,
    },
    now,
  );
}

/** `start`: the account publishes again; its held posts are released in the same transaction. */
export async function startInstagram(
  tx: Tx,
  ownerId: number,
  id: number,
  now = new Date(),
): Promise<InstagramRow> {
  const current = await lockInstagram(tx, ownerId, id);
  if (current.state === 'start') return current;
  const [row] = await tx
    .update(instagrams)
    .set({ state: 'start', stateReason: null, updatedAt: now })
    .where(eq(instagrams.id, id))
    .returning();
  const released = await releaseHeldPosts(tx, id, now);
  await accountHooks().started(tx, id, now);
  await appendInstagramEvent(tx, id, {
    type: 'started',
    message: released > 0 ? `Started; ${released} held post(s) released.` : 'Started.',
  });
  return row!;
}

/** `stop`: posts that come due wait (held) until `start`. */
export async function stopInstagram(
  tx: Tx,
  ownerId: number,
  id: number,
  now = new Date(),
): Promise<InstagramRow> {
  const current = await lockInstagram(tx, ownerId, id);
  if (current.state === 'stop') return current;
  const [row] = await tx
    .update(instagrams)
    .set({ state: 'stop', updatedAt: now })
    .where(eq(instagrams.id, id))
    .returning();
  await accountHooks().paused(tx, id);
  await appendInstagramEvent(tx, id, {
    type: 'stopped',
    message:
      current.state === 'suspected'
        ? 'Stopped (it was suspected: starting it again checks the token first).'
        : 'Stopped: posts that come due wait until the account is started.',
  });
  // A suspected account stays suspected in substance: keep its reason for `start` to re-check.
  return row!;
}

/**
 * An account's state and sealed token, its row locked for the rest of the
 * transaction as `start` and `suspectInstagram` lock it; null when it is gone.
 */
export async function lockAccountState(
  tx: Tx,
  id: number,
): Promise<Pick<InstagramRow, 'state' | 'tokenCiphertext'> | null> {
  const [row] = await tx
    .select({ state: instagrams.state, tokenCiphertext: instagrams.tokenCiphertext })
    .from(instagrams)
    .where(eq(instagrams.id, id))
    .for('update');
  return row ?? null;
}

/**
 * The server's verdict on Meta's word (a token, permission or restriction
 * error): the account's posts wait and its channels pause until a new token.
 * Takes a row lock; a no-op on an account already suspected for the same reason.
 */
export async function suspectInstagram(
  tx: Tx,
  id: number,
  reason: StateReason,
  opts: { now?: Date; ifToken?: string } = {},
): Promise<void> {
  const now = opts.now ?? new Date();
  const [current] = await tx.select().from(instagrams).where(eq(instagrams.id, id)).for('update');
  if (!current) return;
  // Meta judged a token the account no longer has: the new one is not suspect.
  if (opts.ifToken !== undefined && current.tokenCiphertext !== opts.ifToken) return;
  if (current.state === 'suspected' && current.stateReason?.code === reason.code) return;
  const [row] = await tx
    .update(instagrams)
    .set({ state: 'suspected', stateReason: reason, updatedAt: now })
    .where(eq(instagrams.id, id))
    .returning();
  await accountHooks().paused(tx, id);
  await appendInstagramEvent(tx, id, { type: 'suspected', message: reason.message, reason });
  await emitWebhookEvent(
    tx,
    { ownerId: row!.ownerId, type: 'instagram.suspected', data: toInstagramOutput(row!) },
    now,
  );
}

/** Refused while posts of the account wait or are being published: nothing is lost by a delete. */
export async function deleteInstagram(
  tx: Tx,
  ownerId: number,
  id: number,
): Promise<{ id: number; deleted: true }> {
  await lockInstagram(tx, ownerId, id);
  const [waiting] = await tx.execute<{ n: number }>(sql`
    select count(*)::int as n from posts where instagram_id = ${id} and status in ('scheduled', 'publishing')`);
  if (waiting!.n > 0)
    throw new AppError(
      'INSTAGRAM_IN_USE',
      `${waiting!.n} post(s) of this account are scheduled or being published; delete them or wait until they are published.`,
    );
  await tx.delete(instagrams).where(eq(instagrams.id, id));
  return { id, deleted: true };
}

export async function listInstagrams(db: DbOrTx, ownerId: number): Promise<{ items: InstagramOutput[] }> {
  const rows = await db
    .select()
    .from(instagrams)
    .where(eq(instagrams.ownerId, ownerId))
    .orderBy(asc(instagrams.id));
  return { items: rows.map(toInstagramOutput) };
}

export async function listInstagramEvents(db: DbOrTx, ownerId: number, id: number) {
  await getInstagramRow(db, ownerId, id);
  const rows = await db
    .select()
    .from(instagramEvents)
    .where(eq(instagramEvents.instagramId, id))
    .orderBy(asc(instagramEvents.id));
  return {
    items: rows.map((e) => ({
      id: e.id,
      type: e.type,
      message: e.message,
      reason: e.reason ?? null,
      created_at: formatInstant(e.createdAt),
    })),
  };
}
