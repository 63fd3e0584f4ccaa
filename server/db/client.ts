import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema.ts';
import { connectWatched, type SocketGroup } from './socket.ts';

export type Db = PostgresJsDatabase<typeof schema>;
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
/** What services take: the pool or the caller's transaction. */
export type DbOrTx = Db | Tx;

export interface Database {
  db: Db;
  sql: postgres.Sql;
  close: () => Promise<void>;
}

/**
 * drizzle runs queries unprepared (`prepare: false`) unless each is declared
 * with `.prepare(name)`, so PostgreSQL parses and plans every one again.
 * This makes all of them prepared statements (postgres.js keeps them per
 * connection, keyed by text; our query shapes are few), transactions included.
 */
function preparing(client: postgres.Sql): postgres.Sql {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'unsafe') {
        return (query: string, params?: unknown[], options?: object) =>
          target.unsafe(query, params as never, { ...options, prepare: true });
      }
      if (prop === 'begin') {
        return (...args: unknown[]) => {
          const callback = args.at(-1) as (tx: postgres.Sql) => unknown;
          return (target.begin as (...a: unknown[]) => unknown)(...args.slice(0, -1), (tx: postgres.Sql) =>
            callback(preparing(tx)),
          );
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

export function connect(
  url: string,
  opts: {
    max?: number;
    /** `false` for writes that may be lost in a crash (rate-limit counters): no disk flush per commit. */
    synchronousCommit?: boolean;
    /**
     * DATABASE_TIMEOUT in ms: longest wait for a connection, and for an owed answer to start
     * arriving before the connection is given up (server/db/socket.ts). 0: no bound. Default 5 s.
     */
    timeoutMs?: number;
  } = {},
): Database {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const group: SocketGroup = new Set();
  const sql = postgres(url, {
    max: opts.max ?? 10,
    ...(timeoutMs > 0 ? { connect_timeout: timeoutMs / 1000 } : {}),
    // postgres.js waits up to 20 s between attempts at a server that refuses (its default grows
    // as 3^n); a query waiting for that attempt waited as long. Refusals are cheap: try often.
    backoff: (retries: number) => Math.min(0.1 * 2 ** retries, 1),
    // `socket` is a supported option postgres.js's types do not declare. Returned while still
    // connecting: postgres.js attaches its handlers, and the startup message waits in the socket.
    ...({
      socket: (o: { host: string[]; port: number[]; path?: string }) =>
        connectWatched(o.path ? { path: o.path } : { host: o.host[0]!, port: o.port[0]! }, {
          timeoutMs,
          group,
        }),
    } as object),
    // Notices such as "relation already exists, skipping" are noise in our logs.
    onnotice: () => {},
    connection: {
      application_name: 'instagram-autopost',
      ...(opts.synchronousCommit === false ? { synchronous_commit: 'off' } : {}),
    },
  });
  const db = drizzle(preparing(sql), { schema });
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}

/** The SQLSTATE of a PostgreSQL error, looking through drizzle's wrapper. */
export function pgErrorCode(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export const PG_UNIQUE_VIOLATION = '23505';

/** The same server URL, pointing at another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
