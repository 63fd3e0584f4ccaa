/**
 * Uploads (issue 11): throughput and the server's resident memory while one
 * client uploads a 200 MB video and while 20 clients upload 5 MB photos at
 * once, and the time to convert a 12-megapixel HEIC. Target: peak RSS during
 * the 200 MB upload at most 64 MB above idle.
 */
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { connect } from '../server/db/client.ts';
import { freePort } from '../server/db/embedded.ts';
import { convertImage } from '../server/media/process.ts';
import { noisyJpeg } from '../test/helpers/media.ts';
import { userWithToken } from '../test/helpers/users.ts';
import { median, sleep, startService, type ServiceProcess } from './lib.ts';

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
    };
    return figures;
  } finally {
    await proc.stop();
    await database.close();
  }
}
