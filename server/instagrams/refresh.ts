/**
 * Keeping accounts alive: the profile read again and Instagram-Login tokens
 * refreshed before they expire (Meta refreshes only tokens at least 24 hours
 * old and not yet expired), daily by the `refresh_tokens` job and on
 * `POST /instagrams/{id}/refresh`. Meta is asked outside any transaction.
 */
import { isDeepStrictEqual } from 'node:util';
import { and, eq, ne } from 'drizzle-orm';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import type { Db } from '../db/client.ts';
import { instagrams, type InstagramRow } from '../db/schema.ts';
import { GraphError, GraphNetworkError } from '../graph/errors.ts';
import { formatInstant } from '../lib/time.ts';
import { describeError, type Logger } from '../logger.ts';
import { readProfile, refreshInstagramToken, type MetaClient } from './meta.ts';
import { suspicionOf } from './suspicion.ts';
import { emitWebhookEvent } from '../webhooks/outbox.ts';
import { appendInstagramEvent, suspectInstagram, toInstagramOutput } from './service.ts';
import { openAccountToken } from './token.ts';
import type { StateReason } from '../db/columns.ts';
import { handle } from '../jobs/job.ts';
import { refreshTokensJob } from '../jobs/refresh-tokens.ts';

const DAY_MS = 86_400_000;
/** Tokens expiring within this window are refreshed by the daily job. */
const REFRESH_WINDOW_MS = 30 * DAY_MS;
/** `instagram.token_expiring` goes out this long before the token dies. */
const EXPIRING_NOTICE_MS = 7 * DAY_MS;

const tokenExpired = (at: Date): StateReason => ({
  code: 'TOKEN_EXPIRED',
  message: `The token expired at ${formatInstant(at)} and could not be refreshed in time; connect the account again.`,
});

export interface RefreshDeps {
  db: Db;
  meta: MetaClient;
  cipher: TokenCipher;
  logger: Logger;
}

export interface RefreshOutcome {
  refreshed: boolean;
  /** The account became suspected. */
  suspected?: boolean;
  message: string;
}

const reasonText = (error: unknown) =>
  error instanceof GraphError || error instanceof GraphNetworkError ? error.message : 'unexpected error';

/**
 * Reads the profile into `info`, then (Instagram Login, when `refreshToken`)
 * asks Meta for a fresh token. Token, permission and restriction errors make
 * the account `suspected`; Meta declining a token younger than 24 hours is
 * only reported.
 */
export async function refreshAccount(
  deps: RefreshDeps,
  row: InstagramRow,
  opts: {
    refreshToken: boolean;
    /** Record `profile_synced` even when nothing changed (asked for by the user, not the daily job). */
    alwaysRecord?: boolean;
    now?: Date;
  },
): Promise<RefreshOutcome> {
  const now = opts.now ?? new Date();
  const { db } = deps;
  if (row.tokenExpiresAt && row.tokenExpiresAt.getTime() <= now.getTime()) {
    const reason = tokenExpired(row.tokenExpiresAt);
    await db.transaction((tx) => suspectInstagram(tx, row.id, reason, { now, ifToken: row.tokenCiphertext }));
    return { refreshed: false, suspected: true, message: reason.message };
  }
  const { token } = openAccountToken(deps, row);
  try {
    const profile = await readProfile(
      deps.meta,
      { loginType: row.loginType, igUserId: row.igUserId, token },
      now,
    );
    // The daily read records an event only when the profile changed: a year of "nothing new" helps no one.
    const { fetched_at: _was, ...before } = row.info;
    const { fetched_at: _now, ...after } = profile.info;
    const changed = !isDeepStrictEqual(before, after);
    await db.transaction(async (tx) => {
      await tx
        .update(instagrams)
        .set({ info: profile.info, username: profile.username || row.username, updatedAt: now })
        .where(eq(instagrams.id, row.id));
      if (changed || opts.alwaysRecord)
        await appendInstagramEvent(tx, row.id, {
          type: 'profile_synced',
          message: changed ? 'Profile read from Instagram; it changed.' : 'Profile read from Instagram.',
        });
    });
  } catch (error) {
    const reason = suspicionOf(error);
    if (reason) {
      await db.transaction((tx) =>
        suspectInstagram(tx, row.id, reason, { now, ifToken: row.tokenCiphertext }),
      );
      return { refreshed: false, suspected: true, message: reason.message };
    }
    deps.logger.warn({ instagramId: row.id, ...describeError(error) }, 'profile read failed');
    // Meta's trouble: the token is tried again tomorrow.
    const message = `Could not read the profile: ${reasonText(error)}`;
    await appendInstagramEvent(db, row.id, { type: 'refresh_failed', message });
    return { refreshed: false, message };
  }

  if (row.loginType === 'facebook')
    return {
      refreshed: false,
      message: row.tokenExpiresAt
        ? 'Profile synced. Facebook tokens cannot be refreshed: connect again before the token expires.'
        : 'Profile synced. The Page token does not expire: nothing to refresh.',
    };
  if (!opts.refreshToken) return { refreshed: false, message: 'Profile synced.' };

  try {
    const next = await refreshInstagramToken(deps.meta, token, now);
    const sealed = deps.cipher.seal(next.token);
    await db.transaction(async (tx) => {
      await tx
        .update(instagrams)
        .set({
          tokenKeyId: sealed.keyId,
          tokenCiphertext: sealed.ciphertext,
          tokenExpiresAt: next.expiresAt,
          tokenRefreshedAt: now,
          updatedAt: now,
        })
        // Another refresh or a reconnect may have stored a newer token meanwhile: keep that one.
        .where(and(eq(instagrams.id, row.id), eq(instagrams.tokenCiphertext, row.tokenCiphertext)));
      await appendInstagramEvent(tx, row.id, {
        type: 'token_refreshed',
        message: `Token refreshed; it now expires at ${formatInstant(next.expiresAt)}.`,
      });
    });
    return {
      refreshed: true,
      message: `Token refreshed; it now expires at ${formatInstant(next.expiresAt)}.`,
    };
  } catch (error) {
    const transient = !(error instanceof GraphError) || error.action !== 'permanent';
    const expiresSoon = row.tokenExpiresAt !== null && row.tokenExpiresAt.getTime() - now.getTime() < DAY_MS;
    const reason =
      suspicionOf(error) ??
      // Meta will not refresh it, and it dies before the next daily try.
      (!transient && expiresSoon ? tokenExpired(row.tokenExpiresAt!) : null);
    if (reason) {
      await db.transaction((tx) =>
        suspectInstagram(tx, row.id, reason, { now, ifToken: row.tokenCiphertext }),
      );
      return { refreshed: false, suspected: true, message: reason.message };
    }
    const message = `Meta did not refresh the token: ${reasonText(error)}`;
    await appendInstagramEvent(db, row.id, { type: 'refresh_failed', message });
    return { refreshed: false, message };
  }
}

