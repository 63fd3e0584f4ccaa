/**
 * Uploads that break on the way in: every cut of a multipart or raw body
 * (complete with a short Content-Length, chunked, or the connection
 * dropped), and damaged bytes, through the real HTTP server. Whatever comes
 * in, the process stays up, each complete request gets a JSON 4xx naming
 * what was wrong (never a 500), and nothing of the refused upload stays
 * behind in the database.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { fixture, noisyJpeg } from './helpers/media.ts';
import { useTestServer } from './helpers/setup.ts';
import { waitFor } from './helpers/wait.ts';

const t = useTestServer();

interface Sent {
  /** The status line's code; null when the server closed without answering. */
  status: number | null;
  body: string;
}

/**
 * Writes a request by hand: `head` then `body`, optionally chunked, and
 * optionally drops the connection after `dropAfter` bytes of body.
 */
function send(
  headers: Record<string, string>,
  body: Buffer,
  opts: { chunked?: boolean; dropAfter?: number } = {},
): Promise<Sent> {
  const url = new URL(t.server.baseUrl);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    let answer = '';
    const done = () => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1];
      resolve({
        status: status ? Number(status) : null,
        body: answer.split('\r\n\r\n').slice(1).join('\r\n\r\n'),
      });
    };
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', done);
    socket.setTimeout(15_000, () => socket.destroy());
    const lines = [
      'POST /api/v1/media HTTP/1.1',
      `Host: ${url.host}`,
      `Authorization: Token ${t.token}`,
      'Connection: close',
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      opts.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`,
    ];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    const part = opts.dropAfter === undefined ? body : body.subarray(0, opts.dropAfter);
    if (opts.chunked) {
      for (let i = 0; i < part.length; i += 16_384) {
        const chunk = part.subarray(i, i + 16_384);
        socket.write(`${chunk.length.toString(16)}\r\n`);
        socket.write(chunk);
        socket.write('\r\n');
      }
      if (opts.dropAfter === undefined) socket.write('0\r\n\r\n');
    } else socket.write(part);
    if (opts.dropAfter !== undefined) setTimeout(() => socket.destroy(), 100);
  });
}

const BOUNDARY = 'B0undary';
const multipart = (file: Buffer, type: string, filename: string) =>
  Buffer.concat([
    Buffer.from(
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${type}\r\n\r\n`,
    ),
    file,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
  ]);
