import { randomInt } from 'node:crypto';
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

export type FakeEndpoint = 'create' | 'status' | 'publish' | 'media' | 'recent' | 'limit';

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

export interface FakeRequest {
  endpoint: FakeEndpoint | 'unknown';
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
}

const DAY_MS = 86_400_000;

function graphTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+0000');
}

export class FakeGraph {
  latencyMs: number;
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
  private faults: { endpoint: FakeEndpoint; fault: Fault; times: number }[] = [];
  private server: http.Server | undefined;
  private nextId = 17_900_000_000_000_000n + BigInt(randomInt(1_000_000));
  url = '';

  constructor(opts: FakeGraphOptions = {}) {
    this.latencyMs = opts.latencyMs ?? 0;
    this.videoReadsUntilFinished = opts.videoReadsUntilFinished ?? 2;
    this.quotaTotal = opts.quotaTotal ?? 25;
    this.version = opts.version ?? 'v25.0';
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

  /** The next `times` calls to `endpoint` fail with `fault`. */
  failNext(endpoint: FakeEndpoint, fault: Fault, times = 1): void {
    this.faults.push({ endpoint, fault, times });
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

  reset(): void {
    this.containers.clear();
    this.media.length = 0;
    this.requests.length = 0;
    this.faults = [];
    this.invalidTokens.clear();
    this.quotaUsedElsewhere.clear();
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
    if (--f.times <= 0) this.faults.splice(i, 1);
    return f.fault;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const url = new URL(req.url ?? '/', 'http://fake');
    const params: Record<string, string> = Object.fromEntries(url.searchParams);
    if (raw) Object.assign(params, Object.fromEntries(new URLSearchParams(raw)));
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = params.access_token ?? bearer ?? null;
    delete params.access_token;
    const segments = url.pathname.split('/').filter(Boolean);
    if (/^v\d+\.\d+$/.test(segments[0] ?? '')) segments.shift();
    const method = req.method ?? 'GET';
    const endpoint = this.route(method, segments);
    this.requests.push({ endpoint, method, path: `/${segments.join('/')}`, params, token, at: Date.now() });

    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
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
    if (!token) return fail({ status: 400, code: 190, message: 'An active access token must be used' });
    if (this.invalidTokens.has(token))
      return fail({
        status: 400,
        code: 190,
        subcode: 463,
        message: 'Error validating access token: Session has expired',
      });

    const result = this.answer(endpoint, method, segments, params);
    if (fault === 'lose_answer') {
      // The work is done, but the caller never hears about it.
      req.socket.destroy();
      return;
    }
    if ('error' in result) return fail(result.error);
    send(200, result.body);
  }

  private route(method: string, s: string[]): FakeEndpoint | 'unknown' {
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
        const isVideo = params.media_type === 'REELS';
        const mediaUrl = isVideo ? params.video_url : params.image_url;
        if (params.media_type === 'VIDEO')
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
        if (!mediaUrl.startsWith('https://'))
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
    }
  }
}
