import { createHmac, randomInt } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ContainerStatus } from './graph-client.ts';

/**
 * A stand-in for Meta's Graph API publishing endpoints, for tests, the
 * benchmarks and sandbox mode. It behaves like the real one where our
 * publisher depends on it: containers with status codes, videos that stay
 * IN_PROGRESS for a few reads, a rolling 24-hour quota, Meta-shaped errors,
 * and — unlike a careful Meta — it happily publishes a container twice, so a
 * duplicate publish is visible to tests.
 */

export type FakeEndpoint =
  | 'create'
  | 'status'
  | 'publish'
  | 'media'
  | 'recent'
  | 'limit'
  // Accounts: who a token is, profiles, tokens, OAuth, webhooks subscription.
  | 'me'
  | 'me_accounts'
  | 'profile'
  | 'exchange'
  | 'refresh'
  | 'oauth_token'
  | 'ig_code'
  | 'authorize'
  | 'subscribe'
  // Comments on media, replies, hiding, private replies.
  | 'comment'
  | 'comments'
  | 'replies'
  | 'reply'
  | 'hide'
  | 'delete_comment'
  | 'messages';

/** The Meta host a request went to. */
export type FakeHost = 'facebook' | 'instagram' | 'instagram_api' | 'instagram_www' | 'facebook_www';

/** A professional account Meta knows, with the Facebook user and Page it is linked to. */
export interface FakeAccount {
  igUserId: string;
  username: string;
  name: string;
  biography: string;
  website: string;
  profilePictureUrl: string;
  followersCount: number;
  followsCount: number;
  mediaCount: number;
  accountType: 'BUSINESS' | 'MEDIA_CREATOR';
  fbUserId: string;
  pageId: string;
}

type TokenKind = 'ig_short' | 'ig_long' | 'fb_user' | 'fb_long' | 'fb_page';

/** What a token the fake issued says; Meta's tokens are opaque, ours carry this so any process can read them. */
interface TokenFacts {
  kind: TokenKind;
  /** ig-user-id for Instagram and Page tokens, the Facebook user id for user tokens. */
  subject: string;
  issuedAt: number;
  expiresAt: number | null;
}

const IG_FIELDS = new Set([
  'id',
  'user_id',
  'username',
  'name',
  'account_type',
  'profile_picture_url',
  'followers_count',
  'follows_count',
  'media_count',
]);
const FB_PROFILE_FIELDS = new Set([
  'id',
  'username',
  'name',
  'biography',
  'website',
  'profile_picture_url',
  'followers_count',
  'follows_count',
  'media_count',
]);
const HOUR_MS = 3_600_000;
const LONG_LIVED_S = 5_184_000;

export interface GraphErrorBody {
  status: number;
  code: number;
  subcode?: number;
  message?: string;
  transient?: boolean;
}

type Fault = GraphErrorBody | 'network' | 'lose_answer';

interface Container {
  id: string;
  igUserId: string;
  params: Record<string, string>;
  createdAt: number;
  reads: number;
  readsUntilFinished: number;
  statusCode: ContainerStatus;
  errorSubcode?: number;
}

export interface FakeMedia {
  id: string;
  igUserId: string;
  containerId: string;
  caption: string | null;
  timestamp: number;
  permalink: string;
}

/** A comment on a media (top level, or a reply when `parentId` is set). */
export interface FakeComment {
  id: string;
  mediaId: string;
  text: string;
  username: string;
  /** The commenter's id: the account's own ig-user-id for its own comments. */
  fromId: string;
  timestamp: number;
  parentId: string | null;
  hidden: boolean;
}

/** How Meta's rate limits are simulated: calls per rolling hour, reported in its usage headers. */
export interface FakeRateLimits {
  /** X-App-Usage: calls of the whole app; default 1,000,000. */
  appCallsPerHour: number;
  /** X-Business-Use-Case-Usage: calls for one account; default 4,800. */
  accountCallsPerHour: number;
}

export interface FakeRequest {
  endpoint: FakeEndpoint | 'unknown';
  host: FakeHost;
  method: string;
  path: string;
  /** Parameters without the access token. */
  params: Record<string, string>;
  /** The token that came with the call (so tests can check which one was used). */
  token: string | null;
  at: number;
}

export interface FakeGraphOptions {
  /** Delay before each answer, ms; default 0. */
  latencyMs?: number;
  /** Status reads a video container stays IN_PROGRESS for; default 2. */
  videoReadsUntilFinished?: number;
  /** Posts per rolling 24 hours per account; default 25. */
  quotaTotal?: number;
  /** Graph version in paths; default v25.0. */
  version?: string;
  /**
   * GRAPH_API_URL=sandbox: one ready account, any app id and secret
   * accepted, and a token the fake did not issue taken as that account's.
   */
  sandbox?: boolean;
}

export interface FakeApp {
  id: string;
  secret: string;
}

const DAY_MS = 86_400_000;

function graphTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+0000');
}

export class FakeGraph {
  latencyMs: number;
  /**
   * Media URLs the simulation really downloads, as Meta's servers do (the
   * sandbox's uploads, tests of them); others only have to be https.
   * A download that fails or is not the right type is Meta's 9004/2207052.
   */
  fetchMedia: ((url: string) => boolean) | null = null;
  /** The media URLs downloaded, in order. */
  readonly mediaFetches: string[] = [];
  videoReadsUntilFinished: number;
  quotaTotal: number;
  readonly version: string;
  readonly containers = new Map<string, Container>();
  readonly media: FakeMedia[] = [];
  readonly requests: FakeRequest[] = [];
  /** Tokens Meta would answer with code 190. */
  readonly invalidTokens = new Set<string>();
  /** Extra quota already used per account (on top of our publishes). */
  readonly quotaUsedElsewhere = new Map<string, number>();
  /** Professional accounts by ig-user-id. */
  readonly accounts = new Map<string, FakeAccount>();
  /** Every token of an account issued before this instant is revoked (the user removed the app). */
  readonly revokedBefore = new Map<string, number>();
  /** Comments on each media, oldest first, replies included. */
  readonly comments = new Map<string, FakeComment[]>();
  /** Private replies sent, by the comment they answer (Meta allows one each). */
  readonly privateReplies = new Map<string, { text: string; messageId: string; at: number }>();
  rateLimits: FakeRateLimits = { appCallsPerHour: 1_000_000, accountCallsPerHour: 4_800 };
  /** Calls in the last hour: the app's, and each account's (the usage headers are made of these). */
  private calls: { app: number[]; accounts: Map<string, number[]> } = { app: [], accounts: new Map() };
  /** `subscribed_apps` calls: fields per account. */
  readonly subscriptions = new Map<string, string>();
  /** Our app at Meta, per login type. */
  readonly apps: { instagram: FakeApp; facebook: FakeApp } = {
    instagram: { id: '990000000000001', secret: 'fake-instagram-app-secret' },
    facebook: { id: '990000000000002', secret: 'fake-facebook-app-secret' },
  };
  /** What the user does on the authorize page, and as whom (default: the first account). */
  authorize: { decision: 'approve' | 'deny'; igUserId?: string } = { decision: 'approve' };
  /** Answer the Instagram code exchange wrapped in `data: [...]`, as one of Meta's pages shows it. */
  wrapCodeAnswer = false;
  /** Meta's clock (token ages and expiry); tests move it. */
  now: () => number = Date.now;
  readonly sandbox: boolean;
  private codes = new Map<
    string,
    { kind: 'instagram' | 'facebook'; subject: string; redirectUri: string; at: number; used: boolean }
  >();
  private faults: { endpoint: FakeEndpoint; fault: Fault; times: number; skip: number }[] = [];
  private server: http.Server | undefined;
  private nextId = 17_900_000_000_000_000n + BigInt(randomInt(1_000_000));
  url = '';

