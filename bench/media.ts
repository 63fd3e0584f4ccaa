/**
 * Uploads (issue 11): throughput and the server's resident memory while one
 * client uploads a 200 MB video and while 20 clients upload 5 MB photos at
 * once, and the time to convert a 12-megapixel HEIC. Target: peak RSS during
 * the 200 MB upload at most 64 MB above idle.
 */
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect } from '../server/db/client.ts';
import { freePort } from '../server/db/embedded.ts';
import { convertImage } from '../server/media/process.ts';
import { noisyJpeg } from '../test/helpers/media.ts';
import { userWithToken } from '../test/helpers/users.ts';
import { median, percentile, sleep, startService, type ServiceProcess } from './lib.ts';

const root = path.resolve(import.meta.dirname, '..');

/** reel.mov with a 200 MB `free` box before its index: a valid QuickTime file whose index comes last. */
function bigVideo(megabytes: number): string {
  const src = readFileSync(path.join(root, 'test/fixtures/media/reel.mov'));
  let offset = 0;
  let moov = -1;
  while (offset < src.length) {
    if (src.toString('latin1', offset + 4, offset + 8) === 'moov') moov = offset;
    offset += src.readUInt32BE(offset);
  }
  const file = path.join(os.tmpdir(), `bench-${megabytes}mb.mov`);
  const padding = megabytes * 1024 * 1024;
  const header = Buffer.alloc(8);
  header.writeUInt32BE(padding + 8);
  header.write('free', 4, 'latin1');
  writeFileSync(
    file,
    Buffer.concat([src.subarray(0, moov), header, Buffer.alloc(padding), src.subarray(moov)]),
  );
  return file;
}

function upload(port: number, token: string, type: string, body: Buffer | string): Promise<number> {
  return new Promise((resolve, reject) => {
    const size = typeof body === 'string' ? undefined : body.length;
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: '/api/v1/media',
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': type,
        ...(size !== undefined ? { 'content-length': String(size) } : {}),
      },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 201
          ? resolve(res.statusCode)
          : reject(new Error(`upload answered ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    if (typeof body === 'string') createReadStream(body).pipe(req);
    else req.end(body);
  });
}

/** Uploads and returns the file's public URL. */
async function uploadForUrl(port: number, token: string, type: string, file: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/media`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': type },
    body: readFileSync(file),
  });
  if (res.status !== 201) throw new Error(`upload answered ${res.status}`);
  return ((await res.json()) as { url: string }).url;
}

/** A client that asks for the file and stops reading after `bytes`, staying connected until destroyed. */
function slowReader(url: string, bytes: number): net.Socket {
  const { hostname, port, pathname } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => undefined);
  let got = 0;
  socket.on('data', (d: Buffer) => {
    got += d.length;
    if (got >= bytes) socket.pause();
  });
  socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
  return socket;
}

/**
 * Issue 21: `readers` clients each read 64 KB of a 50 MB upload and stop,
 * for `holdMs`; meanwhile GET /api/v1/user is timed. RSS at the peak and
 * 3 s after the readers leave. Targets: after within 10 % of before, API p99
 * < 200 ms.
 */
async function slowReaders(proc: ServiceProcess, port: number, token: string, quick: boolean) {
  const readers = quick ? 100 : 1000;
  const holdMs = quick ? 4_000 : 15_000;
  const url = await uploadForUrl(port, token, 'video/quicktime', bigVideo(50));
  await sleep(1000);
  const before = proc.rss();
  const times: number[] = [];
  let sockets: net.Socket[] = [];
  const peak = await peakDuring(proc, async () => {
    sockets = Array.from({ length: readers }, () => slowReader(url, 65_536));
    const until = Date.now() + holdMs;
    while (Date.now() < until) {
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/user`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await res.arrayBuffer();
      times.push(performance.now() - t0);
      await sleep(50);
    }
  });
  for (const s of sockets) s.destroy();
  await sleep(3000);
  const after = proc.rss();
  return {
    readers,
    holdS: holdMs / 1000,
    beforeRssMb: mb(before),
    peakRssMb: mb(peak),
    afterRssMb: mb(after),
    afterVsBefore: Number((after / before).toFixed(2)),
    userMs: {
      p50: Math.round(percentile(times, 50)),
      p99: Math.round(percentile(times, 99)),
      requests: times.length,
    },
  };
}

/** Samples the process's RSS every 20 ms while `work` runs; returns the highest. */
async function peakDuring(proc: ServiceProcess, work: () => Promise<unknown>): Promise<number> {
  let peak = proc.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, proc.rss());
  }, 20);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, proc.rss());
}

const mb = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));

export async function mediaSuite(url: string, quick: boolean): Promise<Record<string, unknown>> {
  const port = await freePort();
  const proc = await startService(
    { ROLE: 'api', DATABASE_URL: url, PORT: String(port), HOST: '127.0.0.1' },
    'listening on',
  );
  const database = connect(url, { max: 2 });
  try {
    const user = await userWithToken(database.db);
    // Warm up the paths once (sharp, the first chunks), then let the process settle.
    const photo = await noisyJpeg(3000, 2200, { sigma: 40, quality: 92 });
    await upload(port, user.token, 'image/jpeg', photo);
    await upload(port, user.token, 'video/quicktime', bigVideo(4));
    await sleep(2000);
    const idle = proc.rss();

    const videoMb = quick ? 40 : 200;
    const video = bigVideo(videoMb);
    let started = performance.now();
    const videoPeak = await peakDuring(proc, () => upload(port, user.token, 'video/quicktime', video));
    const videoSeconds = (performance.now() - started) / 1000;

    const clients = quick ? 5 : 20;
    started = performance.now();
    const photoPeak = await peakDuring(proc, () =>
      Promise.all(Array.from({ length: clients }, () => upload(port, user.token, 'image/jpeg', photo))),
    );
    const photoSeconds = (performance.now() - started) / 1000;

    // HEIC conversion, in this process: decode (heic-decode), orient, resize to 1440, JPEG.
    const heicTimes: number[] = [];
    for (let i = 0; i < (quick ? 2 : 5); i++) {
      const t0 = performance.now();
      await convertImage(path.join(root, 'bench/fixtures/photo-12mp.heic'));
      heicTimes.push(performance.now() - t0);
    }
    const figures = {
      idleRssMb: mb(idle),
      video: {
        sizeMb: videoMb,
        mbPerSecond: Number((videoMb / videoSeconds).toFixed(1)),
        seconds: Number(videoSeconds.toFixed(1)),
        peakRssMb: mb(videoPeak),
        aboveIdleMb: mb(videoPeak - idle),
      },
      photos: {
        clients,
        photoMb: Number((photo.length / 1e6).toFixed(1)),
        mbPerSecond: Number(((clients * photo.length) / 2 ** 20 / photoSeconds).toFixed(1)),
        seconds: Number(photoSeconds.toFixed(1)),
        peakRssMb: mb(photoPeak),
        aboveIdleMb: mb(photoPeak - idle),
      },
      heic12mpMs: { median: Math.round(median(heicTimes)), runs: heicTimes.map(Math.round) },
      slowReaders: await slowReaders(proc, port, user.token, quick),
    };
    return figures;
  } finally {
    await proc.stop();
    await database.close();
  }
}
