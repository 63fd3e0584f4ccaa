import net from 'node:net';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect } from '../server/db/client.ts';
import { isDatabaseUnavailable } from '../server/db/unavailable.ts';
import { createWorkerPool } from '../server/db/worker-pool.ts';
import { createLogger } from '../server/logger.ts';
import { FaultProxy } from './helpers/fault-proxy.ts';

/** What the drivers do when connections break, below the service (docs/operations.md, "Database faults"). */
const adminUrl = () => inject('adminUrl');

describe('postgres.js after a connection closes with a write pending (patches/postgres+3.4.9.patch)', () => {
  it('sends the next connection’s startup, so the next query succeeds at once', async () => {
    let socket: net.Socket | undefined;
    const url = new URL(adminUrl());
    const sql = postgres(adminUrl(), {
      max: 1,
      connect_timeout: 3,
      onnotice: () => {},
      socket: () => (socket = net.connect({ host: url.hostname, port: Number(url.port) })),
    } as postgres.Options<Record<string, never>>);
    try {
      await sql`select 1`;
      // The socket goes away in the same turn a query is queued for it: the close is handled
      // before postgres.js's pending write runs. Unpatched, the next connection's startup message
      // stayed behind that stale write and every query failed with CONNECT_TIMEOUT after 3 s.
      const first = await new Promise<string>((resolve) =>
        setImmediate(() => {
          socket!.destroy();
          sql`select ${'x'.repeat(3000)}::text`.then(
            () => resolve('answered'),
            (e: { code?: string }) => resolve(String(e.code)),
          );
        }),
      );
      expect(first).toBe('CONNECTION_CLOSED');
      const started = performance.now();
      const [row] = await sql`select 3 as x`;
      expect(row!.x).toBe(3);
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});

describe('postgres.js when a socket fails with a query in flight (patches/postgres+3.4.9.patch)', () => {
  it('fails a query queued on the dying connection instead of leaving it waiting forever', async () => {
    let socket: net.Socket | undefined;
    const url = new URL(adminUrl());
    const sql = postgres(adminUrl(), {
      max: 1,
      onnotice: () => {},
      socket: () => (socket = net.connect({ host: url.hostname, port: Number(url.port) })),
    } as postgres.Options<Record<string, never>>);
    try {
      await sql`select 1`;
      const slow = sql`select pg_sleep(2)`.then(
        () => 'answered',
        (e: Error) => e.message,
      );
      setTimeout(() => socket!.destroy(Object.assign(new Error('gone'), { code: 'ETIMEDOUT' })), 200);
      expect(await slow).toBe('gone');
      // Issued before the close is handled: it lands on the dying connection. Unpatched it
      // waited forever there (or its write hit a socket already gone: TypeError, process down).
      const next = await Promise.race([
        sql`select 1`.then(
          () => 'answered',
          (e: { code?: string }) => String(e.code),
        ),
        new Promise((r) => setTimeout(() => r('no answer in 3 s'), 3_000)),
      ]);
      expect(next).toBe('CONNECTION_CLOSED');
      const [row] = await sql`select 2 as x`;
      expect(row!.x).toBe(2);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});

describe('connections whose server stops answering', () => {
  const proxy = new FaultProxy({
    host: new URL(adminUrl()).hostname,
    port: Number(new URL(adminUrl()).port),
  });
  beforeAll(() => proxy.start());
  afterAll(() => proxy.stop());

  it('our pool gives a frozen connection up after DATABASE_TIMEOUT, and the next query works', async () => {
    const database = connect(proxy.urlFor(adminUrl()), { max: 1, timeoutMs: 1_000 });
    try {
      await database.sql`select 1`;
      // Idle for longer than the timeout: a connection that owes nothing is never given up.
      await new Promise((r) => setTimeout(r, 1_300));
      await database.sql`select 1`;
      proxy.partition();
      const started = performance.now();
      const error = await database.sql`select 2`.then(
        () => null,
        (e: unknown) => e,
      );
      const waited = performance.now() - started;
      expect(isDatabaseUnavailable(error), String(error)).toBe(true);
      expect(waited).toBeGreaterThan(900);
      expect(waited).toBeLessThan(2_500);
      // A query sent in the same turn would meet the dying connection (see above); a moment later, a new one.
      await new Promise((r) => setTimeout(r, 50));
      const [row] = await database.sql`select 3 as x`;
      expect(row!.x).toBe(3);
    } finally {
      await database.close();
    }
  });

  it('closes the pool’s other silent connections with the frozen one, so the next query needs no wait', async () => {
    const database = connect(proxy.urlFor(adminUrl()), { max: 3, timeoutMs: 1_000 });
    try {
      // Three connections open, then idle for longer than the timeout.
      await Promise.all([1, 2, 3].map(() => database.sql`select pg_sleep(0.2)`));
      expect(proxy.open).toBe(3);
      await new Promise((r) => setTimeout(r, 1_200));
      proxy.partition();
      const error = await database.sql`select 1`.then(
        () => null,
        (e: unknown) => e,
      );
      expect(isDatabaseUnavailable(error)).toBe(true);
      await new Promise((r) => setTimeout(r, 50));
      const started = performance.now();
      await Promise.all([1, 2, 3].map(() => database.sql`select 1`));
      // Without the sweep, two of these would each wait a second for their frozen connection.
      expect(performance.now() - started).toBeLessThan(500);
    } finally {
      await database.close();
    }
  });

  it('gives up a new statement’s describe round trip too (a Flush, not a Sync)', async () => {
    const database = connect(proxy.urlFor(adminUrl()), { max: 1, timeoutMs: 1_000 });
    try {
      await database.sql`select 1`;
      proxy.partition();
      const started = performance.now();
      // With a parameter, postgres.js first asks the server to describe the new statement.
      const error = await database.sql`select ${41}::int + 1 as x`.then(
        () => null,
        (e: unknown) => e,
      );
      expect(isDatabaseUnavailable(error), String(error)).toBe(true);
      expect(performance.now() - started).toBeLessThan(2_500);
    } finally {
      await database.close();
    }
  });

  it('a connect to a black hole fails within DATABASE_TIMEOUT, as "unavailable"', async () => {
    proxy.blackhole();
    const database = connect(proxy.urlFor(adminUrl()), { max: 1, timeoutMs: 1_000 });
    try {
      const started = performance.now();
      const error = await database.sql`select 1`.then(
        () => null,
        (e: unknown) => e,
      );
      expect(isDatabaseUnavailable(error), String(error)).toBe(true);
      expect(performance.now() - started).toBeLessThan(2_500);
    } finally {
      proxy.pass();
      await database.close();
    }
  });

  it('graphile-worker’s pool turns every connection failure into the one code its retry table knows', async () => {
    const pool = createWorkerPool(proxy.urlFor(adminUrl()), {
      max: 2,
      timeoutMs: 1_000,
      logger: createLogger('silent'),
    });
    try {
      await pool.query('select 1');
      proxy.partition();
      const frozen = await pool.query('select 2').then(
        () => null,
        (e: { code?: string }) => e,
      );
      expect(frozen?.code).toBe('DATABASE_UNAVAILABLE');
      await new Promise((r) => setTimeout(r, 50));
      proxy.refuse();
      const refused = await pool.query('select 3').then(
        () => null,
        (e: { code?: string }) => e,
      );
      expect(refused?.code).toBe('DATABASE_UNAVAILABLE');
      proxy.pass();
      const { rows } = await pool.query<{ x: number }>('select 4 as x');
      expect(rows[0]!.x).toBe(4);
    } finally {
      await pool.end();
    }
  });

  it('tells session failures from statement failures by their kind', () => {
    const sqlState = (code: string) => Object.assign(new Error('x'), { code });
    for (const code of ['08006', '57P01', '57P03', '53300', '55000', '58030', '25006'])
      expect(isDatabaseUnavailable(sqlState(code)), code).toBe(true);
    for (const code of ['23505', '42P01', '40001', '22P02', '57014'])
      expect(isDatabaseUnavailable(sqlState(code)), code).toBe(false);
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' });
    expect(isDatabaseUnavailable(new Error('Failed query', { cause: reset }))).toBe(true);
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('syntax error'))).toBe(false);
  });
});
