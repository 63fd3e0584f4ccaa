/**
 * Connecting through Meta's OAuth (docs/accounts.md, "OAuth connect"):
 * `POST /instagrams/connect` stores a single-use state bound to the caller
 * (only its SHA-256), Meta sends the browser to our callback, the callback
 * exchanges the code, saves the account(s), subscribes them to webhooks and
 * redirects to the app's own URI, which must start with one of
 * APP_REDIRECT_URIS: nothing else is ever redirected to.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { and, eq, sql } from 'drizzle-orm';
import type { TokenCipher } from '../crypto/token-cipher.ts';
import type { Db, Tx } from '../db/client.ts';
import { instagrams, oauthStates, type InstagramRow, type LoginType } from '../db/schema.ts';
import { AppError, ERRORS, toAppError, type ErrorCode } from '../errors.ts';
import { formatInstant } from '../lib/time.ts';
import { describeError, type Logger } from '../logger.ts';
import { accountsFromCode, authorizeUrl, subscribeWebhooks, type MetaClient } from './meta.ts';
import { appendInstagramEvent, saveVerifiedAccount } from './service.ts';

const STATE_TTL_MS = 15 * 60_000;

const hashState = (state: string) => createHash('sha256').update(state).digest('hex');

/** The URI as a browser will follow it (WHATWG: dot segments resolved, host lower-cased); null if unparsable. */
function normalised(uri: string): string | null {
  try {
    return new URL(uri).href;
  } catch {
    return null;
  }
}

/**
 * `prefix` allows `uri` when uri starts with it at a boundary: `myapp://oauth`
 * allows `myapp://oauth/done` and `myapp://oauth?x`, never `myapp://oauthevil`.
 * Both are compared as the browser will follow them, so `/done/../../evil`
 * is judged where it lands, not where it starts.
 */
