/**
 * What we ask Meta about accounts: who a token is, profiles, long-lived and
 * refreshed tokens, the OAuth code exchanges of both login types, and the
 * webhook subscription. Facts and shapes: docs/graph-api.md ("Connecting an
 * account"). Tokens go in an Authorization header or a form body, except in
 * the exchanges Meta documents as GETs with query parameters; nothing of ours
 * logs outgoing URLs.
 */
import type { Env } from '../env.ts';
import { AppError } from '../errors.ts';
import { GraphError, GraphNetworkError } from '../graph/errors.ts';
import { createGraphClient, type GraphClient } from '../graph/graph-client.ts';
import { scrubSecrets } from '../logger.ts';
import type { LoginType } from '../db/schema.ts';
import type { InstagramInfo } from '../db/columns.ts';

export interface MetaHosts {
  graph: string;
  instagramGraph: string;
  instagramAuth: string;
  instagramToken: string;
  facebookAuth: string;
}

/** Meta as this server talks to it: the hosts (real, fake or sandbox), our apps and where OAuth returns. */
export interface MetaClient {
  hosts: MetaHosts;
  /** The Graph client of each login type's host. */
  graph: Record<LoginType, GraphClient>;
  apps: Record<LoginType, { id: string; secret: string } | null>;
  /** PUBLIC_URL: our callback is `${publicUrl}/api/v1/oauth/{login_type}/callback`. */
  publicUrl: string;
  appRedirectUris: string[];
  timeoutMs: number;
}

export function metaHostsFromEnv(env: Env): MetaHosts {
  return {
    graph: env.GRAPH_API_URL,
    instagramGraph: env.INSTAGRAM_GRAPH_URL,
    instagramAuth: env.INSTAGRAM_AUTH_URL,
    instagramToken: env.INSTAGRAM_TOKEN_URL,
    facebookAuth: env.FACEBOOK_AUTH_URL,
  };
}

/**
 * `hosts` and `apps` replace the environment's when GRAPH_API_URL=sandbox
 * (main.ts starts the simulation, whose apps are its own).
 */
export function createMeta(
  env: Env,
  opts: { hosts?: MetaHosts; apps?: MetaClient['apps']; timeoutMs?: number } = {},
): MetaClient {
  const hosts = opts.hosts ?? metaHostsFromEnv(env);
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const app = (id: string | undefined, secret: string | undefined) => (id && secret ? { id, secret } : null);
  return {
    hosts,
    graph: {
      facebook: createGraphClient({ baseUrl: hosts.graph, timeoutMs }),
      instagram: createGraphClient({ baseUrl: hosts.instagramGraph, timeoutMs }),
    },
    apps: opts.apps ?? {
      instagram: app(env.INSTAGRAM_APP_ID, env.INSTAGRAM_APP_SECRET),
      facebook: app(env.FACEBOOK_APP_ID, env.FACEBOOK_APP_SECRET),
    },
    publicUrl: env.PUBLIC_URL,
    appRedirectUris: env.APP_REDIRECT_URIS,
    timeoutMs,
  };
}

/** Instagram-Login tokens start with IG, Facebook ones (EAA…) do not. */
export function loginTypeOf(token: string): LoginType {
  return token.startsWith('IG') ? 'instagram' : 'facebook';
}

/** A token Meta accepted, for one professional account, with what Meta says about it. */
export interface VerifiedAccount {
  loginType: LoginType;
  igUserId: string;
  username: string;
  info: InstagramInfo;
  /** What to store: long-lived (Instagram) or a Page token (Facebook). */
  token: string;
  /** Null for a Page token, which does not expire. */
  expiresAt: Date | null;
}

const IG_ME_FIELDS =
  'user_id,username,name,account_type,profile_picture_url,followers_count,follows_count,media_count';
const FB_PROFILE_FIELDS =
  'id,username,name,biography,website,profile_picture_url,followers_count,follows_count,media_count';
const DAY_MS = 86_400_000;

/** Meta's answers sometimes come wrapped in `data: [...]`. */
function unwrap(body: Record<string, unknown>): Record<string, unknown> {
  return Array.isArray(body.data) && body.data.length > 0 && typeof body.data[0] === 'object'
    ? (body.data[0] as Record<string, unknown>)
    : body;
}

