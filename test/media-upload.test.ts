import { createHash } from 'node:crypto';
import http from 'node:http';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { UploadError, uploadMedia } from '@autopost/instagram-autopost-sdk';
import { fixture, noisyJpeg, phoneJpeg, plainJpeg, png } from './helpers/media.ts';
import { useTestServer } from './helpers/setup.ts';
import { userWithToken } from './helpers/users.ts';

const t = useTestServer({ users: 2, env: { MEDIA_QUOTA_BYTES: String(3_000_000) } });

const upload = (body: Uint8Array | FormData, type?: string, token = t.token) =>
  t.api('POST', '/media', { rawBody: body, token, headers: type ? { 'content-type': type } : {} });

const fileOf = (url: string, init?: RequestInit) => fetch(url, init);

describe('uploading a photo', () => {
  it('turns a phone JPEG upright, strips its EXIF and GPS, and serves it at a public URL', async () => {
    // 1200×900 stored sideways with orientation 6: the photo is 900 wide and 1200 tall when upright.
    const original = await phoneJpeg({ width: 1200, height: 900, orientation: 6 });
    expect((await sharp(original).metadata()).exif).toBeDefined();
    const res = await upload(original, 'image/jpeg');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      content_type: 'image/jpeg',
      width: 900,
      height: 1200,
      duration_ms: null,
    });
    expect(res.body.url).toBe(`${t.server.env.PUBLIC_URL}/m/${res.body.id}.jpg`);
    expect(res.body.id).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(Date.parse(res.body.expires_at) - Date.parse(res.body.created_at)).toBe(7 * 86_400_000);

    const served = await fileOf(res.body.url);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/jpeg');
    const bytes = Buffer.from(await served.arrayBuffer());
    expect(Number(served.headers.get('content-length'))).toBe(bytes.length);
    expect(bytes.length).toBe(res.body.size);
    const meta = await sharp(bytes).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 900, height: 1200, space: 'srgb' });
    expect(meta.exif).toBeUndefined();
    expect(meta.xmp).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
    // No GPS anywhere in the file, not just in the parsed EXIF.
    expect(bytes.includes(Buffer.from('GPS'))).toBe(false);
    expect(bytes.includes(Buffer.from('iPhone'))).toBe(false);
    // The red corner was top-left of the sideways pixels; upright (turned 90° clockwise) it is top-right.
    const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => [
      ...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3),
    ];
    expect(at(info.width - 10, 10)[0]).toBeGreaterThan(200);
    expect(at(10, 10)[0]).toBeLessThan(100);
  });

  it('converts HEIC to a JPEG no larger than 1440 px', async () => {
    const res = await upload(fixture('photo.heic'), 'image/heic');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ content_type: 'image/jpeg', width: 1080, height: 1440 });
    const bytes = Buffer.from(await (await fileOf(res.body.url)).arrayBuffer());
    expect(await sharp(bytes).metadata()).toMatchObject({ format: 'jpeg', width: 1080, height: 1440 });
  });

  it('converts a PNG sent as a multipart form field named file', async () => {
    const form = new FormData();
    form.append('caption', 'ignored');
    form.append('file', new Blob([await png(800, 800)], { type: 'image/png' }), 'IMG_0001.PNG');
    const res = await upload(form);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ content_type: 'image/jpeg', width: 800, height: 800 });
  });

  it('takes the type from the file name when the form part says application/octet-stream', async () => {
    const form = new FormData();
    form.append(
      'file',
      new Blob([fixture('photo.heic')], { type: 'application/octet-stream' }),
      'IMG_0002.HEIC',
    );
    const res = await upload(form);
    expect(res.status).toBe(201);
    expect(res.body.content_type).toBe('image/jpeg');
  });

  it('refuses a form without a file field', async () => {
    const form = new FormData();
    form.append('photo', new Blob([await plainJpeg(400, 400)], { type: 'image/jpeg' }), 'a.jpg');
    const res = await upload(form);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'VALIDATION_FAILED', issues: [{ path: 'file' }] });
  });

  it('refuses other types with 415 and files that do not decode with 400', async () => {
    const gif = await upload(Buffer.from('GIF89a...'), 'image/gif');
    expect(gif.status).toBe(415);
    expect(gif.body).toMatchObject({ code: 'MEDIA_TYPE_UNSUPPORTED', number: 6150 });
    expect(gif.body.message).toContain('image/gif');
    const none = await upload(Buffer.from('hello'), 'application/octet-stream');
    expect(none.status).toBe(415);
    const garbage = await upload(Buffer.from('this is not a jpeg at all'), 'image/jpeg');
    expect(garbage.status).toBe(400);
    expect(garbage.body).toMatchObject({ code: 'MEDIA_UNREADABLE', number: 6200 });
    const cut = (await plainJpeg(600, 600)).subarray(0, 400);
    expect((await upload(cut, 'image/jpeg')).body.code).toBe('MEDIA_UNREADABLE');
    // Nothing was kept of any of them.
    const list = await t.api('GET', '/media', { token: t.users[1]!.token });
    expect(list.body.items).toEqual([]);
  });

  it('needs a token', async () => {
    const res = await t.api('POST', '/media', {
      rawBody: await plainJpeg(400, 400),
      headers: { 'content-type': 'image/jpeg' },
    });
    expect(res.status).toBe(401);
  });
});

