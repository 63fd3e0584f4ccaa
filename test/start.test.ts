import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../server/db/embedded.ts';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'autopost-start-'));
chmodSync(dataDir, 0o755);
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

// No DATABASE_URL: the embedded PostgreSQL under DATA_DIR, as on a fresh machine.
const env = () => {
  const { DATABASE_URL: _drop, ...rest } = process.env;
  return { ...rest, DATA_DIR: dataDir, LOG_LEVEL: 'info' };
};

async function start(port: number): Promise<{ child: ChildProcess; logs: string[] }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: { ...env(), PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const logs: string[] = [];
  createInterface({ input: child.stderr }).on('line', (l) => logs.push(l));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      logs.push(line);
      if (line.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${logs.join('\n')}`)));
  });
  return { child, logs };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

const postgresRunningIn = (dir: string) => {
  try {
    return execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
      .split('\n')
      .some((l) => l.includes(`-D ${dir}`));
  } catch {
    return false;
  }
};

describe('npm start on a machine with no database', () => {
  it('serves a CLI token, shuts down gracefully on SIGTERM and keeps its data across restarts', async () => {
    const port = await freePort();
    const first = await start(port);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok' });

    const cliOut = execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'scripts/create-token.ts',
        '--username',
        'boot@example.com',
        '--password',
        'boot password',
      ],
      { env: env(), encoding: 'utf8' },
    );
    const token = cliOut.trimEnd().split('\n').at(-1)!;
    const me = await fetch(`http://127.0.0.1:${port}/api/v1/user`, {
      headers: { authorization: `Token ${token}` },
    });
    expect(me.status).toBe(200);

    expect(await stop(first.child)).toBe(0);
    const text = first.logs.join('\n');
    expect(text).toContain('"msg":"stopped"');
    // The database outlived the worker and the pool: no connection was cut from under them.
    expect(text).not.toContain('terminating connection');
    expect(postgresRunningIn(path.join(dataDir, 'pg'))).toBe(false);

    const second = await start(port);
    const again = await fetch(`http://127.0.0.1:${port}/api/v1/user`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(again.status).toBe(200);
    expect(await stop(second.child)).toBe(0);
  }, 120_000);
});
