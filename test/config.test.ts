import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DEFAULT_GRAPH_API_URL, parseEnv } from '../server/env.ts';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const env = parseEnv({});
    expect(env).toMatchObject({
      PORT: 3000,
      HOST: '127.0.0.1',
      ROLE: 'all',
      PUBLISH_LIMIT_PER_24H: 25,
      SIGNUP_ENABLED: false,
      GRAPH_API_URL: DEFAULT_GRAPH_API_URL,
      DATA_DIR: '.data',
      SESSION_TTL: 30 * 86_400,
      COMMENT_POLL_INTERVAL: 300,
    });
    expect(env.WEBHOOK_VERIFY_TOKEN).toBeUndefined();
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('treats empty strings as unset', () => {
    const env = parseEnv({ PORT: '', DATABASE_URL: '  ', ROLE: '', SIGNUP_ENABLED: '' });
    expect(env.PORT).toBe(3000);
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.ROLE).toBe('all');
  });

  it('binds to all interfaces in production and needs an encryption key there', () => {
    expect(() => parseEnv({ NODE_ENV: 'production' })).toThrow(
      /ENCRYPTION_KEY: required when NODE_ENV=production/,
    );
    expect(
      parseEnv({ NODE_ENV: 'production', ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') }).HOST,
    ).toBe('0.0.0.0');
  });

  it('refuses test-only webhook hosts and half-configured Meta apps in production', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(() =>
      parseEnv({ NODE_ENV: 'production', ENCRYPTION_KEY: key, WEBHOOK_ALLOW_PRIVATE_HOSTS: 'true' }),
    ).toThrow(/WEBHOOK_ALLOW_PRIVATE_HOSTS: is for tests only/);
    // The sandbox's app secret is public: in production it would let anyone sign "Meta's" webhooks.
    expect(() => parseEnv({ NODE_ENV: 'production', ENCRYPTION_KEY: key, GRAPH_API_URL: 'sandbox' })).toThrow(
      /GRAPH_API_URL: sandbox is for development and tests and refused when NODE_ENV=production/,
    );
    expect(parseEnv({ GRAPH_API_URL: 'sandbox' }).GRAPH_API_URL).toBe('sandbox');
    expect(() => parseEnv({ INSTAGRAM_APP_ID: '123' })).toThrow(/INSTAGRAM_APP_SECRET: INSTAGRAM_APP_ID and/);
    expect(() =>
      parseEnv({
        NODE_ENV: 'production',
        ENCRYPTION_KEY: key,
        FACEBOOK_APP_ID: '1',
        FACEBOOK_APP_SECRET: 'secret-123',
      }),
    ).toThrow(/PUBLIC_URL: must be the https address/);
    expect(
      parseEnv({ APP_REDIRECT_URIS: 'myapp://oauth, https://a.example.com/cb' }).APP_REDIRECT_URIS,
    ).toEqual(['myapp://oauth', 'https://a.example.com/cb']);
  });

  it('names every bad variable in one message', () => {
    expect(() => parseEnv({ PORT: 'eighty', ROLE: 'boss', SESSION_TTL: 'forever' })).toThrow(
      /PORT:[\s\S]*ROLE:[\s\S]*SESSION_TTL: expected a duration/,
    );
    expect(parseEnv({ COMMENT_POLL_INTERVAL: '90s' }).COMMENT_POLL_INTERVAL).toBe(90);
    expect(() => parseEnv({ COMMENT_POLL_INTERVAL: 'often' })).toThrow(
      /COMMENT_POLL_INTERVAL: expected a duration/,
    );
    expect(() => parseEnv({ WEBHOOK_VERIFY_TOKEN: 'short' })).toThrow(/WEBHOOK_VERIFY_TOKEN: use at least 8/);
  });

  it('makes npm start fail fast with a readable message that does not echo values', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: { ...process.env, PORT: 'not-a-port', DATABASE_URL: 'mysql://secret-password@db/x' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Invalid configuration');
    expect(result.stderr).toContain('PORT:');
    expect(result.stderr).toContain('DATABASE_URL:');
    expect(result.stderr).not.toContain('secret-password');
    expect(result.stderr).not.toMatch(/\bat .*\.ts/);
  });
});
