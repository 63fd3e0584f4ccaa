/**
 * Downloads of /m/ that do not read: the ones that stop are cut off, at most
 * so many run at once (per file and in all) and the rest wait for a slot or
 * get a 503 with Retry-After, so readers cannot take the server's memory or
 * its database connections. (Memory itself is measured in the bench.)
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noisyJpeg } from './helpers/media.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';
import { userWithToken } from './helpers/users.ts';

let server: TestServer;
let token: string;
beforeAll(async () => {
  server = await startTestServer(
    {},
    { serveLimits: { streams: 4, perFile: 3, waitMs: 1_500, idleMs: 1_000 } },
  );
  token = (await userWithToken(server.database.db)).token;
});
afterAll(() => server.close());

/**
 * A stored file of 40 MB, far more than the sockets between server and client
 * buffer, so a reader that stops reading holds its download open. Uploaded as
 * a small photo, then its stored bytes are made larger in place.
 */
async function uploadBig(): Promise<{ url: string; size: number }> {
  const res = await fetch(`${server.baseUrl}/api/v1/media`, {
    method: 'POST',
    headers: { authorization: `Token ${token}`, 'content-type': 'image/jpeg' },
    body: await noisyJpeg(400, 400, { sigma: 30, quality: 80 }),
  });
  expect(res.status).toBe(201);
  const { id, url } = (await res.json()) as { id: string; url: string };
  const chunks = 160;
  const chunk = 262_144;
  const { sql } = server.database;
  await sql`delete from media_chunks where media_id = ${id}`;
  await sql`insert into media_chunks (media_id, seq, data)
    select ${id}, g, convert_to(repeat('x', ${chunk}::int), 'UTF8') from generate_series(0, ${chunks - 1}::int) g`;
  await sql`update media set size = ${chunks * chunk}, chunk_size = ${chunk} where id = ${id}`;
  return { url, size: chunks * chunk };
}

/**
 * A client that asks for the file, reads `bytes` of the answer, then stops
 * reading for `stallMs` (staying connected), then reads whatever is left.
 * `done` resolves with the bytes it got in all: the whole answer, or less if
 * the server cut it off.
 */
function stalledReader(url: string, stallMs = 3_000, bytes = 65_536) {
  const { hostname, port, pathname } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => undefined);
  let got = 0;
  let head = '';
  let stalled = false;
  const done = new Promise<number>((resolve) => socket.on('close', () => resolve(got)));
  socket.on('data', (d: Buffer) => {
    if (!head.includes('\r\n\r\n')) head += d.toString('latin1');
    got += d.length;
    if (got >= bytes && !stalled) {
      stalled = true;
      socket.pause();
      setTimeout(() => socket.resume(), stallMs);
    }
  });
  socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
  return { done, status: () => Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0) };
}

describe('readers of /m/ that stop reading', () => {
  it('are cut off once idle, and a full download still works beside them', async () => {
    const { url, size } = await uploadBig();
    const readers = [stalledReader(url), stalledReader(url)];
    const got = await Promise.all(readers.map((r) => r.done));
    // Cut off by the server after idleMs (1 s) without reading: they never got the whole file.
    for (const n of got) expect(n).toBeLessThan(size);
    // A whole download waits for the client once per chunk, and leaves no listener behind each time.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    expect((await whole.arrayBuffer()).byteLength).toBe(size);
    await new Promise((r) => setTimeout(r, 100));
    process.off('warning', onWarning);
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('take at most `perFile` slots of one file; the next waits, then gets a 503 with Retry-After', async () => {
    // A second API process over the same database, whose waits are shorter than its idle cut-off.
    const patient = await startTestServer(
      {},
      { databaseOf: server, serveLimits: { streams: 4, perFile: 3, waitMs: 300, idleMs: 10_000 } },
    );
    const { url: ownUrl, size } = await uploadBig();
    const url = ownUrl.replace(server.baseUrl, patient.baseUrl);
    const other = (await uploadBig()).url.replace(server.baseUrl, patient.baseUrl);
    const readers = [stalledReader(url), stalledReader(url), stalledReader(url)];
    await new Promise((r) => setTimeout(r, 200));
    const waiting = fetch(url);
    await new Promise((r) => setTimeout(r, 50));
    // Another file's download does not queue behind a download waiting for this file's slots.
    const beside = await fetch(other);
    expect(beside.status).toBe(200);
    expect((await beside.arrayBuffer()).byteLength).toBe(size);
    const refused = await waiting;
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await refused.json()) as { code: string }).code).toBe('SERVICE_UNAVAILABLE');
    for (const r of readers) expect(r.status()).toBe(200);
    // They read on after their pause (shorter than the idle cut-off) and get all of it; then their slots serve others.
    for (const got of await Promise.all(readers.map((r) => r.done))) expect(got).toBeGreaterThan(size);
    const after = await fetch(url);
    expect(after.status).toBe(200);
    expect((await after.arrayBuffer()).byteLength).toBe(size);
    await patient.close();
  });

  it('a reader waiting for a slot is served as soon as one frees', async () => {
    const { url, size } = await uploadBig();
    const readers = [stalledReader(url), stalledReader(url), stalledReader(url)];
    await new Promise((r) => setTimeout(r, 200));
    // Waits (up to 1.5 s) for a slot: the first stalled reader is cut off after 1 s.
    const queued = await fetch(url);
    expect(queued.status).toBe(200);
    expect((await queued.arrayBuffer()).byteLength).toBe(size);
    await Promise.all(readers.map((r) => r.done));
  });
});
