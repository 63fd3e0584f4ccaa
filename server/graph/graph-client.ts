import { scrubSecrets } from '../logger.ts';
import { GraphError, GraphNetworkError } from './errors.ts';

export type ContainerStatus = 'IN_PROGRESS' | 'FINISHED' | 'ERROR' | 'EXPIRED' | 'PUBLISHED';

export interface PublishingLimit {
  quotaUsage: number;
  quotaTotal: number;
  quotaDurationSeconds: number;
}

export interface GraphClient {
  /** Any Graph call, with Meta's errors turned into GraphError/GraphNetworkError (the account calls use it). */
  request(
    method: 'GET' | 'POST',
    path: string,
    token: string,
    params?: Record<string, string>,
  ): Promise<Record<string, unknown>>;
  /** A media container from its form, which the post's kind makes (server/kinds/). */
  createContainer(igUserId: string, token: string, form: Record<string, string>): Promise<string>;
  containerStatus(
    containerId: string,
    token: string,
  ): Promise<{ statusCode: ContainerStatus; status: string | null }>;
  publish(igUserId: string, token: string, creationId: string): Promise<string>;
  media(mediaId: string, token: string): Promise<{ permalink: string | null; timestamp: Date | null }>;
  /** The account's most recent media, newest first. */
  recentMedia(
    igUserId: string,
    token: string,
    limit: number,
  ): Promise<{ id: string; timestamp: Date | null; caption: string | null; permalink: string | null }[]>;
  publishingLimit(igUserId: string, token: string): Promise<PublishingLimit>;
  /** Comments on a media, newest first (first page: enough to find our own fresh comment). */
  comments(mediaId: string, token: string): Promise<{ id: string; text: string }[]>;
  /** Comments on a media; returns the comment's id. */
  comment(mediaId: string, token: string, message: string): Promise<string>;
  /** One page (≤ 50) of a media's top-level comments, newest first, and the cursor of the next. */
  commentsPage(
    mediaId: string,
    token: string,
    after?: string,
  ): Promise<{ comments: GraphComment[]; after: string | null }>;
  /** The account's recent media with their comment counts, newest first. */
  mediaComments(
    igUserId: string,
    token: string,
    limit: number,
  ): Promise<{ id: string; timestamp: Date | null; commentsCount: number }[]>;
  /** Replies to a comment (to find our own after a lost answer). */
  replies(commentId: string, token: string): Promise<GraphComment[]>;
  /** A public reply to a top-level comment; returns the reply's id. */
  reply(commentId: string, token: string, message: string): Promise<string>;
  hideComment(commentId: string, token: string): Promise<void>;
  /** A private reply (direct message) to a comment's author; returns the message id. */
  privateReply(igUserId: string, token: string, commentId: string, text: string): Promise<string>;
  /**
   * Meta's usage of the app and of the account's business use case, as its
   * rate-limit headers last said (percent of what it allows; throttled at 100).
   */
  usage(igUserId: string): GraphUsage;
}

export interface GraphComment {
  id: string;
  text: string;
  username: string | null;
  fromId: string | null;
  timestamp: Date | null;
  parentId: string | null;
  hidden: boolean;
}

export interface GraphUsage {
  /** The highest figure of X-App-Usage and of the account's X-Business-Use-Case-Usage. */
  percent: number;
  /** `estimated_time_to_regain_access`, minutes: 0 unless Meta throttles the account. */
  regainMinutes: number;
  /** When the figures were read; null before any answer carried them. */
  at: Date | null;
}

/** The highest percentage of a usage object (`call_count`, `total_time`, `total_cputime`). */
function highest(entry: Record<string, unknown>): number {
  return Math.max(
    0,
    ...['call_count', 'total_time', 'total_cputime']
      .map((k) => Number(entry[k] ?? 0))
      .filter(Number.isFinite),
  );
}

/** Reads Meta's rate-limit headers (docs/graph-api.md, "Rate-limit headers"); unreadable ones are ignored. */
export function readUsageHeaders(headers: Headers): {
  app: number | null;
  business: Map<string, { percent: number; regainMinutes: number }>;
} {
  const business = new Map<string, { percent: number; regainMinutes: number }>();
  let app: number | null = null;
  try {
    const raw = headers.get('x-app-usage');
    if (raw) app = highest(JSON.parse(raw) as Record<string, unknown>);
  } catch {
    // A header we cannot read says nothing.
  }
  try {
    const raw = headers.get('x-business-use-case-usage');
    const parsed = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    for (const [id, entries] of Object.entries(parsed)) {
      if (!Array.isArray(entries)) continue;
      let percent = 0;
      let regainMinutes = 0;
      for (const e of entries as Record<string, unknown>[]) {
        percent = Math.max(percent, highest(e));
        regainMinutes = Math.max(regainMinutes, Number(e.estimated_time_to_regain_access ?? 0) || 0);
      }
      business.set(id, { percent, regainMinutes });
    }
  } catch {
    // Same.
  }
  return { app, business };
}

