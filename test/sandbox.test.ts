import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../server/db/embedded.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { jsonClient } from './helpers/http.ts';
import { fixture } from './helpers/media.ts';
import { userWithToken } from './helpers/users.ts';
import { waitFor } from './helpers/wait.ts';

let child: ChildProcess;
let database: TestDatabase;
let base: string;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'autopost-sandbox-'));

beforeAll(async () => {
  database = await createTestDatabase();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: database.url,
      DATA_DIR: dataDir,
      PORT: String(port),
      GRAPH_API_URL: 'sandbox',
      APP_REDIRECT_URIS: 'myapp://oauth',
      LOG_LEVEL: 'info',
      WORKER_POLL_INTERVAL_MS: '100',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => logs.push(l));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line);
      if (line.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${logs.join('\n')}`)));
  });
}, 60_000);

afterAll(async () => {
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await database.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('GRAPH_API_URL=sandbox', () => {
  it('connects through a simulated sign-in served by the server itself, then publishes a post naming the account', async () => {
    const user = await userWithToken(database.db);
    const api = jsonClient(`${base}/api/v1`);
    const start = await api('POST', '/instagrams/connect', {
      body: { login_type: 'instagram', redirect_uri: 'myapp://oauth' },
      token: user.token,
    });
    expect(start.status).toBe(200);
    // The browser opens a page of this server: no Meta, no other port to reach.
    expect(start.body.authorize_url.startsWith(`${base}/sandbox/meta/`)).toBe(true);
    const authorize = await fetch(start.body.authorize_url, { redirect: 'manual' });
    expect(authorize.status).toBe(302);
    const back = await fetch(authorize.headers.get('location')!, { redirect: 'manual' });
    const location = new URL(back.headers.get('location')!);
    expect(location.protocol).toBe('myapp:');
    expect(location.searchParams.get('status')).toBe('connected');
    const instagramId = Number(location.searchParams.get('instagram_id'));

    const account = await api('GET', `/instagrams/${instagramId}`, { token: user.token });
    expect(account.body).toMatchObject({ username: 'sandbox_creator', state: 'start' });
    // A token typed in by hand works too in the sandbox: it is the same sandbox account.
    const byToken = await api('POST', '/instagrams', {
      body: { token: 'IGsandbox-anything' },
      token: user.token,
    });
    expect(byToken.status).toBe(200);
    expect(byToken.body.id).toBe(instagramId);

    // The app's flow on a laptop: the photo from the phone (HEIC) uploaded, then scheduled by its URL,
    // which is on this server's own address (no PUBLIC_URL set), where the simulated Meta downloads it.
    const upload = await api('POST', '/media', {
      rawBody: fixture('photo.heic'),
      headers: { 'content-type': 'image/heic' },
      token: user.token,
    });
    expect(upload.status, JSON.stringify(upload.body)).toBe(201);
    expect(upload.body.url.startsWith(`${base}/m/`)).toBe(true);
    const post = await api('POST', '/posts', {
      // A phone photo is 3:4, taller than a feed photo may be (4:5): it goes out as a story.
      body: { instagram_id: instagramId, content_type: 'Photo', placement: 'story', url: upload.body.url },
      token: user.token,
    });
    expect(post.status, JSON.stringify(post.body)).toBe(201);
    const done = await waitFor(
      'the sandbox post to be published',
      async () => {
        const res = await api('GET', `/posts/${post.body.id}`, { token: user.token });
        return res.body.status === 'published' ? res.body : undefined;
      },
      20_000,
    );
    expect(done.permalink).toMatch(/^https:\/\/www\.instagram\.com\/p\//);

    // Channels: a simulated comment on the account's newest post is answered.
    const channel = await api('POST', `/instagrams/${instagramId}/channels`, {
      body: { action: 'comment', value: 'price', comments: ['Hi @{username}, check your DMs'] },
      token: user.token,
    });
    expect(channel.status).toBe(201);
    const comment = await fetch(`${base}/sandbox/comments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        instagram_id: instagramId,
        text: 'What is the price?',
        username: 'sandbox_fan',
      }),
    });
    expect(comment.status).toBe(201);
    const actions = await waitFor(
      'the sandbox reply',
      async () => {
        const res = await api('GET', `/instagrams/${instagramId}/channels/${channel.body.id}/actions`, {
          token: user.token,
        });
        return res.body.items[0]?.status === 'done' ? res.body.items : undefined;
      },
      20_000,
    );
    expect(actions[0]).toMatchObject({
      username: 'sandbox_fan',
      action: 'comment',
      result_id: expect.any(String),
    });
    const stranger = await userWithToken(database.db);
    const refused = await fetch(`${base}/sandbox/comments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stranger.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ instagram_id: instagramId, text: 'not mine' }),
    });
    expect(refused.status).toBe(404);
  });
});