export function redirectAllowed(uri: string, prefixes: string[]): boolean {
  if (/[\s\p{Cc}\\]/u.test(uri)) return false;
  const target = normalised(uri);
  if (target === null) return false;
  return prefixes.some((raw) => {
    const p = normalised(raw) ?? raw;
    return (
      target === p || (target.startsWith(p) && (/[/?#]$/.test(p) || /^[/?#]/.test(target.slice(p.length))))
    );
  });
}

export async function startOAuth(
  tx: Tx,
  ownerId: number,
  input: { login_type: LoginType; redirect_uri: string },
  meta: MetaClient,
  now = new Date(),
): Promise<{ authorize_url: string; state: string; expires_at: string }> {
  if (!meta.apps[input.login_type])
    throw new AppError(
      'OAUTH_NOT_CONFIGURED',
      `Connecting with ${input.login_type} login is not configured on this server (${input.login_type === 'instagram' ? 'INSTAGRAM_APP_ID' : 'FACEBOOK_APP_ID'}).`,
    );
  if (!redirectAllowed(input.redirect_uri, meta.appRedirectUris))
    throw new AppError('VALIDATION_FAILED', undefined, {
      issues: [
        {
          path: 'redirect_uri',
          message:
            meta.appRedirectUris.length === 0
              ? 'no redirect_uri is allowed: the server has no APP_REDIRECT_URIS'
              : `redirect_uri must start with one of: ${meta.appRedirectUris.join(', ')}`,
        },
      ],
    });
  const state = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + STATE_TTL_MS);
  await tx.insert(oauthStates).values({
    id: hashState(state),
    ownerId,
    loginType: input.login_type,
    redirectUri: new URL(input.redirect_uri).href,
    expiresAt,
    createdAt: now,
  });
  return {
    authorize_url: authorizeUrl(meta, input.login_type, state),
    state,
    expires_at: formatInstant(expiresAt),
  };
}

/** Takes the state: one DELETE, so two callbacks with the same state cannot both proceed. */
async function takeState(db: Db, loginType: LoginType, state: string) {
  const [row] = await db
    .delete(oauthStates)
    .where(and(eq(oauthStates.id, hashState(state)), eq(oauthStates.loginType, loginType)))
    .returning();
  return row && row.expiresAt.getTime() > Date.now() ? row : undefined;
}

export async function deleteExpiredOAuthStates(db: Db): Promise<number> {
  const rows = await db.execute(sql`delete from oauth_states where expires_at < now() returning 1`);
  return rows.length;
}

function back(res: Response, redirectUri: string, params: Record<string, string>): void {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  res.setHeader('Cache-Control', 'no-store');
  res.redirect(302, url.href);
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function statePage(req: Request, res: Response): void {
  const error = ERRORS.OAUTH_STATE_INVALID;
  res
    .status(error.status)
    .setHeader('Cache-Control', 'no-store')
    .type('html')
    .send(
      `<!doctype html><meta charset="utf-8"><title>Sign-in link expired</title>` +
        `<h1>${escapeHtml(error.message)}</h1><p>Error ${error.number} (OAUTH_STATE_INVALID), request ${escapeHtml(res.locals.requestId)}.</p>`,
    );
}

/**
 * Subscribes a just-connected account to comment and message webhooks.
 * Publishing does not need them, so a failure is an event, not a failed connect.
 */
export async function subscribeConnected(
  deps: { db: Db; meta: MetaClient; logger: Logger },
  row: Pick<InstagramRow, 'id' | 'loginType' | 'igUserId'>,
  token: string,
): Promise<void> {
  try {
    await subscribeWebhooks(deps.meta, { loginType: row.loginType, igUserId: row.igUserId, token });
    await deps.db
      .update(instagrams)
      .set({ webhooksSubscribedAt: new Date() })
      .where(eq(instagrams.id, row.id));
  } catch (error) {
    // Its channels' comments are polled instead (server/channels/poll.ts).
    await deps.db.update(instagrams).set({ webhooksSubscribedAt: null }).where(eq(instagrams.id, row.id));
    deps.logger.warn({ instagramId: row.id, ...describeError(error) }, 'subscribed_apps failed');
    await appendInstagramEvent(deps.db, row.id, {
      type: 'refresh_failed',
      message: 'Could not subscribe the account to comment webhooks; connect it again to retry.',
    });
  }
}

export interface CallbackDeps {
  db: Db;
  meta: MetaClient;
  cipher: TokenCipher;
  logger: Logger;
}

/** `GET /api/v1/oauth/{login_type}/callback`: no token header, the state is the proof. */
export function oauthCallback(deps: CallbackDeps) {
  return async (req: Request, res: Response): Promise<void> => {
    const loginType = req.params.loginType as LoginType;
    const q = (name: string) => (typeof req.query[name] === 'string' ? req.query[name] : undefined);
    const state = q('state');
    const taken = state ? await takeState(deps.db, loginType, state) : undefined;
    if (!taken) return statePage(req, res);
    const fail = (code: ErrorCode, message: string) =>
      back(res, taken.redirectUri, { status: 'error', code, message });

    if (q('error'))
      return fail('OAUTH_DENIED', (q('error_description') ?? ERRORS.OAUTH_DENIED.message).slice(0, 300));
    // Meta appends `#_`; browsers drop fragments, but a pasted URL may keep it.
    const code = q('code')?.replace(/#_=?_?$/, '');
    if (!code) return fail('INSTAGRAM_LOGIN_FAILED', 'Meta sent no authorization code.');
    try {
      const accounts = await accountsFromCode(deps.meta, loginType, code);
      const rows = await deps.db.transaction(async (tx) => {
        const saved = [];
        for (const account of accounts)
          saved.push((await saveVerifiedAccount(tx, taken.ownerId, account, { cipher: deps.cipher })).row);
        return saved;
      });
      for (const [i, row] of rows.entries()) await subscribeConnected(deps, row, accounts[i]!.token);
      back(res, taken.redirectUri, { status: 'connected', instagram_id: rows.map((r) => r.id).join(',') });
    } catch (error) {
      const appError = toAppError(error);
      if (appError.code === 'INTERNAL') deps.logger.error(describeError(error), 'OAuth callback failed');
      fail(appError.code, appError.message);
    }
  };
}