  constructor(opts: FakeGraphOptions = {}) {
    this.latencyMs = opts.latencyMs ?? 0;
    this.videoReadsUntilFinished = opts.videoReadsUntilFinished ?? 2;
    this.quotaTotal = opts.quotaTotal ?? 25;
    this.version = opts.version ?? 'v25.0';
    this.sandbox = opts.sandbox ?? false;
    if (this.sandbox)
      this.addAccount({
        igUserId: '17841400000000001',
        username: 'sandbox_creator',
        name: 'Sandbox Creator',
      });
  }

  /** The base URLs of each Meta host, as the server's environment variables. */
  urls(): Record<
    | 'GRAPH_API_URL'
    | 'INSTAGRAM_GRAPH_URL'
    | 'INSTAGRAM_AUTH_URL'
    | 'INSTAGRAM_TOKEN_URL'
    | 'FACEBOOK_AUTH_URL',
    string
  > {
    const origin = this.url.replace(/\/v\d+\.\d+$/, '');
    return {
      GRAPH_API_URL: this.url,
      INSTAGRAM_GRAPH_URL: `${origin}/ig/${this.version}`,
      INSTAGRAM_AUTH_URL: `${origin}/ig-www/oauth/authorize`,
      INSTAGRAM_TOKEN_URL: `${origin}/ig-api/oauth/access_token`,
      FACEBOOK_AUTH_URL: `${origin}/fb-www/${this.version}/dialog/oauth`,
    };
  }

  /** The hosts plus our app's ids and secrets: the environment a server needs to talk to this fake. */
  env(): Record<string, string> {
    return {
      ...this.urls(),
      INSTAGRAM_APP_ID: this.apps.instagram.id,
      INSTAGRAM_APP_SECRET: this.apps.instagram.secret,
      FACEBOOK_APP_ID: this.apps.facebook.id,
      FACEBOOK_APP_SECRET: this.apps.facebook.secret,
    };
  }

  /** Adds a professional account (linked to a Facebook user and Page) and returns it. */
  addAccount(over: Partial<FakeAccount> = {}): FakeAccount {
    const n = this.accounts.size + 1;
    const account: FakeAccount = {
      igUserId: this.id(),
      username: `creator_${n}`,
      name: `Creator ${n}`,
      biography: 'Photos of things',
      website: 'https://example.com/',
      profilePictureUrl: `https://scontent.example.com/p${n}.jpg`,
      followersCount: 100 * n,
      followsCount: 10 * n,
      mediaCount: n,
      accountType: 'BUSINESS',
      fbUserId: this.id(),
      pageId: this.id(),
      ...over,
    };
    this.accounts.set(account.igUserId, account);
    return account;
  }

  /** A token Meta would have issued for the account, `issuedAt` ago or now. */
  tokenFor(
    igUserId: string,
    kind: TokenKind,
    opts: { issuedAt?: number; expiresInS?: number | null } = {},
  ): string {
    const account = this.accounts.get(igUserId);
    if (!account) throw new Error(`no fake account ${igUserId}`);
    const issuedAt = opts.issuedAt ?? this.now();
    const lifetime =
      opts.expiresInS !== undefined
        ? opts.expiresInS
        : kind === 'ig_short' || kind === 'fb_user'
          ? 3600
          : kind === 'fb_page'
            ? null
            : LONG_LIVED_S;
    return this.issue({
      kind,
      subject: kind === 'fb_user' || kind === 'fb_long' ? account.fbUserId : igUserId,
      issuedAt,
      expiresAt: lifetime === null ? null : issuedAt + lifetime * 1000,
    });
  }

  /** The user removes our app: every token of the account issued so far stops working. */
  revokeAccount(igUserId: string): void {
    this.revokedBefore.set(igUserId, this.now() + 1);
  }

  private issue(facts: TokenFacts): string {
    const body = Buffer.from(
      JSON.stringify({
        k: facts.kind,
        s: facts.subject,
        i: facts.issuedAt,
        e: facts.expiresAt,
        n: this.id(),
      }),
    ).toString('base64url');
    return `${facts.kind.startsWith('ig') ? 'IGAA' : 'EAA'}${body}`;
  }

  /** Meta's answer with a fresh long-lived (60-day) token. */
  private longLived(kind: 'ig_long' | 'fb_long', subject: string, now: number) {
    const expiresAt = now + LONG_LIVED_S * 1000;
    return {
      access_token: this.issue({ kind, subject, issuedAt: now, expiresAt }),
      token_type: 'bearer',
      expires_in: LONG_LIVED_S,
    };
  }

  private read(token: string): TokenFacts | null {
    const body = token.startsWith('IGAA') ? token.slice(4) : token.startsWith('EAA') ? token.slice(3) : null;
    if (body !== null) {
      try {
        const v = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
        if (typeof v.k === 'string' && typeof v.s === 'string' && typeof v.i === 'number')
          return {
            kind: v.k as TokenKind,
            subject: v.s,
            issuedAt: v.i,
            expiresAt: typeof v.e === 'number' ? v.e : null,
          };
      } catch {
        // Not one of ours.
      }
    }
    if (!this.sandbox) return null;
    // Sandbox: any other token belongs to the sandbox account.
    const first = [...this.accounts.values()][0]!;
    return token.startsWith('IG')
      ? { kind: 'ig_long', subject: first.igUserId, issuedAt: 0, expiresAt: null }
      : { kind: 'fb_long', subject: first.fbUserId, issuedAt: 0, expiresAt: null };
  }

