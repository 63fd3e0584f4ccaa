/**
 * `npm run bench [-- --quick]`: measures what users feel, against the targets
 * of issue 5, and writes bench/results/latest.json and bench/REPORT.md.
 * Servers and workers run as real processes (server/main.ts through tsx, as
 * `npm start` runs it); Meta is the fake Graph API with a set latency.
 * Every figure is a median over repeated runs where repeating is affordable.
 */
import { channelsSuite } from './channels.ts';
import { mediaSuite } from './media.ts';
import { spawn } from 'node:child_process';
import { execSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import postgres from 'postgres';
import { connect, withDatabase, type Database } from '../server/db/client.ts';
import { startEmbeddedPostgres, freePort } from '../server/db/embedded.ts';
import { migrateDatabase } from '../server/db/migrate.ts';
import { FakeGraph } from '../server/graph/fake-graph.ts';
import { createLogger } from '../server/logger.ts';
import { copyTemplate } from '../test/helpers/db.ts';
import { userWithToken } from '../test/helpers/users.ts';
import { waitFor } from '../test/helpers/wait.ts';
import {
  machineCpu,
  processCpuSeconds,
  median,
  percentile,
  seedPosts,
  sleep,
  startService,
  type ServiceProcess,
} from './lib.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(root, 'bench') },
    only: { type: 'string' },
  },
});
const QUICK = args.quick === true;
const SIZE = QUICK
  ? {
      seed: 300,
      duration: 1,
      repeats: 1,
      precisionPosts: 20,
      precisionSpreadS: 4,
      burst: 60,
      concurrencies: [10],
      scaleOut: 60,
      fairnessBurst: 200,
      fairnessSeconds: 5,
      loginAttempts: 100,
    }
  : {
      seed: 10_000,
      duration: 4,
      repeats: 3,
      precisionPosts: 300,
      precisionSpreadS: 60,
      burst: 5000,
      concurrencies: [10, 50, 100],
      scaleOut: 5000,
      fairnessBurst: 5000,
      fairnessSeconds: 60,
      loginAttempts: 1000,
    };
const GRAPH_CALLS_PER_PHOTO = 4; // content_publishing_limit, create container, media_publish, permalink
const log = (msg: string) => process.stdout.write(`${msg}\n`);
const results: Record<string, unknown> = {};

// ---- the database cluster ---------------------------------------------------------------