const COMMENT_FIELDS = 'id,text,timestamp,username,from,hidden,parent_id';

function commentOf(c: Record<string, unknown>): GraphComment {
  const from = (c.from ?? {}) as Record<string, unknown>;
  const str = (v: unknown) =>
    typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : null;
  return {
    id: String(c.id),
    text: typeof c.text === 'string' ? c.text : '',
    username: str(c.username) ?? str(from.username),
    fromId: str(from.id),
    timestamp: parseGraphTime(c.timestamp),
    parentId: str(c.parent_id ?? (c.parent as { id?: unknown } | undefined)?.id),
    hidden: c.hidden === true,
  };
}

/** Graph timestamps look like 2026-11-22T17:00:00+0000: no colon in the offset. */
export function parseGraphTime(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const date = new Date(value.replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
  return Number.isNaN(date.getTime()) ? null : date;
}

export interface GraphClientOptions {
  /** Base URL with version, e.g. https://graph.facebook.com/v25.0 */
  baseUrl: string;
  /** Per-call timeout in milliseconds; default 20000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * A small client for the publishing calls. The access token travels in the
 * form body (POST) or an Authorization header (GET), never in a URL, so it
 * cannot end up in a proxy's or our own request logs.
 */
export function createGraphClient(opts: GraphClientOptions): GraphClient {
  const base = opts.baseUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const doFetch = opts.fetch ?? fetch;

  const usage = {
    app: { percent: 0, at: null as Date | null },
    business: new Map<string, { percent: number; regainMinutes: number; at: Date }>(),
  };
  const noteUsage = (headers: Headers) => {
    const read = readUsageHeaders(headers);
    const at = new Date();
    if (read.app !== null) usage.app = { percent: read.app, at };
    for (const [id, u] of read.business) usage.business.set(id, { ...u, at });
  };

  async function call(
    method: 'GET' | 'POST',
    path: string,
    token: string,
    params: Record<string, string>,
    json?: unknown,
  ) {
    const url = new URL(`${base}/${path}`);
    const init: RequestInit = { method, signal: AbortSignal.timeout(timeoutMs) };
    if (json !== undefined) {
      init.headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };
      init.body = JSON.stringify(json);
    } else if (method === 'GET') {
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      if (token) init.headers = { authorization: `Bearer ${token}` };
    } else {
      init.headers = { 'content-type': 'application/x-www-form-urlencoded' };
      init.body = new URLSearchParams(token ? { ...params, access_token: token } : params).toString();
    }
    let response: Response;
    let text: string;
    try {
      response = await doFetch(url, init);
      noteUsage(response.headers);
      text = await response.text();
    } catch (error) {
      const reason = error instanceof Error ? error.name : 'error';
      throw new GraphNetworkError(`${method} ${path}: no answer (${reason})`, { cause: error });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const err = (body as { error?: Record<string, unknown> } | undefined)?.error;
    if (!response.ok || err) {
      const num = (v: unknown) =>
        typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : null;
      throw new GraphError({
        httpStatus: response.status,
        code: num(err?.code),
        subcode: num(err?.error_subcode),
        isTransient: err?.is_transient === true,
        type: typeof err?.type === 'string' ? err.type : null,
        fbtraceId: typeof err?.fbtrace_id === 'string' ? err.fbtrace_id : null,
        message: scrubSecrets(
          typeof err?.message === 'string' ? err.message : `HTTP ${response.status} from the Graph API`,
        ).slice(0, 500),
      });
    }
    if (body === undefined) throw new GraphNetworkError(`${method} ${path}: the answer is not JSON`);
    return body as Record<string, unknown>;
  }

  const id = (body: Record<string, unknown>) => {
    if (typeof body.id !== 'string' && typeof body.id !== 'number')
      throw new GraphNetworkError('answer without an id');
    return String(body.id);
  };

  return {
    request: (method, path, token, params = {}) => call(method, path, token, params),
    async createContainer(igUserId, token, form) {
      return id(await call('POST', `${igUserId}/media`, token, form));
    },
    async containerStatus(containerId, token) {
      const body = await call('GET', containerId, token, { fields: 'status_code,status' });
      return {
        statusCode: String(body.status_code) as ContainerStatus,
        status: typeof body.status === 'string' ? body.status : null,
      };
    },
    async publish(igUserId, token, creationId) {
      return id(await call('POST', `${igUserId}/media_publish`, token, { creation_id: creationId }));
    },
    async media(mediaId, token) {
      const body = await call('GET', mediaId, token, { fields: 'permalink,timestamp' });
      return {
        permalink: typeof body.permalink === 'string' ? body.permalink : null,
        timestamp: parseGraphTime(body.timestamp),
      };
    },
    async recentMedia(igUserId, token, limit) {
      const body = await call('GET', `${igUserId}/media`, token, {
        fields: 'id,caption,media_type,timestamp,permalink',
        limit: String(limit),
      });
      const data = Array.isArray(body.data) ? (body.data as Record<string, unknown>[]) : [];
      return data.map((m) => ({
        id: String(m.id),
        timestamp: parseGraphTime(m.timestamp),
        caption: typeof m.caption === 'string' ? m.caption : null,
        permalink: typeof m.permalink === 'string' ? m.permalink : null,
      }));
    },
    async comments(mediaId, token) {
      const body = await call('GET', `${mediaId}/comments`, token, { fields: 'id,text,timestamp,username' });
      const data = Array.isArray(body.data) ? (body.data as Record<string, unknown>[]) : [];
      return data.map((c) => ({ id: String(c.id), text: typeof c.text === 'string' ? c.text : '' }));
    },
    async comment(mediaId, token, message) {
      return id(await call('POST', `${mediaId}/comments`, token, { message }));
    },
    async commentsPage(mediaId, token, after) {
      const body = await call('GET', `${mediaId}/comments`, token, {
        fields: COMMENT_FIELDS,
        limit: '50',
        ...(after ? { after } : {}),
      });
      const data = Array.isArray(body.data) ? (body.data as Record<string, unknown>[]) : [];
      const paging = body.paging as { cursors?: { after?: unknown }; next?: unknown } | undefined;
      const next = typeof paging?.next === 'string' ? paging.cursors?.after : undefined;
      return { comments: data.map(commentOf), after: typeof next === 'string' ? next : null };
    },
    async mediaComments(igUserId, token, limit) {
      const body = await call('GET', `${igUserId}/media`, token, {
        fields: 'id,timestamp,comments_count',
        limit: String(limit),
      });
      const data = Array.isArray(body.data) ? (body.data as Record<string, unknown>[]) : [];
      return data.map((m) => ({
        id: String(m.id),
        timestamp: parseGraphTime(m.timestamp),
        commentsCount: Number(m.comments_count ?? 0) || 0,
      }));
    },
    async replies(commentId, token) {
      const body = await call('GET', `${commentId}/replies`, token, { fields: COMMENT_FIELDS });
      const data = Array.isArray(body.data) ? (body.data as Record<string, unknown>[]) : [];
      return data.map(commentOf);
    },
    async reply(commentId, token, message) {
      return id(await call('POST', `${commentId}/replies`, token, { message }));
    },
    async hideComment(commentId, token) {
      await call('POST', commentId, token, { hide: 'true' });
    },
    async privateReply(igUserId, token, commentId, text) {
      const body = await call(
        'POST',
        `${igUserId}/messages`,
        token,
        {},
        {
          recipient: { comment_id: commentId },
          message: { text },
        },
      );
      if (typeof body.message_id !== 'string') throw new GraphNetworkError('answer without a message_id');
      return body.message_id;
    },
    usage(igUserId) {
      const business = usage.business.get(igUserId);
      return {
        percent: Math.max(usage.app.percent, business?.percent ?? 0),
        regainMinutes: business?.regainMinutes ?? 0,
        at: business?.at ?? usage.app.at,
      };
    },
    async publishingLimit(igUserId, token) {
      const body = await call('GET', `${igUserId}/content_publishing_limit`, token, {
        fields: 'quota_usage,config',
      });
      const first = (Array.isArray(body.data) ? body.data[0] : undefined) as
        { quota_usage?: number; config?: { quota_total?: number; quota_duration?: number } } | undefined;
      return {
        quotaUsage: Number(first?.quota_usage ?? 0),
        quotaTotal: Number(first?.config?.quota_total ?? 25),
        quotaDurationSeconds: Number(first?.config?.quota_duration ?? 86_400),
      };
    },
  };
}