/** Graph ids come as strings, sometimes as numbers. */
const idOf = (v: unknown) =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;
const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function infoOf(body: Record<string, unknown>, now: Date): InstagramInfo {
  const accountType = str(body.account_type);
  return {
    username: str(body.username) ?? '',
    full_name: str(body.name),
    biography: str(body.biography),
    profile_pic_url: str(body.profile_picture_url),
    external_url: str(body.website),
    follower_count: num(body.followers_count),
    following_count: num(body.follows_count),
    media_count: num(body.media_count),
    // Facebook Login reaches only professional accounts linked to a Page; the Instagram host says which kind.
    is_business: accountType ? accountType.toUpperCase() === 'BUSINESS' : true,
    account_type: accountType ? accountType.toUpperCase() : null,
    fetched_at: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  };
}

/**
 * Meta's refusal as our error: a token or permission problem is the user's
 * (INSTAGRAM_LOGIN_FAILED with Meta's reason), anything else is Meta's
 * trouble (GRAPH_REQUEST_FAILED, worth a retry).
 */
export function connectError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof GraphError && error.action === 'permanent')
    return new AppError('INSTAGRAM_LOGIN_FAILED', `Instagram login failed: ${error.message}`, {
      cause: error,
    });
  if (error instanceof GraphError || error instanceof GraphNetworkError)
    return new AppError('GRAPH_REQUEST_FAILED', undefined, { cause: error });
  throw error;
}

/** The profile of an account, through the host of its login type. */
export async function readProfile(
  meta: MetaClient,
  account: { loginType: LoginType; igUserId: string; token: string },
  now = new Date(),
): Promise<{ igUserId: string; username: string; info: InstagramInfo }> {
  const body =
    account.loginType === 'instagram'
      ? unwrap(await meta.graph.instagram.request('GET', 'me', account.token, { fields: IG_ME_FIELDS }))
      : await meta.graph.facebook.request('GET', account.igUserId, account.token, {
          fields: FB_PROFILE_FIELDS,
        });
  // The account id is `user_id` on the Instagram host (`id` there is app-scoped).
  const igUserId = idOf(body.user_id) ?? idOf(body.id) ?? account.igUserId;
  const info = infoOf(body, now);
  return { igUserId, username: info.username, info };
}

/** Exchanges a short-lived Instagram token; a token that is already long-lived is kept as it is. */
async function longLivedInstagram(
  meta: MetaClient,
  token: string,
  now: Date,
): Promise<{ token: string; expiresAt: Date }> {
  const app = meta.apps.instagram;
  // Without our app's secret we cannot exchange; a token we did not exchange lives at most 60 days.
  const assumed = { token, expiresAt: new Date(now.getTime() + 60 * DAY_MS) };
  if (!app) return assumed;
  try {
    const body = await meta.graph.instagram.request('GET', 'access_token', token, {
      grant_type: 'ig_exchange_token',
      client_secret: app.secret,
    });
    const next = str(body.access_token);
    const expiresIn = num(body.expires_in);
    if (!next) return assumed;
    return { token: next, expiresAt: new Date(now.getTime() + (expiresIn ?? 60 * 86_400) * 1000) };
  } catch (error) {
    // Meta exchanges only short-lived tokens; a refusal other than a token error means "already long-lived".
    if (error instanceof GraphError && error.code !== 190 && error.action === 'permanent') return assumed;
    throw error;
  }
}

/** A long-lived Facebook user token; unchanged when our app is not configured or Meta declines. */
async function longLivedFacebookUser(meta: MetaClient, token: string): Promise<string> {
  const app = meta.apps.facebook;
  if (!app) return token;
  try {
    const body = await meta.graph.facebook.request('GET', 'oauth/access_token', token, {
      grant_type: 'fb_exchange_token',
      client_id: app.id,
      client_secret: app.secret,
      fb_exchange_token: token,
    });
    return str(body.access_token) ?? token;
  } catch (error) {
    if (error instanceof GraphError && error.code !== 190 && error.action === 'permanent') return token;
    throw error;
  }
}

interface LinkedAccount {
  igUserId: string;
  username: string;
  pageToken: string;
}

