/**
 * The pg pool graphile-worker runs on. graphile-worker 0.17 records a job's
 * outcome (completeJob/failJob) in the background without awaiting it, and
 * retries only errors whose `code` is a key of its RETRYABLE_ERROR_CODES
 * table; anything else there is an unhandled rejection that ends the process
 * (it did for 55000 "not accepting connections", and for pg's code-less
 * "Connection terminated unexpectedly"). Rather than adding codes to that
 * table one outage at a time, this pool's clients turn every error of the
 * "database unreachable" kind (server/db/unavailable.ts) into one error with
 * one code that the table retries, the original kept as its cause.
 */
import pg from 'pg';
// Not re-exported by the package's index; the module is part of its published dist.
import { RETRYABLE_ERROR_CODES } from 'graphile-worker/dist/lib.js';
import { describeError, type Logger } from '../logger.ts';
import { watchedStream, type SocketGroup } from './socket.ts';
import { isDatabaseUnavailable } from './unavailable.ts';

export const DATABASE_UNAVAILABLE = 'DATABASE_UNAVAILABLE';

/** Retried by graphile-worker with its own backoff (up to 100 tries, 30 s apart at most). */
RETRYABLE_ERROR_CODES[DATABASE_UNAVAILABLE] = { minDelay: 500, maxDelay: 30_000 };

export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
  readonly code = DATABASE_UNAVAILABLE;
  constructor(cause: unknown) {
    super(`The database is unreachable: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

const classify = (error: unknown): unknown =>
  isDatabaseUnavailable(error) && !(error instanceof DatabaseUnavailableError)
    ? new DatabaseUnavailableError(error)
    : error;

type Callback = (error: unknown, ...rest: unknown[]) => void;

/** Calls one of pg's query signatures; a callback and a promise get the same classification. */
function classifyCall(call: (args: unknown[]) => unknown, args: unknown[]): never {
  const last = args.at(-1);
  if (typeof last === 'function') {
    args[args.length - 1] = (error: unknown, ...rest: unknown[]) =>
      (last as Callback)(error ? classify(error) : error, ...rest);
  }
  const result = call(args);
  if (result instanceof Promise)
    return result.catch((error: unknown) => {
      throw classify(error);
    }) as never;
  return result as never;
}

class WorkerClient extends pg.Client {
  // pg-pool passes a callback; a caller awaiting the promise form gets the same classification.
  override connect(...args: unknown[]): never {
    const [callback] = args as [Callback | undefined];
    const connect = super.connect.bind(this) as (cb?: Callback) => Promise<void> | undefined;
    if (callback) return connect((error) => callback(error ? classify(error) : error)) as never;
    return connect()!.catch((error: unknown) => {
      throw classify(error);
    }) as never;
  }

  override query(...args: unknown[]): never {
    return classifyCall((a) => (super.query as (...a: unknown[]) => unknown).apply(this, a), args);
  }
}

/**
 * pg-pool wraps a failed connect in an error of its own (no code), and its
 * query() hears a client's socket error directly: classified the same way.
 */
class WorkerPool extends pg.Pool {
  override query(...args: unknown[]): never {
    return classifyCall((a) => (super.query as (...a: unknown[]) => unknown).apply(this, a), args);
  }

  override connect(...args: unknown[]): never {
    const [callback] = args as [Callback | undefined];
    const connect = super.connect.bind(this) as (cb?: Callback) => Promise<pg.PoolClient> | undefined;
    if (callback)
      return connect((error, ...rest) => callback(error ? classify(error) : error, ...rest)) as never;
    return connect()!.catch((error: unknown) => {
      throw classify(error);
    }) as never;
  }
}

export function createWorkerPool(
  url: string,
  opts: { max: number; timeoutMs: number; logger: Logger },
): pg.Pool {
  const group: SocketGroup = new Set();
  const pool = new WorkerPool({
    connectionString: url,
    max: opts.max,
    Client: WorkerClient,
    // A connection that stops answering is given up (server/db/socket.ts), the startup included,
    // so a connect is bounded too.
    stream: () => watchedStream({ timeoutMs: opts.timeoutMs, group }),
  });
  // Without these, an idle client cut by the server (a restart, a terminated backend) is an
  // unhandled 'error' event.
  pool.on('error', (error) => opts.logger.warn(describeError(error), 'idle worker connection lost'));
  pool.on('connect', (client) => {
    client.on('error', (error) => opts.logger.warn(describeError(error), 'worker connection lost'));
  });
  return pool;
}