describe('uploading a video', () => {
  it('stores an MP4 as sent and reads its size and duration', async () => {
    const file = fixture('reel.mp4');
    const res = await upload(file, 'video/mp4');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      content_type: 'video/mp4',
      width: 360,
      height: 640,
      duration_ms: 4000,
      size: file.length,
    });
    expect(res.body.url).toMatch(/\.mp4$/);
    const served = Buffer.from(await (await fileOf(res.body.url)).arrayBuffer());
    expect(served.equals(file)).toBe(true);
  });

  it('reads a QuickTime file whose index comes last, and serves it as video/quicktime', async () => {
    // Sent as video/mp4: the file says what it is.
    const res = await upload(fixture('reel.mov'), 'video/mp4');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ content_type: 'video/quicktime', duration_ms: 4000 });
    expect(res.body.url).toMatch(/\.mov$/);
    expect((await fileOf(res.body.url)).headers.get('content-type')).toBe('video/quicktime');
  });

  it('refuses what Instagram would not take as a reel, saying why', async () => {
    const short = await upload(fixture('short.mp4'), 'video/mp4');
    expect(short.status).toBe(400);
    expect(short.body).toMatchObject({ code: 'MEDIA_REJECTED', number: 6220 });
    expect(short.body.message).toContain('1.0 s');
    const codec = await upload(fixture('mpeg4.mp4'), 'video/mp4');
    expect(codec.body.code).toBe('MEDIA_REJECTED');
    expect(codec.body.message).toMatch(/mp4v.*H\.264/);
    const junk = await upload(Buffer.alloc(5000, 7), 'video/mp4');
    expect(junk.body.code).toBe('MEDIA_UNREADABLE');
  });

  it('refuses a body declared larger than 300 MB before reading it', async () => {
    // A raw request: the declared length alone is refused, nothing more is sent.
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(`${t.server.baseUrl}/api/v1/media`);
      const req = http.request(url, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${t.token}`,
          'content-type': 'video/mp4',
          'content-length': String(301 * 1024 * 1024),
        },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.write(Buffer.alloc(1024));
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'MEDIA_TOO_LARGE', number: 6130 });
  });

  it('refuses an image that grows past 30 MB while streaming (no length declared)', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 1);
    let sent = 0;
    const body = new ReadableStream({
      pull(controller) {
        if (sent >= 31) return controller.close();
        sent++;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${t.server.baseUrl}/api/v1/media`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.token}`, 'content-type': 'image/png' },
      body,
      duplex: 'half',
    }).catch((error: unknown) => error);
    // The server answers 413 and closes; depending on timing the client sees the answer or a reset.
    if (res instanceof Response) {
      expect(res.status).toBe(413);
      expect(((await res.json()) as { code: string }).code).toBe('MEDIA_TOO_LARGE');
    }
    const [row] = await t.server.database.sql`select count(*)::int as n from media where size is null`;
    expect(row!.n).toBe(0);
  });
});

describe('serving an upload', () => {
  it('answers HEAD, Range, If-None-Match and If-Range like a file server', async () => {
    const file = fixture('reel.mp4');
    const { body: uploaded } = await upload(file, 'video/mp4');
    const url: string = uploaded.url;
    const head = await fileOf(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(file.length));
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    expect(head.headers.get('cache-control')).toContain('immutable');
    const etag = head.headers.get('etag')!;
    expect(etag).toBe(`"${createHash('sha256').update(file).digest('hex')}"`);
    expect(await head.text()).toBe('');

    const part = await fileOf(url, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${file.length}`);
    expect(part.headers.get('content-length')).toBe('100');
    expect(Buffer.from(await part.arrayBuffer()).equals(file.subarray(100, 200))).toBe(true);

    const tail = await fileOf(url, { headers: { range: 'bytes=-10' } });
    expect(tail.headers.get('content-range')).toBe(
      `bytes ${file.length - 10}-${file.length - 1}/${file.length}`,
    );
    expect(Buffer.from(await tail.arrayBuffer()).equals(file.subarray(-10))).toBe(true);

    const open = await fileOf(url, { headers: { range: `bytes=${file.length - 5}-` } });
    expect(Buffer.from(await open.arrayBuffer()).equals(file.subarray(-5))).toBe(true);

    const beyond = await fileOf(url, { headers: { range: `bytes=${file.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${file.length}`);
    expect(beyond.headers.get('content-type')).toMatch(/^application\/json/);
    expect(beyond.headers.get('etag')).not.toBe(etag);
    expect(((await beyond.json()) as { code: string }).code).toBe('RANGE_NOT_SATISFIABLE');
    // A file is only read: another method is a 405 that says which ones are allowed.
    const put = await fileOf(url, { method: 'PUT', body: 'x' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD');
    expect(((await put.json()) as { code: string }).code).toBe('METHOD_NOT_ALLOWED');

    expect((await fileOf(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
    const stale = await fileOf(url, { headers: { range: 'bytes=0-9', 'if-range': '"other"' } });
    expect(stale.status).toBe(200);
    expect(Number(stale.headers.get('content-length'))).toBe(file.length);
    await stale.arrayBuffer();
  });

  it('serves a file larger than one stored chunk, whole and across chunk borders', async () => {
    const big = await noisyJpeg(1440, 1440, { sigma: 60, quality: 95 });
    const res = await upload(big, 'image/jpeg');
    expect(res.status).toBe(201);
    expect(res.body.size).toBeGreaterThan(600 * 1024);
    const whole = Buffer.from(await (await fileOf(res.body.url)).arrayBuffer());
    expect(whole.length).toBe(res.body.size);
    const border = 256 * 1024;
    const part = await fileOf(res.body.url, { headers: { range: `bytes=${border - 3}-${border + 2}` } });
    expect(Buffer.from(await part.arrayBuffer()).equals(whole.subarray(border - 3, border + 3))).toBe(true);
  });

  it('answers 404 for unknown ids, wrong extensions and deleted files', async () => {
    const { body: uploaded } = await upload(await plainJpeg(500, 500), 'image/jpeg');
    expect((await fileOf(uploaded.url.replace(/\.jpg$/, '.mp4'))).status).toBe(404);
    expect((await fileOf(`${t.server.baseUrl}/m/AAAAAAAAAAAAAAAAAAAAAAAA.jpg`)).status).toBe(404);
    expect((await fileOf(`${t.server.baseUrl}/m/short.jpg`)).status).toBe(404);
    const deleted = await t.api('DELETE', `/media/${uploaded.id}/`, { token: t.token });
    expect(deleted.body).toEqual({ id: uploaded.id, deleted: true });
    expect((await fileOf(uploaded.url)).status).toBe(404);
    expect((await t.api('GET', `/media/${uploaded.id}`, { token: t.token })).body.code).toBe(
      'MEDIA_NOT_FOUND',
    );
  });

  it('lets crawlers fetch /m/ in robots.txt', async () => {
    const res = await fetch(`${t.server.baseUrl}/robots.txt`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/Allow: \/m\//);
    expect(text).not.toMatch(/Disallow: \/\s*$/m);
  });
});

describe('listing, reading and deleting uploads', () => {
  it('pages newest first and shows a user only their own uploads', async () => {
    const other = await userWithToken(t.server.database.db);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await upload(await plainJpeg(400 + i * 10, 400), 'image/jpeg', other.token)).body.id);
    const first = await t.api('GET', '/media/?limit=2', { token: other.token });
    expect(first.body.items.map((m: { id: string }) => m.id)).toEqual([ids[2], ids[1]]);
    const second = await t.api('GET', `/media?limit=2&cursor=${first.body.next_cursor}`, {
      token: other.token,
    });
    expect(second.body.items.map((m: { id: string }) => m.id)).toEqual([ids[0]]);
    expect(second.body.next_cursor).toBeNull();
    // Another user's upload is not found, neither to read nor to delete.
    expect((await t.api('GET', `/media/${ids[0]}`, { token: t.token })).status).toBe(404);
    expect((await t.api('DELETE', `/media/${ids[0]}`, { token: t.token })).status).toBe(404);
    expect((await t.api('GET', `/media/${ids[0]}`, { token: other.token })).body.width).toBe(400);
  });

  it('keeps each user within MEDIA_QUOTA_BYTES', async () => {
    const user = await userWithToken(t.server.database.db);
    const video = fixture('reel.mp4');
    // Quota 3,000,000 bytes in this file: fill it with noisy photos, then one more does not fit.
    const noisy = await noisyJpeg(1440, 1440, { sigma: 80, quality: 100 });
    let refused: { status: number; body: { code: string; message: string } } | null = null;
    for (let i = 0; i < 10 && !refused; i++) {
      const res = await upload(noisy, 'image/jpeg', user.token);
      if (res.status !== 201) refused = res;
    }
    expect(refused?.status).toBe(409);
    expect(refused?.body.code).toBe('MEDIA_QUOTA_EXCEEDED');
    expect(refused?.body.message).toMatch(/of 3\.0 MB/);
    const list = await t.api('GET', '/media', { token: user.token });
    const used = list.body.items.reduce((sum: number, m: { size: number }) => sum + m.size, 0);
    expect(used).toBeLessThanOrEqual(3_000_000);
    // Deleting makes room again.
    await t.api('DELETE', `/media/${list.body.items[0].id}`, { token: user.token });
    expect((await upload(video, 'video/mp4', user.token)).status).toBe(201);
  });
});

describe('the SDK', () => {
  it('uploads a file and reports a refusal with the server’s code', async () => {
    const opts = { url: t.server.baseUrl, token: t.token };
    const media = await uploadMedia(opts, fixture('photo.heic'), 'image/heic');
    expect(media).toMatchObject({ content_type: 'image/jpeg', width: 1080 });
    const refused = await uploadMedia(opts, Buffer.from('GIF89a'), 'image/gif').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(UploadError);
    expect((refused as UploadError).body).toMatchObject({ code: 'MEDIA_TYPE_UNSUPPORTED', number: 6150 });
  });
});

describe('methods on /media', () => {
  it('answers 405 with POST among the allowed methods', async () => {
    const res = await t.api('PUT', '/media', { token: t.token, body: {} });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('POST');
    expect(res.headers.get('allow')).toContain('GET');
  });
});