const FORM = { 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` };

/**
 * Offsets spread over the body and next to the part's edges, all before the
 * file's own delimiter (`\r\n--boundary`) has arrived: past it the file is
 * whole, and is stored whatever follows.
 */
function cuts(body: Buffer, file: Buffer): number[] {
  const start = body.indexOf('\r\n\r\n') + 4;
  const end = start + file.length;
  const whole = end + 4 + BOUNDARY.length;
  const spread = Array.from({ length: 12 }, (_, i) => Math.floor((whole * (i + 1)) / 13));
  return [...new Set([0, 1, 10, start - 2, start, start + 1, end - 1, end, end + 2, whole - 1, ...spread])]
    .filter((n) => n >= 0 && n < whole)
    .sort((a, b) => a - b);
}

/** A real JPEG's header with its dimensions changed: a few hundred bytes that claim a huge image. */
async function forgedHeader(width: number, height: number): Promise<Buffer> {
  const b = Buffer.from(await noisyJpeg(16, 16, { sigma: 10, quality: 80 }));
  for (let i = 0; i < b.length - 8; i++)
    if (b[i] === 0xff && (b[i + 1] === 0xc0 || b[i + 1] === 0xc2)) {
      b.writeUInt16BE(height, i + 5);
      b.writeUInt16BE(width, i + 7);
      break;
    }
  return b;
}

async function alive(): Promise<void> {
  const res = await fetch(`${t.server.baseUrl}/healthz`);
  expect(res.status).toBe(200);
}

/** Every refused or dropped upload leaves nothing: no row in progress stays once its request is over. */
async function nothingLeftBehind(): Promise<void> {
  await waitFor(
    'no upload left in progress',
    async () => {
      const [row] = await t.server.database.sql<{ n: number }[]>`
        select count(*)::int as n from media where size is null`;
      return row!.n === 0;
    },
    10_000,
  );
}

function expectRefused(sent: Sent, what: string): void {
  expect(sent.status, `${what}: ${sent.body.slice(0, 300)}`).not.toBeNull();
  expect(sent.status!, `${what}: ${sent.body.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(sent.status!, `${what}: ${sent.body.slice(0, 300)}`).toBeLessThan(500);
  const body = JSON.parse(sent.body) as { code: string; message: string };
  expect(body.code, what).toMatch(/^[A-Z_]+$/);
}

describe('uploads cut short or damaged', () => {
  it('multipart bodies cut anywhere, with a matching Content-Length or chunked: a 4xx each, and the server stays up', async () => {
    for (const [file, label] of [
      [await noisyJpeg(64, 64, { sigma: 30, quality: 80 }), 'small photo'],
      [await noisyJpeg(400, 400, { sigma: 60, quality: 95 }), '~200 KB photo'],
      [fixture('short.mp4'), 'video'],
    ] as const) {
      const type = label === 'video' ? 'video/mp4' : 'image/jpeg';
      const body = multipart(file, type, label === 'video' ? 'a.mp4' : 'a.jpg');
      for (const cut of cuts(body, file)) {
        for (const chunked of [false, true]) {
          const what = `${label} cut at ${cut}/${body.length}${chunked ? ', chunked' : ''}`;
          expectRefused(await send(FORM, body.subarray(0, cut), { chunked }), what);
        }
      }
      await alive();
    }
    await nothingLeftBehind();
  }, 240_000);

  it('connections dropped in the middle of a multipart or raw upload: the server stays up and keeps nothing', async () => {
    const photo = await noisyJpeg(400, 400, { sigma: 60, quality: 95 });
    const video = fixture('short.mp4');
    const bodies = [
      { headers: FORM, body: multipart(photo, 'image/jpeg', 'a.jpg') },
      { headers: FORM, body: multipart(video, 'video/mp4', 'a.mp4') },
      { headers: { 'Content-Type': 'image/jpeg' }, body: photo },
      { headers: { 'Content-Type': 'video/mp4' }, body: video },
    ];
    for (const { headers, body } of bodies)
      for (const at of [0, 100, Math.floor(body.length / 2), body.length - 1])
        for (const chunked of [false, true]) await send(headers, body, { dropAfter: at, chunked });
    await alive();
    await nothingLeftBehind();
    // And it still takes a whole upload.
    const ok = await send({ 'Content-Type': 'image/jpeg' }, photo);
    expect(ok.status, ok.body).toBe(201);
  }, 120_000);

  it('raw uploads cut short or with damaged bytes: a 4xx naming the problem, never a 500', async () => {
    const photo = await noisyJpeg(400, 400, { sigma: 60, quality: 95 });
    const video = fixture('short.mp4');
    const damaged = (b: Buffer, every: number) => {
      const copy = Buffer.from(b);
      for (let i = 64; i < copy.length; i += every) copy[i] = copy[i]! ^ 0xff;
      return copy;
    };
    const cases: [Record<string, string>, Buffer, string][] = [
      ...[10, 200, Math.floor(photo.length / 2), photo.length - 200].map(
        (n): [Record<string, string>, Buffer, string] => [
          { 'Content-Type': 'image/jpeg' },
          photo.subarray(0, n),
          `photo cut at ${n}`,
        ],
      ),
      ...[8, 64, Math.floor(video.length / 3), video.length - 8].map(
        (n): [Record<string, string>, Buffer, string] => [
          { 'Content-Type': 'video/mp4' },
          video.subarray(0, n),
          `video cut at ${n}`,
        ],
      ),
      [{ 'Content-Type': 'image/jpeg' }, damaged(photo, 97), 'photo with damaged bytes'],
      [{ 'Content-Type': 'video/mp4' }, damaged(video, 1009), 'video with damaged bytes'],
      [{ 'Content-Type': 'image/jpeg' }, Buffer.alloc(5000, 0x41), 'text called a photo'],
      [
        { 'Content-Type': 'image/jpeg' },
        await forgedHeader(16_000, 16_000),
        'a JPEG header of 16000×16000 and no data',
      ],
      [{ 'Content-Type': 'video/mp4' }, Buffer.alloc(5000, 0x41), 'text called a video'],
      [
        FORM,
        Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc`),
        'a part without a filename or end',
      ],
      [
        FORM,
        Buffer.from(
          `--other\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\nabc\r\n--other--\r\n`,
        ),
        'the wrong boundary',
      ],
      [{ 'Content-Type': 'multipart/form-data' }, Buffer.from('abc'), 'no boundary'],
      [
        FORM,
        Buffer.from(
          `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
        ),
        'headers and nothing more',
      ],
    ];
    for (const [headers, body, what] of cases) {
      expectRefused(await send(headers, body), what);
    }
    await alive();
    await nothingLeftBehind();
  }, 120_000);
});