async function cluster(): Promise<{ adminUrl: string; stop: () => Promise<void> }> {
  const given = process.env.DATABASE_URL?.trim();
  if (given) return { adminUrl: given, stop: async () => {} };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'autopost-bench-pg-'));
  chmodSync(dir, 0o755);
  // Default durability settings: the benchmark measures what production would see.
  const pg = await startEmbeddedPostgres({
    dir: path.join(dir, 'pg'),
    logger: createLogger('warn', 2),
    ephemeral: true,
    settings: { max_connections: '400' },
  });
  return {
    adminUrl: pg.adminUrl,
    stop: async () => {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- API overhead ---------------------------------------------------------------------

interface LoadFigures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function loadOnce(opts: autocannon.Options): Promise<LoadFigures> {
  const r = await autocannon({ duration: SIZE.duration, ...opts });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx };
}

const medianOf = (runs: LoadFigures[]): LoadFigures => ({
  rps: median(runs.map((r) => r.rps)),
  p50: median(runs.map((r) => r.p50)),
  p99: median(runs.map((r) => r.p99)),
  errors: runs.reduce((a, r) => a + r.errors, 0),
});

/**
 * Baseline, REST and tRPC back to back in every repeat, so drift in the
 * machine's speed hits all three alike; ratios are medians of per-repeat ratios.
 */
async function compare(targets: {
  baseline: autocannon.Options;
  rest: autocannon.Options;
  trpc: autocannon.Options;
}) {
  const runs = { baseline: [] as LoadFigures[], rest: [] as LoadFigures[], trpc: [] as LoadFigures[] };
  for (let i = 0; i < SIZE.repeats; i++) {
    for (const side of ['baseline', 'rest', 'trpc'] as const) runs[side].push(await loadOnce(targets[side]));
  }
  return {
    baseline: medianOf(runs.baseline),
    rest: medianOf(runs.rest),
    trpc: medianOf(runs.trpc),
    restRatio: median(runs.rest.map((r, i) => r.rps / runs.baseline[i]!.rps)),
    trpcRatio: median(runs.trpc.map((r, i) => r.rps / runs.baseline[i]!.rps)),
  };
}

let accountCounter = 0;
const createBody = () =>
  JSON.stringify({
    // A new account each time: the 24-hour publishing limit would refuse the 26th post of one.
    user_id: String(5_000_000 + ++accountCounter),
    content_type: 'Photo',
    url: 'https://cdn.example.com/bench.jpg',
    caption: 'Benchmark #bench',
    user_tags: [{ username: 'someone', x: 0.5, y: 0.5 }],
    token: 'EAAG-bench-token',
    date_pub: '2030-01-01T00:00:00Z',
  });

async function apiSuite(adminUrl: string, template: string) {
  log('\n== API overhead');
  const url = await copyTemplate(adminUrl, template, 'bench_api');
  const database = connect(url, { max: 4 });
  const user = await userWithToken(database.db);
  const ids = await seedPosts(database, {
    ownerId: user.id,
    count: SIZE.seed,
    datePub: () => new Date('2030-01-01T00:00:00Z'),
    accounts: 1000,
    captionPrefix: 'seed ',
    jobs: true,
  });
  const ourPort = await freePort();
  const ours = await startService(
    {
      ROLE: 'api',
      DATABASE_URL: url,
      PORT: String(ourPort),
      HOST: '127.0.0.1',
      // Like for like with the baseline, which has none; its cost is measured on its own below.
      API_RATE_LIMIT: '0',
      MAX_SCHEDULED_POSTS: '10000000',
    },
    'listening on',
  );
  const basePort = await freePort();
  const baseline = spawn(process.execPath, ['--import', 'tsx', 'bench/baseline-server.ts'], {
    env: { ...process.env, DATABASE_URL: url, PORT: String(basePort) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => baseline.stdout?.once('data', () => resolve()));

  const headers = { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' };
  const randomId = () => ids[Math.floor(Math.random() * ids.length)]!;
  const ops = {
    createPost: {
      rest: (base: string): autocannon.Options => ({
        url: `${base}/api/v1/posts`,
        method: 'POST',
        headers,
        requests: [{ setupRequest: (r) => ({ ...r, body: createBody() }) }],
      }),
      trpc: (base: string): autocannon.Options => ({
        url: `${base}/trpc/posts.create`,
        method: 'POST',
        headers,
        requests: [{ setupRequest: (r) => ({ ...r, body: createBody() }) }],
      }),
      baseline: (base: string): autocannon.Options => ({
        url: `${base}/posts`,
        method: 'POST',
        headers,
        requests: [{ setupRequest: (r) => ({ ...r, body: createBody() }) }],
      }),
    },
    getPost: {
      rest: (base: string): autocannon.Options => ({
        url: base,
        headers,
        requests: [{ setupRequest: (r) => ({ ...r, path: `/api/v1/posts/${randomId()}` }) }],
      }),
      trpc: (base: string): autocannon.Options => ({
        url: base,
        headers,
        requests: [
          {
            setupRequest: (r) => ({
              ...r,
              path: `/trpc/posts.get?input=${encodeURIComponent(JSON.stringify({ id: randomId() }))}`,
            }),
          },
        ],
      }),
      baseline: (base: string): autocannon.Options => ({
        url: base,
        headers,
        requests: [{ setupRequest: (r) => ({ ...r, path: `/posts/${randomId()}` }) }],
      }),
    },
    listPosts: {
      rest: (base: string): autocannon.Options => ({ url: `${base}/api/v1/posts?limit=50`, headers }),
      trpc: (base: string): autocannon.Options => ({
        url: `${base}/trpc/posts.list?input=${encodeURIComponent(JSON.stringify({ limit: 50 }))}`,
        headers,
      }),
      baseline: (base: string): autocannon.Options => ({ url: `${base}/posts?limit=50`, headers }),
    },
  };
  const ourBase = `http://127.0.0.1:${ourPort}`;
  const baseBase = `http://127.0.0.1:${basePort}`;
  const rows: Record<string, unknown>[] = [];
  for (const [op, targets] of Object.entries(ops)) {
    for (const connections of [1, 50]) {
      const measured = await compare({
        baseline: { ...targets.baseline(baseBase), connections },
        rest: { ...targets.rest(ourBase), connections },
        trpc: { ...targets.trpc(ourBase), connections },
      });
      const { rest, trpc, baseline: base } = measured;
      const row = { op, connections, ...measured };
      rows.push(row);
      log(
        `${op} c=${connections}: REST ${rest.rps.toFixed(0)} req/s (p50 ${rest.p50} ms, p99 ${rest.p99} ms) · tRPC ${trpc.rps.toFixed(0)} · baseline ${base.rps.toFixed(0)} → REST/baseline ${measured.restRatio.toFixed(2)}`,
      );
    }
  }
  results.api = { postsPresent: SIZE.seed, durationS: SIZE.duration, repeats: SIZE.repeats, rows };
  results.api = { ...(results.api as object), rateLimit: await rateLimitCost(database, ourBase, url) };
  await ours.stop();
  baseline.kill('SIGTERM');
  await database.close();
}

// ---- publishing ---------------------------------------------------------------------------

async function publishedCount(database: Database): Promise<number> {
  const [row] = await database.sql<
    { n: number }[]
  >`select count(*)::int as n from posts where status = 'published'`;
  return row!.n;
}

async function workers(
  url: string,
  graphUrl: string,
  concurrency: number,
  count: number,
  role = 'worker',
): Promise<ServiceProcess[]> {
  const procs: ServiceProcess[] = [];
  for (let i = 0; i < count; i++) {
    procs.push(
      await startService(
        {
          ROLE: role,
          DATABASE_URL: url,
          GRAPH_API_URL: graphUrl,
          WORKER_CONCURRENCY: String(concurrency),
          HOST: '127.0.0.1',
          PORT: String(await freePort()),
        },
        'publishing worker started',
      ),
    );
  }
  return procs;
}

async function precisionSuite(adminUrl: string, template: string, fake: FakeGraph) {
  log('\n== Publish-time precision');
  fake.reset();
  fake.latencyMs = 50;
  const url = await copyTemplate(adminUrl, template, 'bench_precision');
  const database = connect(url, { max: 4 });
  const user = await userWithToken(database.db);
  const procs = await workers(url, fake.url, 10, 1);
  const start = Date.now() + (QUICK ? 2000 : 5000);
  const step = (SIZE.precisionSpreadS * 1000) / SIZE.precisionPosts;
  const due = new Map<string, number>();
  await seedPosts(database, {
    ownerId: user.id,
    count: SIZE.precisionPosts,
    // Whole seconds plus a spread inside the second, as the API would store them (to the second) is too coarse here.
    datePub: (i) => new Date(start + i * step),
    accounts: 100,
    captionPrefix: 'precision ',
    jobs: true,
  });
  for (let i = 0; i < SIZE.precisionPosts; i++) due.set(`precision ${i}`, start + i * step);
  await waitFor(
    'precision posts published',
    async () => (await publishedCount(database)) === SIZE.precisionPosts,
    SIZE.precisionSpreadS * 1000 + 60_000,
    250,
  );
  const lags = fake.requests
    .filter((r) => r.endpoint === 'create')
    .map((r) => r.at - due.get(r.params.caption!)!);
  const figures = {
    posts: SIZE.precisionPosts,
    spreadS: SIZE.precisionSpreadS,
    latencyMs: 50,
    p50: percentile(lags, 50),
    p95: percentile(lags, 95),
    p99: percentile(lags, 99),
    max: Math.max(...lags),
    min: Math.min(...lags),
  };
  results.precision = figures;
  log(
    `lag (container request − date_pub): p50 ${figures.p50} ms, p95 ${figures.p95} ms, p99 ${figures.p99} ms, max ${figures.max} ms`,
  );
  for (const p of procs) await p.stop();
  await database.close();
}

async function burst(
  adminUrl: string,
  template: string,
  fake: FakeGraph,
  concurrency: number,
  processes: number,
  posts: number,
  role = 'worker',
) {
  fake.reset();
  fake.latencyMs = 100;
  const url = await copyTemplate(adminUrl, template, `bench_burst_${concurrency}_${processes}`);
  const database = connect(url, { max: 4 });
  const user = await userWithToken(database.db);
  const procs = await workers(url, fake.url, concurrency, processes, role);
  await sleep(1000);
  const idleRss = procs[0]!.rss();
  const due = Date.now() + 3000;
  const cpuBefore = machineCpu();
  const workerCpuBefore = procs.map((p) => processCpuSeconds(p.pid));
  await seedPosts(database, {
    ownerId: user.id,
    count: posts,
    datePub: () => new Date(due),
    accounts: Math.ceil(posts / 20),
    captionPrefix: 'burst ',
    jobs: true,
  });
  await waitFor(
    'the burst to be published',
    async () => (await publishedCount(database)) === posts,
    30 * 60_000,
    100,
  );
  const seconds = (Date.now() - due) / 1000;
  const cpuAfter = machineCpu();
  const workerCpu = procs.reduce((sum, p, i) => sum + processCpuSeconds(p.pid) - workerCpuBefore[i]!, 0);
  const counts = [...fake.publishCounts().values()];
  const [lost] = await database.sql<
    { n: number }[]
  >`select count(*)::int as n from posts where status <> 'published'`;
  const rate = posts / seconds;
  const ideal = (concurrency * processes) / (GRAPH_CALLS_PER_PHOTO * (fake.latencyMs / 1000));
  const figures = {
    posts,
    concurrency,
    processes,
    seconds: Number(seconds.toFixed(2)),
    postsPerSecond: Number(rate.toFixed(1)),
    ideal: Number(ideal.toFixed(1)),
    efficiency: Number((rate / ideal).toFixed(3)),
    duplicates: counts.filter((n) => n > 1).length,
    lost: lost!.n,
    /** Share of both cores busy (any process) from the due instant to the last publish. */
    machineCpuBusy: Number(
      ((cpuAfter.busy - cpuBefore.busy) / (cpuAfter.total - cpuBefore.total)).toFixed(3),
    ),
    /** CPU milliseconds the worker process(es) spent per post. */
    workerCpuMsPerPost: Number(((workerCpu * 1000) / posts).toFixed(2)),
    idleRssMb: Number((idleRss / 2 ** 20).toFixed(1)),
    peakRssMb: Number(Math.max(...procs.map((p) => p.peakRss() / 2 ** 20)).toFixed(1)),
  };
  for (const p of procs) await p.stop();
  await database.close();
  return figures;
}

async function burstSuite(adminUrl: string, template: string, fake: FakeGraph) {
  log('\n== Burst drain');
  const rows = [];
  for (const c of SIZE.concurrencies) {
    const f = await burst(adminUrl, template, fake, c, 1, SIZE.burst);
    rows.push(f);
    log(
      `c=${c}: ${f.posts} posts in ${f.seconds} s = ${f.postsPerSecond}/s (ideal ${f.ideal}/s, efficiency ${f.efficiency}), duplicates ${f.duplicates}, lost ${f.lost}`,
    );
  }
  results.burst = { rows };
}

async function scaleOutSuite(adminUrl: string, template: string, fake: FakeGraph) {
  log('\n== Scale-out');
  const c = QUICK ? 10 : 50;
  const one = await burst(adminUrl, template, fake, c, 1, SIZE.scaleOut);
  const two = await burst(adminUrl, template, fake, c, 2, SIZE.scaleOut);
  results.scaleOut = {
    concurrencyPerProcess: c,
    one,
    two,
    speedup: Number((one.seconds / two.seconds).toFixed(2)),
  };
  log(
    `1 process: ${one.postsPerSecond}/s · 2 processes: ${two.postsPerSecond}/s → speed-up ${(one.seconds / two.seconds).toFixed(2)}x; duplicates ${one.duplicates + two.duplicates}, lost ${one.lost + two.lost}`,
  );
}

async function memorySuite(adminUrl: string, template: string, fake: FakeGraph) {
  log('\n== Memory of `npm start` (ROLE=all)');
  const url = await copyTemplate(adminUrl, template, 'bench_memory_warm');
  const port = await freePort();
  const proc = await startService(
    { ROLE: 'all', DATABASE_URL: url, GRAPH_API_URL: fake.url, PORT: String(port), HOST: '127.0.0.1' },
    'listening on',
  );
  const database = connect(url, { max: 2 });
  const user = await userWithToken(database.db);
  // Warm up: a few hundred requests over both transports, then let it settle.
  await autocannon({
    url: `http://127.0.0.1:${port}/api/v1/posts?limit=50`,
    headers: { authorization: `Bearer ${user.token}` },
    amount: 500,
    connections: 10,
  });
  await sleep(QUICK ? 1000 : 5000);
  const idle = proc.rss();
  await proc.stop();
  await database.close();
  // Peak: the same process kind working through a burst at WORKER_CONCURRENCY=50.
  const burstFigures = await burst(adminUrl, template, fake, 50, 1, QUICK ? 60 : 5000, 'all');
  results.memory = {
    idleRssMb: Number((idle / 2 ** 20).toFixed(1)),
    peakRssMb: burstFigures.peakRssMb,
    during: `burst of ${burstFigures.posts} posts at concurrency 50`,
  };
  log(
    `idle after warm-up ${(idle / 2 ** 20).toFixed(1)} MB · peak during the burst ${burstFigures.peakRssMb} MB`,
  );
}

// ---- report ---------------------------------------------------------------------------------

function report(settings: Record<string, unknown>): string {
  const r = results as any;
  const lines = [
    '# Benchmark report',
    '',
    `- machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`,
    `- date: ${new Date().toISOString()}`,
    `- commit: ${String(settings.commit)}`,
    `- settings: ${JSON.stringify(settings)}`,
    '',
  ];
  const cpu = (b: { machineCpuBusy?: number; workerCpuMsPerPost?: number }) =>
    b.machineCpuBusy === undefined
      ? 'n/a | n/a'
      : `${(b.machineCpuBusy * 100).toFixed(0)}% | ${b.workerCpuMsPerPost} ms`;
  const measured = (section: { commit?: string; measuredAt?: string }) =>
    section.commit ? `_Measured ${section.measuredAt} at commit ${section.commit}._` : '';
  if (r.api) {
    lines.push(
      '## API overhead',
      '',
      measured(r.api),
      '',
      `${r.api.postsPresent} posts present; ${r.api.durationS} s per run; baseline, REST and tRPC interleaved ${r.api.repeats} times; medians, and ratios as medians of per-repeat ratios. Target: REST ≥ 0.75 × baseline req/s.`,
      '',
    );
    lines.push(
      '| operation | conns | REST req/s | p50 / p99 ms | tRPC req/s | p50 / p99 ms | baseline req/s | p50 / p99 ms | REST / baseline | tRPC / baseline |',
      '|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const x of r.api.rows)
      lines.push(
        `| ${x.op} | ${x.connections} | ${x.rest.rps.toFixed(0)} | ${x.rest.p50} / ${x.rest.p99} | ${x.trpc.rps.toFixed(0)} | ${x.trpc.p50} / ${x.trpc.p99} | ${x.baseline.rps.toFixed(0)} | ${x.baseline.p50} / ${x.baseline.p99} | **${x.restRatio.toFixed(2)}** | ${x.trpcRatio.toFixed(2)} |`,
      );
    lines.push('');
    if (r.api.rateLimit) {
      lines.push(
        'The rows above run with `API_RATE_LIMIT=0`, like the baseline. What the limit costs (getPost over REST, a limit the load never reaches, medians of per-repeat ratios):',
        '',
        '| connections | users | limit off req/s | limit on req/s | on / off | errors |',
        '|---|---|---|---|---|---|',
        ...r.api.rateLimit.map(
          (x: any) =>
            `| ${x.connections} | ${x.users} | ${x.offRps.toFixed(0)} | ${x.onRps.toFixed(0)} | **${x.ratio.toFixed(2)}** | ${x.errors} |`,
        ),
        '',
      );
    }
  }
  if (r.precision) {
    const p = r.precision;
    lines.push(
      '## Publish-time precision',
      '',
      measured(p),
      '',
      `${p.posts} posts spread over ${p.spreadS} s, fake Graph latency ${p.latencyMs} ms; lag = container request received − date_pub. Target: p99 ≤ 1000 ms.`,
      '',
      '| p50 | p95 | p99 | max |',
      '|---|---|---|---|',
      `| ${p.p50} ms | ${p.p95} ms | **${p.p99} ms** | ${p.max} ms |`,
      '',
    );
  }
  if (r.burst) {
    lines.push(
      '## Burst drain',
      '',
      measured(r.burst),
      '',
      `Photo posts due at one instant, fake Graph latency 100 ms, ${GRAPH_CALLS_PER_PHOTO} Graph calls per post. Efficiency = posts/s ÷ (concurrency ÷ (calls × latency)). Target: ≥ 0.8 at 50.`,
      '',
      '| concurrency | posts | seconds | posts/s | ideal/s | efficiency | CPU busy (2 cores) | worker CPU/post | duplicates | lost | peak RSS |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const b of r.burst.rows)
      lines.push(
        `| ${b.concurrency} | ${b.posts} | ${b.seconds} | ${b.postsPerSecond} | ${b.ideal} | **${b.efficiency}** | ${cpu(b)} | ${b.duplicates} | ${b.lost} | ${b.peakRssMb} MB |`,
      );
    lines.push('');
  }
  if (r.scaleOut) {
    const s = r.scaleOut;
    lines.push(
      '## Scale-out',
      '',
      measured(s),
      '',
      `The burst with one and with two worker processes (concurrency ${s.concurrencyPerProcess} each) on one database.`,
      '',
      '| processes | seconds | posts/s | efficiency | CPU busy (2 cores) | worker CPU/post | duplicates | lost |',
      '|---|---|---|---|---|---|---|---|',
      `| 1 | ${s.one.seconds} | ${s.one.postsPerSecond} | ${s.one.efficiency} | ${cpu(s.one)} | ${s.one.duplicates} | ${s.one.lost} |`,
      `| 2 | ${s.two.seconds} | ${s.two.postsPerSecond} | ${s.two.efficiency} | ${cpu(s.two)} | ${s.two.duplicates} | ${s.two.lost} |`,
      '',
      `Speed-up: **${s.speedup}×**.`,
      '',
    );
  }
  if (r.memory) {
    lines.push(
      '## Memory',
      '',
      measured(r.memory),
      '',
      `Resident memory of the server process started as \`npm start\` runs it (ROLE=all). Targets: ≤ 150 MB idle, ≤ 350 MB peak.`,
      '',
      '| idle after warm-up | peak |',
      '|---|---|',
      `| **${r.memory.idleRssMb} MB** | **${r.memory.peakRssMb} MB** (${r.memory.during}) |`,
      '',
    );
  }
  if (r.fairness) {
    const f = r.fairness;
    lines.push(
      '## Fairness',
      '',
      measured(f),
      '',
      `One user's ${f.burst} photo posts due at once drain (one process, concurrency ${f.concurrency}, fake Graph latency ${f.latencyMs} ms) while another user schedules a post due every second for ${f.otherPosts} s; lag = container request − date_pub of the other user's posts. Target: p99 ≤ 2000 ms.`,
      '',
      '| p50 | p99 | max | burst posts published meanwhile |',
      '|---|---|---|---|',
      `| ${f.p50} ms | **${f.p99} ms** | ${f.max} ms | ${f.heavyPublishedMeanwhile} |`,
      '',
    );
  }
  if (r.login) {
    const l = r.login;
    lines.push(
      '## Login under attack',
      '',
      measured(l),
      '',
      `${l.attempts} concurrent wrong-password logins for one username, each on its own connection, from a load-generator process of its own (bench/flood.ts) on the same 2 cores; meanwhile another user logs in 5 times, one after the other, on a connection it already had open, then once on a new connection. The floor is the same number of concurrent requests to \`/healthz\`, which does no work. Targets: at most 5 passwords checked, the other login under 1 s.`,
      '',
      '| passwords checked (401) | refused (429) | refused busy (503) | whole attack | /healthz flood (floor) | other user’s logins, open connection | on a new connection |',
      '|---|---|---|---|---|---|---|',
      `| **${l.checked}** | ${l.refused429} | ${l.refused503} | ${l.attackMs} ms | ${l.healthzFloodMs} ms | ${l.bystanderMs.join(', ')} ms (max **${l.bystanderMaxMs} ms**) | ${l.bystanderFreshConnectionMs} ms |`,
      '',
    );
  }
  if (r.lanes) {
    const l = r.lanes;
    lines.push(
      '## Lanes: a webhook receiver that never answers',
      '',
      measured(l),
      '',
      `One user's ${l.webhookEndpoints} endpoints accept and never answer (10 s send timeout each); ${l.heavyPosts} of that user's posts are published, so ${l.deliveriesWaiting} deliveries wait (${l.tarpitRequestsHeld} reached the tarpit). Meanwhile another user schedules ${l.otherPosts} posts, one due each second; lag = container request − date_pub. Webhooks run in the background lane (WORKER_BACKGROUND_CONCURRENCY 5), posts in the publishing lane (WORKER_CONCURRENCY 10). Target: p99 ≤ 2 s.`,
      '',
      '| p50 | p99 | max |',
      '|---|---|---|',
      `| ${l.p50} ms | **${l.p99} ms** | ${l.max} ms |`,
      '',
    );
  }
  if (r.media) {
    const m = r.media;
    lines.push(
      '## Media uploads',
      '',
      measured(m),
      '',
      `One \`npm start\` process (ROLE=api, PostgreSQL storage). A ${m.video.sizeMb} MB QuickTime video uploaded by one client (raw body), then ${m.photos.clients} clients uploading a ${m.photos.photoMb} MB JPEG (3000×2200) at once, each converted to a 1440 px JPEG; RSS sampled every 20 ms. Idle RSS after warm-up ${m.idleRssMb} MB. Target: peak during the video upload at most 64 MB above idle.`,
      '',
      '| upload | throughput | time | peak RSS | above idle |',
      '|---|---|---|---|---|',
      `| ${m.video.sizeMb} MB video | ${m.video.mbPerSecond} MB/s | ${m.video.seconds} s | ${m.video.peakRssMb} MB | **${m.video.aboveIdleMb} MB** |`,
      `| ${m.photos.clients} × ${m.photos.photoMb} MB photos at once | ${m.photos.mbPerSecond} MB/s | ${m.photos.seconds} s | ${m.photos.peakRssMb} MB | ${m.photos.aboveIdleMb} MB |`,
      '',
      `12-megapixel HEIC (4032×3024) to a 1440 px JPEG: median **${m.heic12mpMs.median} ms** (runs: ${m.heic12mpMs.runs.join(', ')} ms).`,
      '',
    );
    if (m.slowReaders) {
      const s = m.slowReaders;
      lines.push(
        '### Slow readers of /m/',
        '',
        `${s.readers} clients each ask for a 50 MB upload, read 64 KB and stop, for ${s.holdS} s; meanwhile \`GET /api/v1/user\` is timed (${s.userMs.requests} requests). Downloads are capped (32 at once, 8 per file, 256 KiB each) and a reader idle for 20 s is cut off. Targets: RSS after within 10 % of before; API p99 < 200 ms.`,
        '',
        '| RSS before | peak | after | after ÷ before | API p50 | API p99 |',
        '|---|---|---|---|---|---|',
        `| ${s.beforeRssMb} MB | ${s.peakRssMb} MB | ${s.afterRssMb} MB | **${s.afterVsBefore}** | ${s.userMs.p50} ms | **${s.userMs.p99} ms** |`,
        '',
      );
    }
  }
  if (r.channels) {
    const c = r.channels;
    lines.push(
      '## Channels',
      '',
      measured(c),
      '',
      `One \`npm start\` process (ROLE=all) and the fake Meta (${c.replyLag.graphLatencyMs} ms per call). Intake: ${c.intake.deliveries} signed deliveries of ${c.intake.changesPerDelivery} comment changes each to \`/webhooks/instagram\`, ${c.intake.inFlight} in flight; each is stored (one INSERT, duplicates ignored) before the answer. Lag: ${c.replyLag.samples} comments delivered one at a time to an account whose channel replies to them and whose budget allows it, timed from the webhook's answer (the comment stored) until the fake Meta has the reply. Target: every delivery answered in under 1 s.`,
      '',
      '| intake | answer time per delivery | reply lag |',
      '|---|---|---|',
      `| **${c.intake.changesPerSecond} changes/s** (${c.intake.deliveries * c.intake.changesPerDelivery} in ${c.intake.seconds} s) | p50 ${c.intake.answerMs.p50} ms, p99 ${c.intake.answerMs.p99} ms, max ${c.intake.answerMs.max} ms | p50 **${c.replyLag.p50} ms**, p99 **${c.replyLag.p99} ms** |`,
      '',
    );
  }
  return lines.join('\n');
}

/**
 * What API_RATE_LIMIT costs a request: getPost over REST with the limit off
 * (the service above) and on (a second one with a limit the load never
 * reaches), for one user on one connection and for 50 users on 50
 * connections (each user its own counter row, as in real use).
 */
async function rateLimitCost(database: Database, offBase: string, url: string) {
  const users: { token: string; ids: number[] }[] = [];
  for (let i = 0; i < 50; i++) {
    const user = await userWithToken(database.db);
    const ids = await seedPosts(database, {
      ownerId: user.id,
      count: 20,
      datePub: () => new Date('2030-01-01T00:00:00Z'),
      accounts: 20,
      captionPrefix: 'limit ',
      jobs: false,
    });
    users.push({ token: user.token, ids });
  }
  const onPort = await freePort();
  const on = await startService(
    { ROLE: 'api', DATABASE_URL: url, PORT: String(onPort), HOST: '127.0.0.1', API_RATE_LIMIT: '1000000' },
    'listening on',
  );
  const load = (base: string, connections: number, spread: number): autocannon.Options => ({
    url: base,
    connections,
    requests: [
      {
        setupRequest: (r) => {
          const user = users[Math.floor(Math.random() * spread)]!;
          return {
            ...r,
            path: `/api/v1/posts/${user.ids[Math.floor(Math.random() * user.ids.length)]}`,
            headers: { authorization: `Bearer ${user.token}` },
          };
        },
      },
    ],
  });
  // The second service starts cold: warm its JIT as the first one was warmed by the suite above.
  await loadOnce({ ...load(`http://127.0.0.1:${onPort}`, 50, 50), duration: 3 });
  const rows = [];
  for (const [connections, spread] of [
    [1, 1],
    [50, 50],
  ] as const) {
    const off: LoadFigures[] = [];
    const onFigures: LoadFigures[] = [];
    for (let r = 0; r < SIZE.repeats; r++) {
      off.push(await loadOnce(load(offBase, connections, spread)));
      onFigures.push(await loadOnce(load(`http://127.0.0.1:${onPort}`, connections, spread)));
    }
    const row = {
      connections,
      users: spread,
      offRps: median(off.map((f) => f.rps)),
      onRps: median(onFigures.map((f) => f.rps)),
      ratio: median(off.map((f, i) => onFigures[i]!.rps / f.rps)),
      errors: onFigures.reduce((n, f) => n + f.errors, 0),
    };
    rows.push(row);
    log(
      `getPost with API_RATE_LIMIT, c=${connections}, ${spread} user(s): ${row.onRps.toFixed(0)} req/s vs ${row.offRps.toFixed(0)} off → ${row.ratio.toFixed(2)}`,
    );
  }
  await on.stop();
  return rows;
}

/**
 * Another user schedules a post due every second for `seconds` (created two
 * seconds ahead, as an app would); returns each one's lag, container request
 * − date_pub, which is what that user notices.
 */
async function otherUserLag(
  api: string,
  token: string,
  fake: FakeGraph,
  seconds: number,
  timeoutMs: number,
): Promise<{ lags: number[]; posts: number }> {
  const due = new Map<string, number>();
  for (let i = 0; i < seconds; i++) {
    const at = Math.ceil(Date.now() / 1000) * 1000 + 2000;
    const caption = `other ${i}`;
    const res = await fetch(`${api}/posts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        user_id: String(5000 + (i % 20)),
        content_type: 'Photo',
        url: 'https://cdn.example.com/other.jpg',
        caption,
        token: 'EAAG-bench-token',
        date_pub: new Date(at).toISOString(),
      }),
    });
    if (res.status !== 201) throw new Error(`other user's post refused: ${res.status} ${await res.text()}`);
    due.set(caption, at);
    await sleep(1000);
  }
  const created = () =>
    fake.requests.filter((r) => r.endpoint === 'create' && r.params.caption?.startsWith('other '));
  await waitFor("the other user's posts published", () => created().length === due.size, timeoutMs, 100);
  return { lags: created().map((r) => r.at - due.get(r.params.caption!)!), posts: due.size };
}

// ---- lanes --------------------------------------------------------------------------------

/**
 * Issue 21: one user's 50 webhook endpoints accept and never answer (each
 * delivery holds its job for the 10 s send timeout) while that user's posts
 * are published, so hundreds of deliveries wait; meanwhile another user
 * schedules a post due every second. Publishing has its own lane, so the
 * other user's lag is what it would be without the tarpit. Target: p99 ≤ 2 s.
 */
async function lanesSuite(adminUrl: string, template: string, fake: FakeGraph) {
  log('\n== Lanes: a tarpit webhook receiver');
  fake.reset();
  fake.latencyMs = 100;
  const tarpit = http.createServer(() => undefined);
  let held = 0;
  tarpit.on('request', () => held++);
  await new Promise<void>((r) => tarpit.listen(0, '127.0.0.1', r));
  const tarpitPort = (tarpit.address() as AddressInfo).port;
  const url = await copyTemplate(adminUrl, template, 'bench_lanes');
  const database = connect(url, { max: 4 });
  const heavy = await userWithToken(database.db);
  const other = await userWithToken(database.db);
  const port = await freePort();
  const proc = await startService(
    {
      ROLE: 'all',
      DATABASE_URL: url,
      GRAPH_API_URL: fake.url,
      HOST: '127.0.0.1',
      PORT: String(port),
      // The tarpit listens on loopback, which only a non-production server may send to; in
      // production it would be any public host that never answers, with the same effect.
      NODE_ENV: 'development',
      WEBHOOK_ALLOW_PRIVATE_HOSTS: 'true',
    },
    'listening on',
  );
  const api = `http://127.0.0.1:${port}/api/v1`;
  const endpoints = 50;
  for (let i = 0; i < endpoints; i++) {
    const res = await fetch(`${api}/webhooks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${heavy.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: `http://127.0.0.1:${tarpitPort}/hook/${i}`, events: ['post.published'] }),
    });
    if (res.status !== 201) throw new Error(`endpoint refused: ${res.status} ${await res.text()}`);
  }
  const heavyPosts = QUICK ? 4 : 20;
  await seedPosts(database, {
    ownerId: heavy.id,
    count: heavyPosts,
    datePub: () => new Date(),
    accounts: heavyPosts,
    captionPrefix: 'heavy ',
    jobs: true,
  });
  await waitFor('the tarpit holding deliveries', () => held >= 5, 30_000, 100);
  const { lags, posts } = await otherUserLag(api, other.token, fake, QUICK ? 5 : 30, 120_000);
  results.lanes = {
    webhookEndpoints: endpoints,
    heavyPosts,
    deliveriesWaiting: heavyPosts * endpoints,
    tarpitRequestsHeld: held,
    otherPosts: posts,
    p50: percentile(lags, 50),
    p99: percentile(lags, 99),
    max: Math.max(...lags),
  };
  log(
    `other user's publish lag with the tarpit: p50 ${percentile(lags, 50)} ms, p99 ${percentile(lags, 99)} ms`,
  );
  await proc.stop();
  await database.close();
  tarpit.closeAllConnections();
  tarpit.close();
}

// ---- fairness and login ------------------------------------------------------------------

/**
 * One user's burst drains while another user schedules a post due every
 * second; the other user's lag (container request − date_pub) is what a
 * user notices. The burst's jobs carry the priority the API gives them.
 */
async function fairnessSuite(adminUrl: string, template: string, fake: FakeGraph) {
  log('\n== Fairness');
  fake.reset();
  fake.latencyMs = 100;
  const url = await copyTemplate(adminUrl, template, 'bench_fairness');
  const database = connect(url, { max: 4 });
  const heavy = await userWithToken(database.db);
  const other = await userWithToken(database.db);
  const port = await freePort();
  const proc = await startService(
    { ROLE: 'all', DATABASE_URL: url, GRAPH_API_URL: fake.url, HOST: '127.0.0.1', PORT: String(port) },
    'listening on',
  );
  const burst = SIZE.fairnessBurst;
  await seedPosts(database, {
    ownerId: heavy.id,
    count: burst,
    datePub: () => new Date(),
    accounts: Math.ceil(burst / 20),
    captionPrefix: 'heavy ',
    jobs: true,
    priority: (i) => Math.min(i, 1000),
  });
  await sleep(2000);
  const { lags, posts } = await otherUserLag(
    `http://127.0.0.1:${port}/api/v1`,
    other.token,
    fake,
    SIZE.fairnessSeconds,
    60_000,
  );
  const heavyDone = await publishedCount(database);
  results.fairness = {
    burst,
    otherPosts: posts,
    latencyMs: 100,
    concurrency: 10,
    heavyPublishedMeanwhile: heavyDone - posts,
    p50: percentile(lags, 50),
    p99: percentile(lags, 99),
    max: Math.max(...lags),
  };
  log(
    `other user's lag while ${burst} posts drain: p50 ${percentile(lags, 50)} ms, p99 ${percentile(lags, 99)} ms, max ${Math.max(...lags)} ms`,
  );
  await proc.stop();
  await database.close();
}

/**
 * 1,000 concurrent wrong-password logins for one username: how many reach a
 * password check (the throttle's limit is 5), and how long an unrelated
 * user's login takes meanwhile.
 */
async function loginSuite(adminUrl: string, template: string) {
  log('\n== Login under attack');
  const url = await copyTemplate(adminUrl, template, 'bench_login');
  const database = connect(url, { max: 2 });
  const victim = await userWithToken(database.db);
  const bystander = await userWithToken(database.db);
  const port = await freePort();
  const proc = await startService(
    { ROLE: 'api', DATABASE_URL: url, HOST: '127.0.0.1', PORT: String(port) },
    'listening on',
  );
  const login = async (username: string, password: string) => {
    const started = performance.now();
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    await res.text();
    return { status: res.status, ms: performance.now() - started };
  };
  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const warmLogin = (username: string, password: string) =>
    new Promise<{ status: number; ms: number }>((resolve, reject) => {
      const started = performance.now();
      const req = http.request(
        `http://127.0.0.1:${port}/api/v1/login`,
        { method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ username, password }));
    });
  await warmLogin(bystander.username, 'a long password');
  /** Runs bench/flood.ts: `count` concurrent requests from a process of its own. */
  const flood = (url: string, username?: string) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/flood.ts', url, String(SIZE.loginAttempts), ...(username ? [username] : [])],
      { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    return new Promise<{ statuses: Record<string, number>; ms: number }>((resolve, reject) =>
      child.once('exit', (code) =>
        code === 0
          ? resolve(JSON.parse(out) as { statuses: Record<string, number>; ms: number })
          : reject(new Error(`flood exited with ${code}`)),
      ),
    );
  };
  // The floor on this machine: the same number of concurrent requests to /healthz, which does nothing.
  const floorMs = (await flood(`http://127.0.0.1:${port}/healthz`)).ms;
  const floodDone = flood(`http://127.0.0.1:${port}/api/v1/login`, victim.username);
  // Wait until the flood is arriving (its first answers are being counted) before logging in.
  await waitFor(
    'the flood to start',
    async () => {
      const [row] = await database.sql<
        { n: number }[]
      >`select coalesce(max(points), 0)::int as n from rate_limits where key like 'login:user:%'`;
      return row!.n > 0;
    },
    30_000,
    5,
  );
  // The bystander logs in while the flood is under way, on a connection it already had
  // open (an app keeps one), then once on a new connection.
  const bystanderLogins: number[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await warmLogin(bystander.username, 'a long password');
    if (res.status !== 200) throw new Error(`bystander login answered ${res.status}`);
    bystanderLogins.push(Math.round(res.ms));
  }
  const fresh = await login(bystander.username, 'a long password');
  const { statuses, ms: attackMs } = await floodDone;
  const count = (status: number) => statuses[status] ?? 0;
  results.login = {
    attempts: SIZE.loginAttempts,
    checked: count(401),
    refused429: count(429),
    refused503: count(503),
    bystanderMs: bystanderLogins,
    bystanderMaxMs: Math.max(...bystanderLogins),
    bystanderFreshConnectionMs: Math.round(fresh.ms),
    attackMs,
    healthzFloodMs: floorMs,
  };
  log(
    `${SIZE.loginAttempts} wrong logins: ${count(401)} checked, ${count(429)} × 429 in ${attackMs} ms (the same number of /healthz requests: ${floorMs} ms); bystander login ${Math.max(...bystanderLogins)} ms at most on an open connection, ${Math.round(fresh.ms)} ms on a new one`,
  );
  keepAlive.destroy();
  await proc.stop();
  await database.close();
}

async function main() {
  const startedAt = Date.now();
  // Measure what `npm start` runs: the compiled build.
  execSync('npx tsc -p tsconfig.build.json', { cwd: root, stdio: 'inherit' });
  const { adminUrl, stop } = await cluster();
  const template = `bench_template_${process.pid}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists "${template}"`);
  await admin.unsafe(`create database "${template}"`);
  await migrateDatabase(withDatabase(adminUrl, template));
  const fake = new FakeGraph({ latencyMs: 100, quotaTotal: 100 });
  await fake.start();
  const suites: Record<string, () => Promise<void>> = {
    api: () => apiSuite(adminUrl, template),
    precision: () => precisionSuite(adminUrl, template, fake),
    burst: () => burstSuite(adminUrl, template, fake),
    scaleout: () => scaleOutSuite(adminUrl, template, fake),
    memory: () => memorySuite(adminUrl, template, fake),
    fairness: () => fairnessSuite(adminUrl, template, fake),
    lanes: () => lanesSuite(adminUrl, template, fake),
    login: () => loginSuite(adminUrl, template),
    media: async () => {
      log('\n== Media uploads');
      const url = await copyTemplate(adminUrl, template, 'bench_media');
      results.media = await mediaSuite(url, QUICK);
      log(JSON.stringify(results.media));
    },
    channels: async () => {
      log('\n== Channels: webhook intake and reply lag');
      const url = await copyTemplate(adminUrl, template, 'bench_channels');
      results.channels = await channelsSuite(url, fake, QUICK);
      log(JSON.stringify(results.channels));
    },
  };
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    /* not a checkout */
  }
  const sectionOf: Record<string, string> = { scaleout: 'scaleOut' };
  try {
    for (const [name, run] of Object.entries(suites)) {
      if (args.only && !args.only.split(',').includes(name)) continue;
      await run();
      const section = results[sectionOf[name] ?? name];
      if (section && typeof section === 'object' && !Array.isArray(section))
        Object.assign(section, { commit, measuredAt: new Date().toISOString() });
    }
  } finally {
    await fake.stop();
    const dbs = await admin<
      { datname: string }[]
    >`select datname from pg_database where datname like 'bench_%'`;
    for (const { datname } of dbs) await admin.unsafe(`drop database if exists "${datname}" with (force)`);
    await admin.end();
    await stop();
  }
  const settings = {
    quick: QUICK,
    commit,
    durationS: Math.round((Date.now() - startedAt) / 1000),
    database: process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded PostgreSQL 17',
  };
  // A quick run is a smoke test: it must not replace the committed figures.
  const out = args.out ?? (QUICK ? path.join(os.tmpdir(), 'autopost-bench-quick') : path.join(root, 'bench'));
  mkdirSync(path.join(out, 'results'), { recursive: true });
  const file = path.join(out, 'results', 'latest.json');
  // A partial run (--only) updates its sections and keeps the others.
  if (args.only && existsSync(file)) {
    const previous = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    for (const [key, value] of Object.entries(previous))
      if (key !== 'settings' && !(key in results)) results[key] = value;
  }
  writeFileSync(file, `${JSON.stringify({ settings, ...results }, null, 2)}\n`);
  writeFileSync(path.join(out, 'REPORT.md'), `${report(settings)}\n`);
  log(
    `\nwrote ${path.join(out, 'results', 'latest.json')} and ${path.join(out, 'REPORT.md')} (${settings.durationS} s)`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
