/**
 * Channels (issue 13): how many comment changes per second
 * `/webhooks/instagram` stores (signature checked, 100 changes per delivery,
 * 10 deliveries in flight), the time each delivery takes to be answered,
 * and the lag from a stored comment to the fake Meta receiving its reply
 * when the budget allows it (p50, p99). One `npm start` process (ROLE=all).
 */
import http from 'node:http';
import { sql } from 'drizzle-orm';
import { connect } from '../server/db/client.ts';
import { freePort } from '../server/db/embedded.ts';
import type { FakeGraph } from '../server/graph/fake-graph.ts';
import { userWithToken } from '../test/helpers/users.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { median, percentile, sleep, startService } from './lib.ts';

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function post(port: number, path: string, body: string, headers: Record<string, string>) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += String(c)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A delivery of `n` new comments on one account's media, as Meta sends them. */
function delivery(igUserId: string, mediaId: string, start: number, n: number) {
  const changes = Array.from({ length: n }, (_, i) => ({
    field: 'comments',
    value: {
      id: `${igUserId}${String(start + i).padStart(9, '0')}`,
      text: `bench comment ${start + i}: price?`,
      from: { id: `9${start + i}`, username: `fan_${start + i}` },
      media: { id: mediaId, media_product_type: 'FEED' },
    },
  }));
  return JSON.stringify({
    object: 'instagram',
    entry: [{ id: igUserId, time: Math.floor(Date.now() / 1000), changes }],
  });
}

export async function channelsSuite(url: string, fake: FakeGraph, quick: boolean) {
  const port = await freePort();
  const database = connect(url, { max: 2 });
  const user = await userWithToken(database.db, 'bench-channels');
  const service = await startService(
    {
      ROLE: 'all',
      DATABASE_URL: url,
      PORT: String(port),
      HOST: '127.0.0.1',
      ...fake.env(),
      WEBHOOK_VERIFY_TOKEN: 'bench-verify-token',
      // Only OAuth's callback uses it here; production wants https when app ids are set.
      PUBLIC_URL: 'https://autopost.example.com',
      API_RATE_LIMIT: '0',
    },
    'listening on',
  );
  const api = (path: string, body: unknown) =>
    post(port, `/api/v1${path}`, JSON.stringify(body), { authorization: `Bearer ${user.token}` });
  try {
    // ---- intake: 100 changes per delivery, signed, 10 in flight.
    const accounts: { account: { igUserId: string }; media: { id: string } }[] = [];
    for (let i = 0; i < 5; i++) {
      const account = fake.addAccount();
      const res = await api('/instagrams', { token: fake.tokenFor(account.igUserId, 'ig_long') });
      if (res.status !== 201) throw new Error(`connect answered ${res.status}: ${res.text}`);
      accounts.push({ account, media: fake.addMedia(account.igUserId, 'bench') });
    }
    const deliveries = quick ? 40 : 400;
    const bodies = Array.from({ length: deliveries }, (_, d) => {
      const { account, media } = accounts[d % accounts.length]!;
      const body = delivery(account.igUserId, media.id, d * 100, 100);
      return { body, signature: fake.sign(body) };
    });
    const answerMs: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < bodies.length) {
          const { body, signature } = bodies[next++]!;
          const t0 = performance.now();
          const res = await post(port, '/webhooks/instagram', body, { 'x-hub-signature-256': signature });
          answerMs.push(performance.now() - t0);
          if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${res.text}`);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const [stored] = await database.db.execute<{ n: number }>(
      sql`select count(*)::int as n from instagram_comments`,
    );
    if (stored!.n !== deliveries * 100) throw new Error(`stored ${stored!.n} of ${deliveries * 100} changes`);
    // Replays change nothing: the same deliveries again store none.
    for (const { body, signature } of bodies.slice(0, 5)) {
      const res = await post(port, '/webhooks/instagram', body, { 'x-hub-signature-256': signature });
      if (!res.text.includes('"stored":0')) throw new Error(`a replay stored something: ${res.text}`);
    }
    await waitFor(
      'the stored comments processed',
      async () =>
        (
          await database.db.execute<{ n: number }>(
            sql`select count(*)::int as n from instagram_comments where processed_at is null`,
          )
        )[0]!.n === 0,
      120_000,
      200,
    );

    // ---- lag: a stored comment → the fake receives the reply (budget allows it).
    const target = fake.addAccount();
    const connected = await api('/instagrams', {
      token: fake.tokenFor(target.igUserId, 'ig_long'),
      speed: { comment: 10_000 },
    });
    const instagramId = (JSON.parse(connected.text) as { id: number }).id;
    const media = fake.addMedia(target.igUserId, 'lag');
    const created = await api(`/instagrams/${instagramId}/channels`, {
      action: 'comment',
      value: 'price',
      comments: ['Hi @{username}, sent you the price!'],
    });
    if (created.status !== 201) throw new Error(`channel answered ${created.status}: ${created.text}`);
    const samples = quick ? 10 : 100;
    const lagMs: number[] = [];
    for (let i = 0; i < samples; i++) {
      const c = fake.addComment(media.id, { text: `what is the price? ${i}` });
      const { body, signature } = fake.webhookDelivery([c]);
      const res = await post(port, '/webhooks/instagram', body, { 'x-hub-signature-256': signature });
      const storedAt = performance.now();
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}`);
      await waitFor('the reply', () => fake.repliesTo(c.id).length > 0, 30_000, 2);
      lagMs.push(performance.now() - storedAt);
      await sleep(50);
    }
    const round = (x: number) => Math.round(x);
    return {
      intake: {
        deliveries,
        changesPerDelivery: 100,
        inFlight: 10,
        seconds: Math.round(seconds * 100) / 100,
        changesPerSecond: round((deliveries * 100) / seconds),
        answerMs: {
          p50: round(median(answerMs)),
          p99: round(percentile(answerMs, 99)),
          max: round(Math.max(...answerMs)),
        },
      },
      replyLag: {
        samples,
        graphLatencyMs: fake.latencyMs,
        p50: round(median(lagMs)),
        p99: round(percentile(lagMs, 99)),
      },
    };
  } finally {
    await service.stop();
    await database.close();
  }
}
