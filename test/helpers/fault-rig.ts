import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import postgres from 'postgres';
import { inject } from 'vitest';
import { createSession } from '../../server/auth/sessions.ts';
import { createUser } from '../../server/auth/users.ts';
import { connect } from '../../server/db/client.ts';
import { freePort } from '../../server/db/embedded.ts';
import { FakeGraph } from '../../server/graph/fake-graph.ts';
import { copyTemplate } from './db.ts';
import { FaultProxy } from './fault-proxy.ts';
import { jsonClient } from './http.ts';
import { GRAPH_TOKEN } from './post-fixtures.ts';
import { waitFor } from './wait.ts';

/** Receives the service's outgoing webhooks on loopback; counts distinct deliveries by webhook-id. */
class Receiver {
  readonly ids = new Map<string, number>();
  private server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      this.ids.set(id, (this.ids.get(id) ?? 0) + 1);
      res.writeHead(200).end('ok');
    });
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

export interface Probe {
  path: string;
  status: number | 'no answer';
  ms: number;
}

/**
 * One spawned `server/main.ts` whose database connections all go through a
 * FaultProxy, a fake Meta, and a webhook receiver: what the fault tests need
 * to break the database under a burst and count what reached Meta.
 */
export class FaultRig {
  readonly proxy: FaultProxy;
  readonly fake = new FakeGraph({ latencyMs: 100 });
  readonly receiver = new Receiver();
  /** A direct connection to the test database (not through the proxy), for checks. */
  check!: postgres.Sql;
  token = '';
  base = '';
  dbName = '';
  private child?: ChildProcess;
  private log = '';
  exitCode: number | null = null;

  constructor(private readonly opts: { concurrency: number; env?: Record<string, string> }) {
    const admin = new URL(inject('adminUrl'));
    this.proxy = new FaultProxy({ host: admin.hostname, port: Number(admin.port) });
  }

  get output(): string {
    return this.log;
  }

  async start(): Promise<void> {
    await this.proxy.start();
    await this.fake.start();
    await this.receiver.start();
    this.dbName = `autopost_fault_${randomBytes(5).toString('hex')}`;
    const url = await copyTemplate(inject('adminUrl'), inject('templateDatabase'), this.dbName);
    this.check = postgres(url, {
      max: 2,
      onnotice: () => {},
      connection: { application_name: 'fault-check' },
    });
    const setup = connect(url, { max: 2 });
    const user = await createUser(setup.db, {
      username: `${this.dbName}@example.com`,
      password: 'long enough',
    });
    this.token = (await createSession(setup.db, { userId: user.id, kind: 'api', ttlSeconds: 3600 })).token;
    await setup.close();

    const port = await freePort();
    this.base = `http://127.0.0.1:${port}`;
    this.child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: {
        ...process.env,
        ROLE: 'all',
        PORT: String(port),
        DATABASE_URL: this.proxy.urlFor(url),
        ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        WORKER_CONCURRENCY: String(this.opts.concurrency),
        WORKER_POLL_INTERVAL_MS: '200',
        LOG_LEVEL: 'warn',
        API_RATE_LIMIT: '0',
        MEDIA_PREFLIGHT: 'off',
        WEBHOOK_ALLOW_PRIVATE_HOSTS: 'true',
        // Meta's comment webhooks reach us (channels), signed with the fake's app secrets.
        ...this.fake.env(),
        GRAPH_API_URL: this.fake.url,
        WEBHOOK_VERIFY_TOKEN: 'fault-verify-token',
        ...this.opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.child.once('exit', (code) => (this.exitCode = code ?? -1));
    await waitFor(
      'the service to answer',
      async () => (await fetch(`${this.base}/readyz`).catch(() => null))?.ok,
      30_000,
    );
    const hook = await this.api('POST', '/webhooks', {
      body: { url: `${this.receiver.url}/hook`, events: ['post.published'] },
    });
    if (hook.status !== 201) throw new Error(`webhook endpoint: ${hook.status}`);
  }

  async stop(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.check?.end({ timeout: 5 });
    await this.proxy.stop();
    await this.fake.stop();
    await this.receiver.stop();
    const admin = postgres(inject('adminUrl'), { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists "${this.dbName}" with (force)`).catch(() => undefined);
    await admin.end({ timeout: 5 });
  }

  /**
   * A connected account with a channel that replies to comments containing "price", and a comment
   * delivered by Meta's webhook: its reply is an action waiting to run. Returns the comment's id.
   */
  async channelAction(): Promise<string> {
    const account = this.fake.addAccount();
    const connected = await this.api('POST', '/instagrams', {
      body: { token: this.fake.tokenFor(account.igUserId, 'ig_long') },
    });
    if (connected.status !== 201)
      throw new Error(`connect: ${connected.status} ${JSON.stringify(connected.body)}`);
    const channel = await this.api('POST', `/instagrams/${connected.body.id}/channels/`, {
      body: {
        action: 'comment',
        target: 'comments',
        value: 'price',
        comments: ['Hi @{username}, see your DMs'],
      },
    });
    if (channel.status !== 201) throw new Error(`channel: ${channel.status} ${JSON.stringify(channel.body)}`);
    const media = this.fake.addMedia(account.igUserId, 'on sale');
    const comment = this.fake.addComment(media.id, { text: 'what is the price?' });
    const delivery = this.fake.webhookDelivery([comment]);
    const res = await fetch(`${this.base}/webhooks/instagram`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': delivery.signature },
      body: delivery.body,
    });
    if (res.status !== 200) throw new Error(`comment webhook: ${res.status}`);
    return comment.id;
  }

  /**
   * An upload whose body trickles in over `ms` (so that it is still arriving when the fault
   * starts). Resolves with the answer's status and body.
   */
  trickleUpload(file: Buffer, ms: number): Promise<{ status: number; body: Record<string, unknown> | null }> {
    const pieces = 20;
    const size = Math.ceil(file.length / pieces);
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const i = (this as unknown as { i?: number }).i ?? 0;
        (this as unknown as { i: number }).i = i + 1;
        if (i >= pieces) return controller.close();
        await new Promise((r) => setTimeout(r, ms / pieces));
        controller.enqueue(file.subarray(i * size, (i + 1) * size));
      },
    });
    return fetch(`${this.base}/api/v1/media`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}`, 'content-type': 'image/jpeg' },
      body,
      duplex: 'half',
      signal: AbortSignal.timeout(60_000),
    })
      .then(async (res) => ({ status: res.status, body: (await res.json().catch(() => null)) as never }))
      .catch(() => ({ status: 0, body: null }));
  }

