import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { jsonClient } from './helpers/http.ts';
import { useTestServer } from './helpers/setup.ts';

const t = useTestServer({ users: 0 });

function cli(
  args: string[],
  stdin?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/create-token.ts', ...args], {
      env: { ...process.env, DATABASE_URL: t.server.database.url, LOG_LEVEL: 'warn' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1)!;

describe('npm run create-token', () => {
  it('creates the user and prints a working token as the last line', async () => {
    const res = await cli(['--username', 'ops@example.com', '--password', 'operator pass', '--label', 'ci']);
    expect(res.code).toBe(0);
    const token = lastLine(res.stdout);
    expect(token).toMatch(/^[a-z2-7]{32}$/);
    const me = await jsonClient(`${t.server.baseUrl}/api/v1`)('GET', '/user', { token });
    expect(me.status).toBe(200);
    expect(me.body.username).toBe('ops@example.com');
    const [row] = await t.server.database.sql`select kind, label from sessions`;
    expect(row).toEqual({ kind: 'api', label: 'ci' });
    // The password let the user log in too.
    const login = await jsonClient(`${t.server.baseUrl}/api/v1`)('POST', '/login', {
      body: { username: 'ops@example.com', password: 'operator pass' },
    });
    expect(login.status).toBe(200);
  });

  it('makes a token for an existing user with the lifetime asked for, without touching the password', async () => {
    const res = await cli([
      '--username',
      'OPS@example.com',
      '--password',
      'another pass',
      '--expires-in',
      '2h',
    ]);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('password was left unchanged');
    const token = lastLine(res.stdout);
    const me = await jsonClient(`${t.server.baseUrl}/api/v1`)('GET', '/user', { token });
    expect(me.status).toBe(200);
    const [row] = await t.server.database
      .sql`select max(ttl_seconds) as ttl from sessions where ttl_seconds = 7200`;
    expect(Number(row!.ttl)).toBe(7200);
  });

  it('reads the password from stdin with --password-stdin', async () => {
    const res = await cli(['--username', 'piped@example.com', '--password-stdin'], 'piped password\n');
    expect(res.code).toBe(0);
    const login = await jsonClient(`${t.server.baseUrl}/api/v1`)('POST', '/login', {
      body: { username: 'piped@example.com', password: 'piped password' },
    });
    expect(login.status).toBe(200);
  });

  it('fails with exit 1 and a clear message for an unknown user without --password', async () => {
    const res = await cli(['--username', 'ghost@example.com']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('No user "ghost@example.com"');
    expect(res.stdout).not.toMatch(/[a-z2-7]{32}/);
  });

  it('fails with exit 2 and the usage on bad arguments', async () => {
    for (const args of [
      [],
      ['--username', 'a', '--expires-in', 'soon'],
      ['--username', 'a', '--frobnicate'],
      ['--username', 'a', '--password', 'short'],
    ]) {
      const res = await cli(args);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stderr).toContain('Usage: npm run create-token');
    }
  });

  it('prints help with --help', async () => {
    const res = await cli(['--help']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('--expires-in');
  });
});