  /** The ig-user-ids a token may act for. */
  private reach(facts: TokenFacts): string[] {
    if (facts.kind === 'fb_user' || facts.kind === 'fb_long')
      return [...this.accounts.values()].filter((a) => a.fbUserId === facts.subject).map((a) => a.igUserId);
    return [facts.subject];
  }

  async start(port = 0): Promise<string> {
    this.server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    const address = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${address.port}/${this.version}`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  /** The next `times` calls to `endpoint` fail with `fault`, after `skip` calls that go through. */
  failNext(endpoint: FakeEndpoint, fault: Fault, times = 1, skip = 0): void {
    this.faults.push({ endpoint, fault, times, skip });
  }

  /** Media published from each container: more than one means a duplicate post. */
  publishCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const m of this.media) counts.set(m.containerId, (counts.get(m.containerId) ?? 0) + 1);
    return counts;
  }

  /** Media with exactly this caption, to count how often one post went out. */
  mediaWithCaption(caption: string): FakeMedia[] {
    return this.media.filter((m) => m.caption === caption);
  }

  /** A media already on the account (posted some other way), for comments to land on. */
  addMedia(igUserId: string, caption: string | null = null): FakeMedia {
    const media: FakeMedia = {
      id: this.id(),
      igUserId,
      containerId: this.id(),
      caption,
      timestamp: this.now(),
      permalink: `https://www.instagram.com/p/FAKE${randomInt(1e9).toString(36)}/`,
    };
    this.media.push(media);
    return media;
  }

  /** Someone comments on a media (`fromId` the account's own id for its own comment). */
  addComment(
    mediaId: string,
    over: Partial<Omit<FakeComment, 'id' | 'mediaId'>> & { text: string },
  ): FakeComment {
    const n = randomInt(1e6);
    const comment: FakeComment = {
      id: this.id(),
      mediaId,
      username: `fan_${n}`,
      fromId: this.id(),
      timestamp: this.now(),
      parentId: null,
      hidden: false,
      ...over,
    };
    const list = this.comments.get(mediaId) ?? [];
    list.push(comment);
    this.comments.set(mediaId, list);
    return comment;
  }

  /** Every comment and reply, by id. */
  comment(id: string): FakeComment | undefined {
    for (const list of this.comments.values()) {
      const found = list.find((c) => c.id === id);
      if (found) return found;
    }
    return undefined;
  }

  /** Replies to a comment, oldest first. */
  repliesTo(commentId: string): FakeComment[] {
    const parent = this.comment(commentId);
    return parent ? (this.comments.get(parent.mediaId) ?? []).filter((c) => c.parentId === commentId) : [];
  }

  /**
   * The delivery Meta would POST to our webhook for these comments (one
   * entry per account, one `comments` change each), signed with our app's
   * secret as `X-Hub-Signature-256`.
   */
  webhookDelivery(
    comments: FakeComment[],
    opts: { app?: 'instagram' | 'facebook'; time?: number } = {},
  ): { body: string; signature: string } {
    const byAccount = new Map<string, FakeComment[]>();
    for (const c of comments) {
      const igUserId = this.media.find((m) => m.id === c.mediaId)?.igUserId;
      if (!igUserId) throw new Error(`comment ${c.id} is on no media of the fake`);
      byAccount.set(igUserId, [...(byAccount.get(igUserId) ?? []), c]);
    }
    const entry = [...byAccount].map(([igUserId, list]) => ({
      id: igUserId,
      time: Math.floor((opts.time ?? this.now()) / 1000),
      changes: list.map((c) => ({
        field: 'comments',
        value: {
          id: c.id,
          text: c.text,
          ...(c.parentId ? { parent_id: c.parentId } : {}),
          from: {
            id: c.fromId,
            username: c.username,
            ...(c.fromId === igUserId ? { self_ig_scoped_id: c.fromId } : {}),
          },
          media: { id: c.mediaId, media_product_type: 'FEED' },
        },
      })),
    }));
    const body = JSON.stringify({ object: 'instagram', entry });
    return { body, signature: this.sign(body, opts.app ?? 'instagram') };
  }

  /** `sha256=<hex HMAC-SHA256(app secret, body)>`, as Meta signs its deliveries. */
  sign(body: string | Buffer, app: 'instagram' | 'facebook' = 'instagram'): string {
    return `sha256=${createHmac('sha256', this.apps[app].secret).update(body).digest('hex')}`;
  }

  /** Counts a call and tells the usage headers, or the throttling error once a limit is reached. */
  private meter(account: string | null): {
    headers: Record<string, string>;
    throttled: GraphErrorBody | null;
  } {
    const now = this.now();
    const recent = (list: number[]) => {
      while (list.length > 0 && list[0]! <= now - HOUR_MS) list.shift();
      return list;
    };
    const app = recent(this.calls.app);
    const percent = (n: number, of: number) => Math.min(100, Math.round((n * 100) / of));
    const headers: Record<string, string> = {};
    let throttled: GraphErrorBody | null = null;
    const appPercent = percent(app.length, this.rateLimits.appCallsPerHour);
    headers['x-app-usage'] = JSON.stringify({
      call_count: appPercent,
      total_time: Math.round(appPercent / 2),
      total_cputime: Math.round(appPercent / 2),
    });
    if (appPercent >= 100)
      throttled = {
        status: 403,
        code: 4,
        message: '(#4) Application request limit reached',
        transient: true,
      };
    if (account) {
      const list = recent(this.calls.accounts.get(account) ?? []);
      this.calls.accounts.set(account, list);
      const used = percent(list.length, this.rateLimits.accountCallsPerHour);
      const regain = used >= 100 && list[0] ? Math.ceil((list[0] + HOUR_MS - now) / 60_000) : 0;
      headers['x-business-use-case-usage'] = JSON.stringify({
        [account]: [
          {
            type: 'instagram',
            call_count: used,
            total_cputime: Math.round(used / 3),
            total_time: Math.round(used / 3),
            estimated_time_to_regain_access: regain,
          },
        ],
      });
      if (used >= 100)
        throttled = {
          status: 400,
          code: 80002,
          message: 'There have been too many calls to this Instagram account. Wait a bit and try again.',
          transient: true,
        };
      else list.push(now);
    }
    if (!throttled) app.push(now);
    return { headers, throttled };
  }

  reset(): void {
    this.containers.clear();
    this.media.length = 0;
    this.requests.length = 0;
    this.faults = [];
    this.invalidTokens.clear();
    this.quotaUsedElsewhere.clear();
    this.revokedBefore.clear();
    this.subscriptions.clear();
    this.comments.clear();
    this.privateReplies.clear();
    this.calls = { app: [], accounts: new Map() };
    this.rateLimits = { appCallsPerHour: 1_000_000, accountCallsPerHour: 4_800 };
    this.codes.clear();
    this.authorize = { decision: 'approve' };
    this.wrapCodeAnswer = false;
    this.now = Date.now;
  }

  quotaUsage(igUserId: string, now = Date.now()): number {
    const ours = this.media.filter((m) => m.igUserId === igUserId && m.timestamp > now - DAY_MS).length;
    return ours + (this.quotaUsedElsewhere.get(igUserId) ?? 0);
  }

  private id(): string {
    this.nextId += BigInt(randomInt(1, 1000));
    return this.nextId.toString();
  }

  private takeFault(endpoint: FakeEndpoint): Fault | undefined {
    const i = this.faults.findIndex((f) => f.endpoint === endpoint);
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    if (f.skip > 0) {
      f.skip--;
      return undefined;
    }
    if (--f.times <= 0) this.faults.splice(i, 1);
    return f.fault;
  }

  /** Serves a request (the fake's own server, or our app's /sandbox/meta for the authorize pages). */
  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const url = new URL(req.url ?? '/', 'http://fake');
    const params: Record<string, string> = Object.fromEntries(url.searchParams);
    if (raw && /json/.test(req.headers['content-type'] ?? '')) {
      // Graph takes a JSON body too (private replies); its objects are the same as JSON-encoded form fields.
      try {
        for (const [k, v] of Object.entries(JSON.parse(raw) as Record<string, unknown>))
          params[k] = typeof v === 'string' ? v : JSON.stringify(v);
      } catch {
        params.__malformed = 'true';
      }
    } else if (raw) Object.assign(params, Object.fromEntries(new URLSearchParams(raw)));
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = params.access_token ?? bearer ?? null;
    delete params.access_token;
    const segments = url.pathname.split('/').filter(Boolean);
    const host = hostOf(segments);
    if (/^v\d+\.\d+$/.test(segments[0] ?? '')) segments.shift();
    const method = req.method ?? 'GET';
    const endpoint = this.route(host, method, segments, params);
    this.requests.push({
      endpoint,
      host,
      method,
      path: `/${segments.join('/')}`,
      params,
      token,
      at: Date.now(),
    });

    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    let usageHeaders: Record<string, string> = {};
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', ...usageHeaders });
      res.end(JSON.stringify(body));
    };
    const fail = (e: GraphErrorBody) =>
      send(e.status, {
        error: {
          message: e.message ?? `(#${e.code}) Simulated error`,
          type: 'OAuthException',
          code: e.code,
          ...(e.subcode ? { error_subcode: e.subcode } : {}),
          is_transient: e.transient ?? false,
          fbtrace_id: `FAKE${randomInt(1e9)}`,
        },
      });

    if (endpoint === 'unknown') return fail({ status: 400, code: 100, message: 'Unsupported request' });
    const fault = this.takeFault(endpoint);
    if (fault === 'network') {
      req.socket.destroy();
      return;
    }
    if (fault && fault !== 'lose_answer') return fail(fault);
    if (endpoint === 'authorize') return this.authorizePage(host, params, res);
    if (endpoint === 'ig_code') return this.instagramCode(params, res);
    let facts: TokenFacts | null = null;
    if (endpoint !== 'oauth_token') {
      if (!token) return fail({ status: 400, code: 190, message: 'An active access token must be used' });
      // The two login types' tokens are not interchangeable.
      if ((host === 'instagram') !== token.startsWith('IG'))
        return fail({
          status: 400,
          code: 190,
          message: 'Invalid OAuth access token - Cannot parse access token',
        });
      if (this.invalidTokens.has(token))
        return fail({
          status: 400,
          code: 190,
          subcode: 463,
          message: 'Error validating access token: Session has expired',
        });
      facts = this.read(token);
      const problem = facts && this.tokenProblem(facts, segments[0]!, endpoint);
      if (problem) return fail(problem);
      const metered = this.meter(facts ? (this.reach(facts)[0] ?? null) : null);
      usageHeaders = metered.headers;
      if (metered.throttled) return fail(metered.throttled);
    }

    if (endpoint === 'create') {
      const problem = await this.downloadProblem(params);
      if (problem) return fail(problem);
    }
    const result =
      endpoint === 'create' ||
      endpoint === 'status' ||
      endpoint === 'publish' ||
      endpoint === 'media' ||
      endpoint === 'recent' ||
      endpoint === 'limit'
        ? this.answer(endpoint, method, segments, params)
        : this.accountAnswer(endpoint, segments, params, facts);
    if (fault === 'lose_answer') {
      // The work is done, but the caller never hears about it.
      req.socket.destroy();
      return;
    }
    if ('error' in result) return fail(result.error);
    send(200, result.body);
  }

  /** Meta downloads a container's media when it is created: does that work for the URLs we fetch for real? */
  private async downloadProblem(params: Record<string, string>): Promise<GraphErrorBody | null> {
    const downloads = [
      ['image', params.image_url],
      ['video', params.video_url],
      ['image', params.cover_url],
    ] as const;
    for (const [kind, url] of downloads) {
      if (!url || !this.fetchMedia?.(url)) continue;
      this.mediaFetches.push(url);
      const ok = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(10_000) })
        .then(async (res) => {
          const type = res.headers.get('content-type') ?? '';
          await res.arrayBuffer();
          return res.ok && (kind === 'image' ? type === 'image/jpeg' : type.startsWith('video/'));
        })
        .catch(() => false);
      if (!ok) return { status: 400, code: 9004, subcode: 2207052, message: 'Media download has failed' };
    }
    return null;
  }

  /** Expired, revoked, or not allowed to act for the account in the path. */
  private tokenProblem(facts: TokenFacts, first: string, endpoint: FakeEndpoint): GraphErrorBody | null {
    const now = this.now();
    if (facts.expiresAt !== null && facts.expiresAt <= now)
      return {
        status: 400,
        code: 190,
        subcode: 463,
        message: 'Error validating access token: Session has expired',
      };
    const reach = this.reach(facts);
    if (reach.some((id) => facts.issuedAt < (this.revokedBefore.get(id) ?? -Infinity)))
      return {
        status: 400,
        code: 190,
        subcode: 460,
        message: 'Error validating access token: The user has not authorized application',
      };
    const onAccount = ![
      'me',
      'me_accounts',
      'exchange',
      'refresh',
      'oauth_token',
      'status',
      'media',
    ].includes(endpoint);
    if (onAccount && this.accounts.has(first) && !reach.includes(first))
      return { status: 403, code: 10, message: '(#10) Application does not have permission for this action' };
    return null;
  }

  private route(
    host: FakeHost,
    method: string,
    s: string[],
    params: Record<string, string>,
  ): FakeEndpoint | 'unknown' {
    if (host === 'instagram_www' || host === 'facebook_www')
      return method === 'GET' ? 'authorize' : 'unknown';
    if (host === 'instagram_api') return method === 'POST' ? 'ig_code' : 'unknown';
    if (method === 'GET' && s[0] === 'me')
      return s.length === 1 ? 'me' : s[1] === 'accounts' ? 'me_accounts' : 'unknown';
    if (host === 'instagram' && method === 'GET' && s[0] === 'access_token') return 'exchange';
    if (host === 'instagram' && method === 'GET' && s[0] === 'refresh_access_token') return 'refresh';
    if (host === 'facebook' && method === 'GET' && s.join('/') === 'oauth/access_token')
      return params.grant_type === 'fb_exchange_token' || params.code ? 'oauth_token' : 'unknown';
    if (method === 'POST' && s.length === 2 && s[1] === 'subscribed_apps') return 'subscribe';
    if (s.length === 2 && s[1] === 'comments') return method === 'POST' ? 'comment' : 'comments';
    if (s.length === 2 && s[1] === 'replies') return method === 'POST' ? 'reply' : 'replies';
    if (method === 'POST' && s.length === 2 && s[1] === 'messages') return 'messages';
    if (s.length === 1 && this.comment(s[0]!))
      return method === 'POST' ? 'hide' : method === 'DELETE' ? 'delete_comment' : 'unknown';
    if (method === 'GET' && s.length === 1 && this.accounts.has(s[0]!)) return 'profile';
    if (method === 'POST' && s.length === 2 && s[1] === 'media') return 'create';
    if (method === 'POST' && s.length === 2 && s[1] === 'media_publish') return 'publish';
    if (method === 'GET' && s.length === 2 && s[1] === 'content_publishing_limit') return 'limit';
    if (method === 'GET' && s.length === 2 && s[1] === 'media') return 'recent';
    if (method === 'GET' && s.length === 1) return this.containers.has(s[0]!) ? 'status' : 'media';
    return 'unknown';
  }

  private answer(
    endpoint: FakeEndpoint,
    _method: string,
    s: string[],
    params: Record<string, string>,
  ): { body: unknown } | { error: GraphErrorBody } {
    const now = Date.now();
    switch (endpoint) {
      case 'create': {
        const igUserId = s[0]!;
        const child = params.is_carousel_item === 'true';
        if (params.media_type === 'CAROUSEL') return this.carousel(igUserId, params, now);
        if (child && (params.caption !== undefined || params.location_id !== undefined))
          return {
            error: { status: 400, code: 100, message: '(#100) Carousel items take no caption or location' },
          };
        if (child && params.media_type !== undefined && params.media_type !== 'VIDEO')
          return {
            error: {
              status: 400,
              code: 100,
              subcode: 2207023,
              message: 'A carousel item is an image or a VIDEO',
            },
          };
        const isVideo =
          params.media_type === 'REELS' ||
          (params.media_type === 'STORIES' && !!params.video_url) ||
          (child && params.media_type === 'VIDEO');
        const mediaUrl = isVideo ? params.video_url : params.image_url;
        if (params.media_type === 'VIDEO' && !child)
          return {
            error: {
              status: 400,
              code: 100,
              subcode: 2207023,
              message: 'The media type VIDEO is not supported',
            },
          };
        if (!mediaUrl)
          return { error: { status: 400, code: 100, message: 'The parameter image_url is required' } };
        const problem = containerRuleProblem(params);
        if (problem) return { error: { status: 400, code: 100, message: `(#100) ${problem}` } };
        if (!mediaUrl.startsWith('https://') && !this.fetchMedia?.(mediaUrl))
          return {
            error: { status: 400, code: 9004, subcode: 2207052, message: 'Media download has failed' },
          };
        const container: Container = {
          id: this.id(),
          igUserId,
          params,
          createdAt: now,
          reads: 0,
          readsUntilFinished: isVideo ? this.videoReadsUntilFinished : 0,
          statusCode: isVideo && this.videoReadsUntilFinished > 0 ? 'IN_PROGRESS' : 'FINISHED',
        };
        this.containers.set(container.id, container);
        return { body: { id: container.id } };
      }
      case 'status': {
        const c = this.containers.get(s[0]!)!;
        c.reads++;
        if (c.statusCode === 'IN_PROGRESS' && c.reads >= c.readsUntilFinished) c.statusCode = 'FINISHED';
        if (c.statusCode !== 'PUBLISHED' && now - c.createdAt > DAY_MS) c.statusCode = 'EXPIRED';
        return {
          body: {
            id: c.id,
            status_code: c.statusCode,
            status:
              c.statusCode === 'ERROR'
                ? `Error: ${c.errorSubcode ?? 2207001}`
                : c.statusCode === 'FINISHED'
                  ? 'Finished: Media has been uploaded'
                  : c.statusCode,
          },
        };
      }
      case 'publish': {
        const igUserId = s[0]!;
        const c = this.containers.get(params.creation_id ?? '');
        if (!c || c.igUserId !== igUserId)
          return {
            error: { status: 400, code: 24, subcode: 2207008, message: 'The media container does not exist' },
          };
        if (c.statusCode === 'IN_PROGRESS')
          return {
            error: {
              status: 400,
              code: 9007,
              subcode: 2207027,
              message: 'The media is not ready for publishing',
            },
          };
        if (c.statusCode === 'EXPIRED' || c.statusCode === 'ERROR')
          return { error: { status: 400, code: -2, subcode: 2207020, message: 'The media has expired' } };
        if (this.quotaUsage(igUserId, now) >= this.quotaTotal)
          return {
            error: {
              status: 400,
              code: 9,
              subcode: 2207042,
              message: 'Reached the maximum number of published posts',
            },
          };
        const media: FakeMedia = {
          id: this.id(),
          igUserId,
          containerId: c.id,
          caption: c.params.caption ?? null,
          timestamp: now,
          permalink: `https://www.instagram.com/p/FAKE${randomInt(1e9).toString(36)}/`,
        };
        this.media.push(media);
        c.statusCode = 'PUBLISHED';
        return { body: { id: media.id } };
      }
      case 'media': {
        const m = this.media.find((x) => x.id === s[0]);
        if (!m) return { error: { status: 400, code: 100, subcode: 33, message: 'Object does not exist' } };
        return { body: { id: m.id, permalink: m.permalink, timestamp: graphTime(m.timestamp) } };
      }
      case 'recent': {
        const limit = Number(params.limit ?? 25);
        const items = this.media
          .filter((m) => m.igUserId === s[0])
          .sort((a, b) => b.timestamp - a.timestamp)
          .slice(0, limit)
          .map((m) => ({
            id: m.id,
            caption: m.caption,
            media_type: 'IMAGE',
            timestamp: graphTime(m.timestamp),
            permalink: m.permalink,
            comments_count: (this.comments.get(m.id) ?? []).length,
          }));
        return { body: { data: items } };
      }
      case 'limit':
        return {
          body: {
            data: [
              {
                quota_usage: this.quotaUsage(s[0]!, now),
                config: { quota_total: this.quotaTotal, quota_duration: 86_400 },
              },
            ],
          },
        };
      default:
        return { error: { status: 400, code: 100, message: 'Unsupported request' } };
    }
  }
  private profileOf(
    a: FakeAccount,
    fields: string,
    allowed: Set<string>,
  ): { body: unknown } | { error: GraphErrorBody } {
    const values: Record<string, unknown> = {
      id: a.igUserId,
      user_id: a.igUserId,
      username: a.username,
      name: a.name,
      biography: a.biography,
      website: a.website,
      account_type: a.accountType,
      profile_picture_url: a.profilePictureUrl,
      followers_count: a.followersCount,
      follows_count: a.followsCount,
      media_count: a.mediaCount,
    };
    const body: Record<string, unknown> = {};
    for (const field of (fields || 'id').split(',')) {
      // One unknown field fails the whole call.
      if (!allowed.has(field))
        return {
          error: {
            status: 400,
            code: 100,
            message: `(#100) Tried accessing nonexisting field (${field}) on node type (User)`,
          },
        };
      body[field] = values[field];
    }
    return { body };
  }

  private accountAnswer(
    endpoint: FakeEndpoint,
    s: string[],
    params: Record<string, string>,
    facts: TokenFacts | null,
  ): { body: unknown } | { error: GraphErrorBody } {
    const now = this.now();
    const unknownToken: GraphErrorBody = {
      status: 400,
      code: 190,
      message: 'Invalid OAuth access token - Cannot parse access token',
    };
    switch (endpoint) {
      case 'me': {
        if (!facts) return { error: unknownToken };
        if (facts.kind.startsWith('ig')) {
          const a = this.accounts.get(facts.subject);
          return a ? this.profileOf(a, params.fields ?? 'id', IG_FIELDS) : { error: unknownToken };
        }
        return { body: { id: facts.subject, name: 'Facebook User' } };
      }
      case 'me_accounts': {
        if (!facts || (facts.kind !== 'fb_user' && facts.kind !== 'fb_long'))
          return {
            error: { status: 400, code: 100, message: '(#100) Tried accessing nonexisting field (accounts)' },
          };
        const data = [...this.accounts.values()]
          .filter((a) => a.fbUserId === facts.subject)
          .map((a) => ({
            id: a.pageId,
            name: `${a.name} Page`,
            // A Page token from a long-lived user token does not expire; from a short-lived one, it does.
            access_token: this.issue({
              kind: 'fb_page',
              subject: a.igUserId,
              issuedAt: now,
              expiresAt: facts.kind === 'fb_long' ? null : facts.expiresAt,
            }),
            instagram_business_account: { id: a.igUserId, username: a.username },
          }));
        return { body: { data, paging: { cursors: { before: 'x', after: 'y' } } } };
      }
      case 'profile': {
        const a = this.accounts.get(s[0]!)!;
        return this.profileOf(a, params.fields ?? 'id', FB_PROFILE_FIELDS);
      }
      case 'exchange': {
        if (params.grant_type !== 'ig_exchange_token')
          return { error: { status: 400, code: 100, message: 'Unsupported grant_type' } };
        if (!this.sandbox && params.client_secret !== this.apps.instagram.secret)
          return { error: { status: 400, code: 101, message: 'Error validating client secret.' } };
        if (!facts || facts.kind !== 'ig_short')
          return {
            error: {
              status: 400,
              code: 100,
              message: 'Unsupported request: only short-lived tokens can be exchanged',
            },
          };
        return { body: this.longLived('ig_long', facts.subject, now) };
      }
      case 'refresh': {
        if (params.grant_type !== 'ig_refresh_token')
          return { error: { status: 400, code: 100, message: 'Unsupported grant_type' } };
        if (!facts || facts.kind !== 'ig_long')
          return { error: { status: 400, code: 100, message: 'Only long-lived tokens can be refreshed' } };
        if (now - facts.issuedAt < 24 * HOUR_MS)
          return {
            error: {
              status: 400,
              code: 100,
              message: 'The access token is less than 24 hours old and cannot be refreshed yet',
            },
          };
        return { body: this.longLived('ig_long', facts.subject, now) };
      }
      case 'oauth_token': {
        const app = this.apps.facebook;
        if (!this.sandbox && (params.client_id !== app.id || params.client_secret !== app.secret))
          return {
            error: {
              status: 400,
              code: 101,
              message: 'Error validating application. Invalid application ID.',
            },
          };
        if (params.grant_type === 'fb_exchange_token') {
          const user = this.read(params.fb_exchange_token ?? '');
          if (
            !user ||
            (user.kind !== 'fb_user' && user.kind !== 'fb_long') ||
            (user.expiresAt ?? Infinity) <= now
          )
            return {
              error: {
                status: 400,
                code: 190,
                message: 'Error validating access token: Session has expired',
              },
            };
          return { body: this.longLived('fb_long', user.subject, now) };
        }
        const code = this.takeCode(params.code ?? '', 'facebook', params.redirect_uri ?? '');
        if ('error' in code)
          return { error: { status: 400, code: 100, subcode: 36007, message: code.error } };
        return {
          body: {
            access_token: this.issue({
              kind: 'fb_user',
              subject: code.subject,
              issuedAt: now,
              expiresAt: now + 2 * HOUR_MS,
            }),
            token_type: 'bearer',
            expires_in: 7200,
          },
        };
      }
      case 'subscribe': {
        this.subscriptions.set(s[0]!, params.subscribed_fields ?? '');
        return { body: { success: true } };
      }
      case 'comment':
      case 'comments':
        return this.mediaComments(endpoint, s[0]!, params, facts, now);
      case 'replies':
      case 'reply':
      case 'hide':
      case 'delete_comment':
        return this.commentAnswer(endpoint, s[0]!, params, facts, now);
      case 'messages':
        return this.privateReply(s[0]!, params, now);
      default:
        return { error: { status: 400, code: 100, message: 'Unsupported request' } };
    }
  }

  /** Can this token act on the account's media? Meta answers as if the object did not exist. */
  private reaches(facts: TokenFacts | null, igUserId: string): boolean {
    return !facts || this.reach(facts).includes(igUserId);
  }

  private missing(id: string): { error: GraphErrorBody } {
    return {
      error: {
        status: 400,
        code: 100,
        subcode: 33,
        message: `Unsupported post request. Object with ID '${id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation`,
      },
    };
  }

  /** `GET /{media}/comments` (top level, newest first, ≤ 50 a page) and `POST /{media}/comments`. */
  private mediaComments(
    endpoint: 'comment' | 'comments',
    mediaId: string,
    params: Record<string, string>,
    facts: TokenFacts | null,
    now: number,
  ): { body: unknown } | { error: GraphErrorBody } {
    const media = this.media.find((m) => m.id === mediaId);
    if (!media || !this.reaches(facts, media.igUserId)) return this.missing(mediaId);
    const list = this.comments.get(media.id) ?? [];
    this.comments.set(media.id, list);
    if (endpoint === 'comments') {
      const top = list.filter((c) => c.parentId === null).reverse();
      const limit = Math.min(50, Math.max(1, Number(params.limit ?? 25) || 25));
      const start = params.after ? Number(Buffer.from(params.after, 'base64url').toString()) || 0 : 0;
      const page = top.slice(start, start + limit);
      const more = start + limit < top.length;
      const after = Buffer.from(String(start + limit)).toString('base64url');
      return {
        body: {
          data: page.map((c) => commentBody(c)),
          paging: {
            cursors: { before: Buffer.from(String(start)).toString('base64url'), after },
            ...(more ? { next: `${this.url}/${mediaId}/comments?after=${after}` } : {}),
          },
        },
      };
    }
    if (!params.message)
      return { error: { status: 400, code: 100, message: 'The parameter message is required' } };
    const owner = this.accounts.get(media.igUserId);
    const comment = this.addComment(media.id, {
      text: params.message,
      username: owner?.username ?? 'owner',
      fromId: media.igUserId,
      timestamp: now,
    });
    return { body: { id: comment.id } };
  }

  /** Replies (list, post), hide and delete on one comment. */
  private commentAnswer(
    endpoint: 'replies' | 'reply' | 'hide' | 'delete_comment',
    commentId: string,
    params: Record<string, string>,
    facts: TokenFacts | null,
    now: number,
  ): { body: unknown } | { error: GraphErrorBody } {
    const comment = this.comment(commentId);
    const media = comment && this.media.find((m) => m.id === comment.mediaId);
    if (!comment || !media || !this.reaches(facts, media.igUserId)) return this.missing(commentId);
    switch (endpoint) {
      case 'replies':
        return { body: { data: this.repliesTo(commentId).map((c) => commentBody(c)) } };
      case 'reply': {
        if (!params.message)
          return { error: { status: 400, code: 100, message: 'The parameter message is required' } };
        if (comment.parentId !== null || comment.hidden)
          return {
            error: {
              status: 400,
              code: 100,
              message: '(#100) Replies can only be made to top-level comments that are not hidden',
            },
          };
        const owner = this.accounts.get(media.igUserId);
        const reply = this.addComment(media.id, {
          text: params.message,
          username: owner?.username ?? 'owner',
          fromId: media.igUserId,
          timestamp: now,
          parentId: comment.id,
        });
        return { body: { id: reply.id } };
      }
      case 'hide':
        if (params.hide !== 'true' && params.hide !== 'false')
          return { error: { status: 400, code: 100, message: 'The parameter hide is required' } };
        comment.hidden = params.hide === 'true';
        return { body: { success: true } };
      case 'delete_comment': {
        const list = this.comments.get(media.id)!;
        this.comments.set(
          media.id,
          list.filter((c) => c.id !== comment.id && c.parentId !== comment.id),
        );
        return { body: { success: true } };
      }
    }
  }

  /** `POST /{ig-user-id}/messages` to a comment: one per comment, within 7 days, 750 an hour. */
  private privateReply(
    igUserId: string,
    params: Record<string, string>,
    now: number,
  ): { body: unknown } | { error: GraphErrorBody } {
    let commentId: unknown;
    let text: unknown;
    try {
      commentId = (JSON.parse(params.recipient ?? '{}') as { comment_id?: unknown }).comment_id;
      text = (JSON.parse(params.message ?? '{}') as { text?: unknown }).text;
    } catch {
      return {
        error: { status: 400, code: 100, message: '(#100) recipient and message must be JSON objects' },
      };
    }
    if (typeof commentId !== 'string' || typeof text !== 'string' || text === '')
      return {
        error: {
          status: 400,
          code: 100,
          message: '(#100) recipient.comment_id and message.text are required',
        },
      };
    const comment = this.comment(commentId);
    const media = comment && this.media.find((m) => m.id === comment.mediaId);
    if (!comment || !media || media.igUserId !== igUserId) return this.missing(commentId);
    if (this.privateReplies.has(commentId))
      return { error: { status: 400, code: 10900, message: '(#10900) Activity already replied to' } };
    if (now - comment.timestamp > 7 * DAY_MS)
      return {
        error: {
          status: 400,
          code: 10,
          subcode: 2534022,
          message: '(#10) This message is sent outside of allowed window.',
        },
      };
    const sentThisHour = [...this.privateReplies.values()].filter((r) => r.at > now - HOUR_MS).length;
    if (sentThisHour >= 750)
      return {
        error: { status: 400, code: 613, message: '(#613) Calls to this api have exceeded the rate limit.' },
      };
    const messageId = `m_${this.id()}`;
    this.privateReplies.set(commentId, { text, messageId, at: now });
    return { body: { recipient_id: comment.fromId, message_id: messageId } };
  }

  /** A CAROUSEL container: 2 to 10 finished carousel items of the same account. */
  private carousel(
    igUserId: string,
    params: Record<string, string>,
    now: number,
  ): { body: unknown } | { error: GraphErrorBody } {
    const ids = (params.children ?? '').split(',').filter(Boolean);
    if (ids.length < 2 || ids.length > 10)
      return {
        error: { status: 400, code: 100, subcode: 2207028, message: 'A carousel needs 2 to 10 items' },
      };
    for (const id of ids) {
      const item = this.containers.get(id);
      if (!item || item.igUserId !== igUserId || item.params.is_carousel_item !== 'true')
        return {
          error: { status: 400, code: 100, message: `(#100) ${id} is not a carousel item of this account` },
        };
      if (item.statusCode !== 'FINISHED')
        return {
          error: {
            status: 400,
            code: 9007,
            subcode: 2207027,
            message: 'A carousel item is not ready for publishing',
          },
        };
    }
    const problem = containerRuleProblem({ ...params, media_type: 'CAROUSEL' });
    if (problem) return { error: { status: 400, code: 100, message: `(#100) ${problem}` } };
    const container: Container = {
      id: this.id(),
      igUserId,
      params,
      createdAt: now,
      reads: 0,
      readsUntilFinished: 0,
      statusCode: 'FINISHED',
    };
    this.containers.set(container.id, container);
    return { body: { id: container.id } };
  }

  /** A code once, within an hour, for the redirect_uri it was issued to. */
  private takeCode(
    code: string,
    kind: 'instagram' | 'facebook',
    redirectUri: string,
  ): { subject: string } | { error: string } {
    const entry = this.codes.get(code.replace(/#_$/, ''));
    if (!entry || entry.kind !== kind) return { error: 'Invalid verification code format.' };
    if (entry.used) return { error: 'This authorization code has been used.' };
    if (this.now() - entry.at > HOUR_MS) return { error: 'This authorization code has expired.' };
    if (entry.redirectUri !== redirectUri)
      return {
        error: 'Error validating verification code. Please make sure your redirect_uri is identical.',
      };
    entry.used = true;
    return { subject: entry.subject };
  }

  /** The page the user's browser opens: approves (or declines) at once and redirects with a code. */
  private authorizePage(host: FakeHost, params: Record<string, string>, res: http.ServerResponse): void {
    const kind = host === 'instagram_www' ? 'instagram' : 'facebook';
    const app = this.apps[kind];
    const redirect = params.redirect_uri;
    if ((!this.sandbox && params.client_id !== app.id) || !redirect || !/^https?:\/\//.test(redirect)) {
      res.writeHead(400, { 'content-type': 'text/html' });
      res.end('<h1>Invalid platform app</h1>');
      return;
    }
    const target = new URL(redirect);
    if (params.state) target.searchParams.set('state', params.state);
    if (this.authorize.decision === 'deny') {
      target.searchParams.set('error', 'access_denied');
      target.searchParams.set('error_reason', 'user_denied');
      target.searchParams.set('error_description', 'The user denied your request.');
    } else {
      const account =
        (this.authorize.igUserId && this.accounts.get(this.authorize.igUserId)) ||
        [...this.accounts.values()][0];
      if (!account) {
        res.writeHead(400, { 'content-type': 'text/html' });
        res.end('<h1>No Instagram professional account</h1>');
        return;
      }
      const code = `AQ${this.id()}${randomInt(1e9).toString(36)}`;
      this.codes.set(code, {
        kind,
        subject: kind === 'instagram' ? account.igUserId : account.fbUserId,
        redirectUri: redirect,
        at: this.now(),
        used: false,
      });
      target.searchParams.set('code', code);
    }
    // Meta appends a fragment the client must strip.
    res.writeHead(302, { location: `${target.href}${kind === 'instagram' ? '#_' : '#_=_'}` });
    res.end();
  }

  /** api.instagram.com's code exchange: its own error shape, and user_id as a number past 2^53. */
  private instagramCode(params: Record<string, string>, res: http.ServerResponse): void {
    const fail = (message: string) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error_type: 'OAuthException', code: 400, error_message: message }));
    };
    const app = this.apps.instagram;
    if (!this.sandbox && (params.client_id !== app.id || params.client_secret !== app.secret))
      return fail('Invalid platform app');
    if (params.grant_type !== 'authorization_code') return fail('Unsupported grant_type');
    const code = this.takeCode(params.code ?? '', 'instagram', params.redirect_uri ?? '');
    if ('error' in code) return fail(code.error);
    const now = this.now();
    const token = this.issue({
      kind: 'ig_short',
      subject: code.subject,
      issuedAt: now,
      expiresAt: now + HOUR_MS,
    });
    // Written by hand: JSON.stringify cannot show a number this big exactly, and Meta's answer is read with precision lost.
    const flat = `{"access_token":${JSON.stringify(token)},"user_id":${code.subject},"permissions":"instagram_business_basic,instagram_business_content_publish"}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(this.wrapCodeAnswer ? `{"data":[${flat}]}` : flat);
  }
}

/** A comment as Graph lists it. */
function commentBody(c: FakeComment) {
  return {
    id: c.id,
    text: c.text,
    username: c.username,
    from: { id: c.fromId, username: c.username },
    timestamp: graphTime(c.timestamp),
    hidden: c.hidden,
    ...(c.parentId ? { parent_id: c.parentId } : {}),
  };
}

/** Meta's rules on which parameter goes with which kind of container (docs/graph-api.md, "More kinds of media"). */
function containerRuleProblem(params: Record<string, string>): string | null {
  const type = params.media_type ?? 'IMAGE';
  const reelOnly = ['cover_url', 'share_to_feed', 'audio_name', 'trial_params'].filter(
    (k) => params[k] !== undefined,
  );
  if (type !== 'REELS' && reelOnly.length > 0) return `${reelOnly.join(', ')} only apply to reels`;
  if (params.alt_text !== undefined && type !== 'IMAGE') return 'alt_text only applies to images';
  if (params.alt_text !== undefined && [...params.alt_text].length > 1000) return 'alt_text is too long';
  if (params.collaborators !== undefined) {
    if (type === 'STORIES') return 'collaborators are not supported on stories';
    let list: unknown;
    try {
      list = JSON.parse(params.collaborators);
    } catch {
      return 'collaborators must be a JSON array';
    }
    if (!Array.isArray(list) || list.length > 3) return 'at most 3 collaborators';
  }
  if (params.trial_params !== undefined) {
    let strategy: unknown;
    try {
      strategy = (JSON.parse(params.trial_params) as { graduation_strategy?: unknown }).graduation_strategy;
    } catch {
      return 'trial_params must be JSON';
    }
    if (strategy !== 'MANUAL' && strategy !== 'SS_PERFORMANCE') return 'invalid graduation_strategy';
  }
  if (type === 'STORIES' && (params.caption !== undefined || params.location_id !== undefined))
    return 'stories take no caption or location';
  return null;
}

/** Which Meta host a path stands for: the fake serves them all under one origin. */
function hostOf(segments: string[]): FakeHost {
  const first = segments[0];
  const map: Record<string, FakeHost> = {
    ig: 'instagram',
    'ig-api': 'instagram_api',
    'ig-www': 'instagram_www',
    'fb-www': 'facebook_www',
  };
  const host = first ? map[first] : undefined;
  if (host) segments.shift();
  return host ?? 'facebook';
}