/** Webhooks: `instagram.token_expiring` once per token, when it has 7 days or less left and was not refreshed. */
async function warnIfExpiring(deps: RefreshDeps, id: number, now: Date): Promise<void> {
  const [row] = await deps.db.select().from(instagrams).where(eq(instagrams.id, id));
  const expires = row?.tokenExpiresAt;
  if (!row || row.state === 'suspected' || !expires || expires.getTime() - now.getTime() > EXPIRING_NOTICE_MS)
    return;
  await emitWebhookEvent(
    deps.db,
    {
      ownerId: row.ownerId,
      type: 'instagram.token_expiring',
      // One per token: the daily job finds it again tomorrow, the unique key keeps it to one delivery.
      eventId: `msg_token_expiring_${row.id}_${Math.floor(expires.getTime() / 1000)}`,
      data: toInstagramOutput(row),
    },
    now,
  );
}

/**
 * The daily `refresh_tokens` job: every account not suspected gets its
 * profile read; Instagram-Login tokens at least 24 hours old that expire
 * within 30 days are refreshed; expired ones make the account suspected.
 */
export async function refreshDueAccounts(
  deps: RefreshDeps,
  now = new Date(),
): Promise<{ accounts: number; refreshed: number; suspected: number }> {
  // A suspected account waits for a new token from its user: Meta would refuse this one anyway.
  const rows = await deps.db.select().from(instagrams).where(ne(instagrams.state, 'suspected'));
  let refreshed = 0;
  let suspected = 0;
  for (const row of rows) {
    const due =
      row.loginType === 'instagram' &&
      row.tokenRefreshedAt.getTime() <= now.getTime() - DAY_MS &&
      row.tokenExpiresAt !== null &&
      row.tokenExpiresAt.getTime() <= now.getTime() + REFRESH_WINDOW_MS;
    try {
      const outcome = await refreshAccount(deps, row, { refreshToken: due, now });
      if (outcome.refreshed) refreshed++;
      if (outcome.suspected) suspected++;
      else if (!outcome.refreshed) await warnIfExpiring(deps, row.id, now);
    } catch (error) {
      deps.logger.error({ instagramId: row.id, ...describeError(error) }, 'refreshing an account failed');
    }
  }
  return { accounts: rows.length, refreshed, suspected };
}

export const refreshTokensHandler = handle(refreshTokensJob, async (deps: RefreshDeps) => {
  const outcome = await refreshDueAccounts(deps);
  deps.logger.info(outcome, 'refreshed Instagram accounts');
});