/** The Instagram accounts a Facebook user token reaches, each with its Page's token. */
async function linkedAccounts(meta: MetaClient, userToken: string): Promise<LinkedAccount[] | null> {
  let body: Record<string, unknown>;
  try {
    body = await meta.graph.facebook.request('GET', 'me/accounts', userToken, {
      fields: 'id,name,access_token,instagram_business_account{id,username}',
    });
  } catch (error) {
    // A Page token has no /me/accounts: the caller uses the token itself.
    if (error instanceof GraphError && error.code === 100) return null;
    throw error;
  }
  const pages = Array.isArray(body.data) ? (body.data as Record<string, unknown>[]) : [];
  return pages.flatMap((page) => {
    const ig = page.instagram_business_account as { id?: unknown; username?: unknown } | undefined;
    const pageToken = str(page.access_token);
    const igUserId = idOf(ig?.id);
    if (!igUserId || !pageToken) return [];
    return [{ igUserId, username: str(ig?.username) ?? '', pageToken }];
  });
}

/**
 * Checks a token the app sent (`POST /instagrams/`) and turns it into what we
 * keep: Instagram tokens long-lived, Facebook tokens the Page token of the
 * chosen account. `userId` picks among several accounts a Facebook token reaches.
 */
export async function verifyToken(
  meta: MetaClient,
  input: { token: string; userId?: string | undefined },
  now = new Date(),
): Promise<VerifiedAccount> {
  try {
    if (loginTypeOf(input.token) === 'instagram') {
      const profile = await readProfile(
        meta,
        { loginType: 'instagram', igUserId: 'me', token: input.token },
        now,
      );
      if (input.userId && input.userId !== profile.igUserId)
        throw new AppError(
          'INSTAGRAM_LOGIN_FAILED',
          `The token is for Instagram account ${profile.igUserId} (@${profile.username}), not ${input.userId}.`,
        );
      const long = await longLivedInstagram(meta, input.token, now);
      return { loginType: 'instagram', ...profile, ...long };
    }
    const userToken = await longLivedFacebookUser(meta, input.token);
    const linked = await linkedAccounts(meta, userToken);
    let chosen: { igUserId: string; token: string };
    if (linked === null) {
      if (!input.userId)
        throw new AppError('VALIDATION_FAILED', undefined, {
          issues: [{ path: 'user_id', message: 'user_id is required with a Page token' }],
        });
      chosen = { igUserId: input.userId, token: input.token };
    } else {
      const match = input.userId ? linked.find((a) => a.igUserId === input.userId) : undefined;
      if (input.userId && !match)
        throw new AppError(
          'INSTAGRAM_LOGIN_FAILED',
          `The token does not reach Instagram account ${input.userId}.`,
        );
      if (!match && linked.length === 0)
        throw new AppError(
          'INSTAGRAM_LOGIN_FAILED',
          'No Instagram professional account is linked to the Facebook Pages this token reaches.',
        );
      if (!match && linked.length > 1)
        throw new AppError(
          'VALIDATION_FAILED',
          'The token reaches several Instagram accounts; say which in user_id.',
          {
            issues: [
              {
                path: 'user_id',
                message: `choose one of: ${linked.map((a) => `${a.igUserId} (@${a.username})`).join(', ')}`,
              },
            ],
          },
        );
      const account = match ?? linked[0]!;
      chosen = { igUserId: account.igUserId, token: account.pageToken };
    }
    const profile = await readProfile(meta, { loginType: 'facebook', ...chosen }, now);
    // A Page token derived from a long-lived user token does not expire.
    return { loginType: 'facebook', ...profile, token: chosen.token, expiresAt: null };
  } catch (error) {
    throw connectError(error);
  }
}

/** Asks Meta for a fresh Instagram-Login token (only for tokens at least 24 hours old and unexpired). */
export async function refreshInstagramToken(
  meta: MetaClient,
  token: string,
  now = new Date(),
): Promise<{ token: string; expiresAt: Date }> {
  const body = await meta.graph.instagram.request('GET', 'refresh_access_token', token, {
    grant_type: 'ig_refresh_token',
  });
  const next = str(body.access_token);
  if (!next) throw new GraphNetworkError('refresh answered without a token');
  return { token: next, expiresAt: new Date(now.getTime() + (num(body.expires_in) ?? 60 * 86_400) * 1000) };
}

