import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createTokenCipher } from '../server/crypto/token-cipher.ts';
import type { Database } from '../server/db/client.ts';

export const median = (xs: number[]) => percentile(xs, 50);

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const BENCH_KEY = randomBytes(32);

/**
 * Inserts `count` photo posts with their events and publish jobs in three
 * statements (what the API would do one by one). Account ids rotate over
 * `accounts` so no account goes over Meta's daily quota.
 */
export async function seedPosts(
  database: Database,
  opts: {
    ownerId: number;
    count: number;
    datePub: (i: number) => Date;
    accounts: number;
    captionPrefix: string;
    jobs: boolean;
    /** Each job's priority, as the API would give it (its place in the owner's queue); default 0. */
    priority?: (i: number) => number;
  },
): Promise<number[]> {
  const sealed = createTokenCipher(BENCH_KEY).seal('EAAG-bench-token');
  const ids: number[] = [];
  const chunk = 2000;
  for (let start = 0; start < opts.count; start += chunk) {
    const n = Math.min(chunk, opts.count - start);
    const rows = await database.sql<{ id: string }[]>`
      insert into posts (owner_id, ig_user_id, content_type, url, caption, token_key_id, token_ciphertext, date_pub)
      select ${opts.ownerId}, (1000 + (g % ${opts.accounts}))::text, 'Photo', 'https://cdn.example.com/bench.jpg',
             ${opts.captionPrefix} || g, ${sealed.keyId}, ${sealed.ciphertext}, d.at
      from unnest(${database.sql.array(Array.from({ length: n }, (_, i) => start + i))}::int[],
                  ${database.sql.array(Array.from({ length: n }, (_, i) => opts.datePub(start + i).toISOString()))}::timestamptz[])
           as d(g, at)
      returning id`;
    const batch = rows.map((r) => Number(r.id));
    ids.push(...batch);
    await database.sql`
      insert into post_events (post_id, type, message, date_pub)
      select id, 'created', 'Scheduled by the benchmark.', date_pub from posts where id = any(${database.sql.array(batch)}::bigint[])`;
    if (opts.jobs) {
      const priorities = batch.map((_, i) => opts.priority?.(start + i) ?? 0);
      await database.sql`
        select graphile_worker.add_jobs(array(
          select row('publish_post', json_build_object('postId', p.id), null, p.date_pub, 25, 'post:' || p.id, b.priority::smallint, null)::graphile_worker.job_spec
          from unnest(${database.sql.array(batch)}::bigint[], ${database.sql.array(priorities)}::int[]) as b(id, priority)
          join posts p on p.id = b.id))`;
    }
  }
  return ids;
}

export interface ServiceProcess {
  proc: ChildProcess;
  pid: number;
  /** Resident memory now, bytes. */
  rss(): number;
  /** Peak resident memory so far (VmHWM), bytes. */
  peakRss(): number;
  stop(): Promise<void>;
}

function statusField(pid: number, field: string): number {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return kb * 1024;
}

/** Starts the built server the way `npm start` does (`node dist/server/main.js`), and waits for it to be ready. */
export async function startService(
  env: Record<string, string>,
  readyMessage: string,
): Promise<ServiceProcess> {
  const proc = spawn(process.execPath, ['dist/server/main.js'], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      ENCRYPTION_KEY: BENCH_KEY.toString('base64'),
      // The suites' posts use made-up media URLs; pre-flight would try to fetch them.
      MEDIA_PREFLIGHT: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: proc.stdout });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`service did not log "${readyMessage}" in 60 s`)),
      60_000,
    );
    proc.once('exit', (code) => reject(new Error(`service exited with ${code}`)));
    lines.on('line', (line) => {
      if (line.includes(readyMessage)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  // Keep draining its logs so it never blocks on a full pipe.
  lines.on('line', () => {});
  const pid = proc.pid!;
  return {
    proc,
    pid,
    rss: () => statusField(pid, 'VmRSS'),
    peakRss: () => statusField(pid, 'VmHWM'),
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/** Busy and total CPU time of the whole machine so far (all cores), from /proc/stat, in ticks. */
export function machineCpu(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** CPU seconds a process has used so far (user + system). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100)
}