  api(method: string, path: string, opts: { body?: unknown } = {}) {
    return jsonClient(`${this.base}/api/v1`)(method, path, { ...opts, token: this.token });
  }

  /** `count` posts due at `due`, spread over accounts so that Meta's limit of 25 a day holds. */
  async burst(count: number, due: Date, tag: string): Promise<string[]> {
    const captions = Array.from({ length: count }, (_, i) => `${tag} #${i}`);
    for (let i = 0; i < count; i += 10) {
      await Promise.all(
        captions.slice(i, i + 10).map(async (caption, j) => {
          const res = await this.api('POST', '/posts', {
            body: {
              user_id: String(7000 + ((i + j) % Math.ceil(count / 20))),
              content_type: 'Photo',
              url: 'https://cdn.example.com/a.jpg',
              caption,
              token: GRAPH_TOKEN,
              date_pub: due.toISOString(),
            },
          });
          if (res.status !== 201) throw new Error(`create: ${res.status} ${JSON.stringify(res.body)}`);
        }),
      );
    }
    return captions;
  }

  /** Asks /readyz and GET /posts every 500 ms until stopped; each answer (or none in 15 s) recorded. */
  probe(): { stop: () => Promise<Probe[]> } {
    const probes: Probe[] = [];
    let running = true;
    const one = async (path: string, headers: Record<string, string>) => {
      const started = performance.now();
      const res = await fetch(`${this.base}${path}`, { headers, signal: AbortSignal.timeout(15_000) }).catch(
        () => null,
      );
      await res?.arrayBuffer().catch(() => undefined);
      probes.push({ path, status: res?.status ?? 'no answer', ms: Math.round(performance.now() - started) });
    };
    const loop = (async () => {
      while (running) {
        await Promise.all([
          one('/readyz', {}),
          one('/api/v1/posts?limit=1', { authorization: `Bearer ${this.token}` }),
          new Promise((r) => setTimeout(r, 500)),
        ]);
      }
    })();
    return {
      stop: async () => {
        running = false;
        await loop;
        return probes;
      },
    };
  }

  /** Waits until every post is published, then returns how many times Meta published each caption. */
  async publishedCounts(captions: string[], timeoutMs: number): Promise<Map<string, number>> {
    try {
      await waitFor(
        'every post published',
        async () =>
          (
            await this.check`select count(*)::int as n from posts
                             where status = 'published' and caption = any(${captions})`
          )[0]!.n === captions.length,
        timeoutMs,
        250,
      );
    } catch (error) {
      const states = await this.check`select status, count(*)::int as n from posts group by 1`;
      const stuck = await this.check`
        select p.id, p.status, p.lease_owner, p.lease_expires_at, p.publish_requested_at, j.run_at, j.attempts,
               j.locked_by, left(j.last_error, 120) as last_error
        from posts p left join graphile_worker.jobs j on j.key = 'post:' || p.id
        where p.status <> 'published' limit 5`;
      throw new Error(
        `${String(error)}; posts: ${JSON.stringify(states)}; not published: ${JSON.stringify(stuck)}; log: ${this.log.slice(-1500)}`,
      );
    }
    return new Map(captions.map((c) => [c, this.fake.mediaWithCaption(c).length]));
  }
}

/** Captions Meta published other than exactly once. */
export function notOnce(counts: Map<string, number>): string[] {
  return [...counts].filter(([, n]) => n !== 1).map(([c, n]) => `${c}: ${n}`);
}