/** Subscribes our app to the account's comments and messages webhooks (channels need them). */
export async function subscribeWebhooks(
  meta: MetaClient,
  account: { loginType: LoginType; igUserId: string; token: string },
): Promise<void> {
  await meta.graph[account.loginType].request('POST', `${account.igUserId}/subscribed_apps`, account.token, {
    subscribed_fields: 'comments,messages',
  });
}

// ---- OAuth code exchanges ----------------------------------------------------

export function callbackUrl(meta: MetaClient, loginType: LoginType): string {
  return `${meta.publicUrl}/api/v1/oauth/${loginType}/callback`;
}

export const SCOPES: Record<LoginType, string> = {
  instagram:
    'instagram_business_basic,instagram_business_content_publish,instagram_business_manage_comments,instagram_business_manage_messages',
  facebook:
    'instagram_basic,instagram_content_publish,instagram_manage_comments,pages_show_list,pages_read_engagement,business_management',
};

export function authorizeUrl(meta: MetaClient, loginType: LoginType, state: string): string {
  const app = meta.apps[loginType]!;
  const url = new URL(loginType === 'instagram' ? meta.hosts.instagramAuth : meta.hosts.facebookAuth);
  url.searchParams.set('client_id', app.id);
  url.searchParams.set('redirect_uri', callbackUrl(meta, loginType));
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', SCOPES[loginType]);
  url.searchParams.set('state', state);
  return url.href;
}

/** api.instagram.com answers `{error_type, code, error_message}` on failure, not Graph's shape. */
async function instagramCodeForToken(meta: MetaClient, code: string): Promise<string> {
  const app = meta.apps.instagram!;
  let response: Response;
  let text: string;
  try {
    response = await fetch(meta.hosts.instagramToken, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        client_id: app.id,
        client_secret: app.secret,
        grant_type: 'authorization_code',
        redirect_uri: callbackUrl(meta, 'instagram'),
        code,
      }).toString(),
      signal: AbortSignal.timeout(meta.timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    throw new GraphNetworkError('code exchange: no answer', { cause: error });
  }
  let body: Record<string, unknown> = {};
  try {
    body = unwrap(JSON.parse(text) as Record<string, unknown>);
  } catch {
    // Not JSON: handled below.
  }
  const token = str(body.access_token);
  if (response.ok && token) return token;
  if (response.status >= 500) throw new GraphNetworkError(`code exchange: HTTP ${response.status}`);
  const reason = str(body.error_message) ?? str((body.error as { message?: unknown } | undefined)?.message);
  throw new AppError(
    'INSTAGRAM_LOGIN_FAILED',
    `Instagram refused the sign-in: ${scrubSecrets(reason ?? `HTTP ${response.status}`).slice(0, 300)}`,
  );
}

/** The OAuth callback's exchange: every account the user granted, verified, with the token to keep. */
export async function accountsFromCode(
  meta: MetaClient,
  loginType: LoginType,
  code: string,
): Promise<VerifiedAccount[]> {
  const now = new Date();
  try {
    if (loginType === 'instagram') {
      // user_id in this answer may exceed 2^53; the account id comes from /me instead.
      const short = await instagramCodeForToken(meta, code);
      const long = await longLivedInstagram(meta, short, now);
      const profile = await readProfile(meta, { loginType, igUserId: 'me', token: long.token }, now);
      return [{ loginType, ...profile, ...long }];
    }
    const app = meta.apps.facebook!;
    const body = await meta.graph.facebook.request('GET', 'oauth/access_token', '', {
      client_id: app.id,
      client_secret: app.secret,
      redirect_uri: callbackUrl(meta, 'facebook'),
      code,
    });
    const userToken = str(body.access_token);
    if (!userToken) throw new GraphNetworkError('code exchange answered without a token');
    const linked = (await linkedAccounts(meta, await longLivedFacebookUser(meta, userToken))) ?? [];
    if (linked.length === 0)
      throw new AppError(
        'INSTAGRAM_LOGIN_FAILED',
        'No Instagram professional account is linked to the Facebook Pages you granted.',
      );
    const accounts: VerifiedAccount[] = [];
    for (const a of linked) {
      const profile = await readProfile(meta, { loginType, igUserId: a.igUserId, token: a.pageToken }, now);
      accounts.push({ loginType, ...profile, token: a.pageToken, expiresAt: null });
    }
    return accounts;
  } catch (error) {
    throw connectError(error);
  }
}
