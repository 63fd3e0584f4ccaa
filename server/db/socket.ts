/**
 * The TCP sockets both database drivers (postgres.js for our queries, pg for
 * graphile-worker) talk through. A connection whose server stops answering
 * (a network partition, a dropped NAT entry, a frozen host) keeps its TCP
 * state open for many minutes: neither driver would notice, and a query on it
 * waits forever. This socket follows the protocol's message framing in both
 * directions to know when an answer is owed (each Query or Sync is closed by
 * one ReadyForQuery; a Flush is owed some message), and destroys the connection when one is owed and
 * nothing has arrived for `timeoutMs`. The driver then sees an ordinary
 * connection error, fails the query, and opens a fresh connection next time.
 * An idle connection owes nothing and is never timed out; a slow query that
 * streams rows keeps resetting the clock.
 *
 * It also turns Nagle's algorithm off (postgres.js leaves it on, and a COPY
 * end after a 256 KiB chunk then waited 40 ms for a delayed ACK; see
 * bench/REPORT.md) and TCP keepalive on.
 */
import net from 'node:net';
import { noteDatabaseFailure } from './health.ts';

/** The error a connection is destroyed with when its server stopped answering. */
export class DatabaseTimeoutError extends Error {
  override name = 'DatabaseTimeoutError';
  /** A socket-level code, so that every layer classifies it as "unreachable" (server/db/unavailable.ts). */
  readonly code = 'ETIMEDOUT';
  constructor(timeoutMs: number) {
    super(`The database did not answer within ${timeoutMs / 1000} s; the connection was given up.`);
  }
}

const SSL_REQUEST = 80_877_103;
const GSSENC_REQUEST = 80_877_104;
const CANCEL_REQUEST = 80_877_102;
/** ASCII codes of the messages that matter. */
const QUERY = 0x51; // 'Q'
const SYNC = 0x53; // 'S'
const FLUSH = 0x48; // 'H'
const COPY_DONE = 0x63; // 'c'
const COPY_FAIL = 0x66; // 'f'
const READY_FOR_QUERY = 0x5a; // 'Z'
const ERROR_RESPONSE = 0x45; // 'E'
const COPY_IN_RESPONSE = 0x47; // 'G'
const COPY_BOTH_RESPONSE = 0x57; // 'W'

/**
 * Walks a byte stream of protocol messages (1 type byte + int32 length, the
 * length counting itself), calling `onMessage` with each type, whatever the
 * chunk boundaries. Only headers are read; bodies are skipped.
 */
class Framing {
  /** Bytes of the current message's body still to skip. */
  private skip = 0;
  private header = Buffer.alloc(8);
  private headerFill = 0;
  constructor(
    private readonly onMessage: (type: number) => void,
    /** The first outgoing message (startup) has no type byte. */
    private untyped: boolean,
  ) {}

  /** Reads a chunk; an untyped first message's code (startup, SSL, cancel) goes to `onUntyped`. */
  feed(chunk: Uint8Array, onUntyped?: (code: number) => void): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const need = this.untyped ? 8 : 5;
      const n = Math.min(need - this.headerFill, chunk.length - i);
      this.header.set(chunk.subarray(i, i + n), this.headerFill);
      this.headerFill += n;
      i += n;
      if (this.headerFill < need) break;
      this.headerFill = 0;
      if (this.untyped) {
        this.untyped = false;
        this.skip = Math.max(0, this.header.readUInt32BE(0) - 8);
        onUntyped?.(this.header.readUInt32BE(4));
      } else {
        this.skip = Math.max(0, this.header.readUInt32BE(1) - 4);
        this.onMessage(this.header[0]!);
      }
    }
  }
}

/**
 * Watches one connection. `owed` counts the ReadyForQuery messages the server
 * still owes; while it is above zero (and the client is not itself streaming
 * COPY data) a timer runs, reset by every byte that arrives.
 */
/** One watched connection, as its pool's other connections see it. */
interface Watched {
  socket: net.Socket;
  /** Owes nothing: idle in its pool. */
  idle(): boolean;
  /** performance.now() of the last byte heard from the server. */
  heardAt(): number;
}

/**
 * The connections of one pool. When one is given up for not answering, the
 * idle ones that have not heard from the server for as long were most likely
 * opened across the same network path (a partition, a dropped NAT table):
 * they are closed too, so the next queries open fresh connections instead of
 * each finding a frozen one after DATABASE_TIMEOUT. A healthy idle connection
 * closed this way costs one reconnect.
 */
export type SocketGroup = Set<Watched>;

function watch(socket: net.Socket, timeoutMs: number, group: SocketGroup | undefined): void {
  let owed = 0;
  let heardAt = performance.now();
  /** A Flush asks for what is pending without a ReadyForQuery (postgres.js describes a new statement so). */
  let flushed = false;
  let copyingIn = false;
  /** After an SSL/GSS request the bytes are encrypted: fall back to "any write wants some answer". */
  let opaque = false;
  let timer: NodeJS.Timeout | null = null;

  const expire = () => {
    timer = null;
    noteDatabaseFailure();
    socket.destroy(new DatabaseTimeoutError(timeoutMs));
    const silentSince = performance.now() - timeoutMs;
    for (const other of group ?? [])
      if (other.socket !== socket && other.idle() && other.heardAt() < silentSince) other.socket.destroy();
  };
  const arm = () => {
    if (timer) timer.refresh();
    else {
      timer = setTimeout(expire, timeoutMs);
      // An owed answer must not keep a process alive that is otherwise done.
      timer.unref();
    }
  };
  const disarm = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  const settle = () => {
    if (opaque || ((owed > 0 || flushed) && !copyingIn)) arm();
    else disarm();
  };

  const outgoing = new Framing((type) => {
    if (type === QUERY || type === SYNC) owed++;
    else if (type === FLUSH) flushed = true;
    else if (type === COPY_DONE || type === COPY_FAIL) copyingIn = false;
  }, true);
  /** Whether the session got past its startup (its first ReadyForQuery). */
  let ready = false;
  const incoming = new Framing((type) => {
    flushed = false;
    // Refused at startup (not accepting connections, too many clients, starting up, …).
    if (type === ERROR_RESPONSE && !ready) noteDatabaseFailure();
    if (type === READY_FOR_QUERY) {
      ready = true;
      owed = Math.max(0, owed - 1);
    } else if (type === COPY_IN_RESPONSE || type === COPY_BOTH_RESPONSE) copyingIn = true;
  }, false);

  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  socket.write = (...args: unknown[]) => {
    const [data, encoding] = args;
    if (!opaque) {
      try {
        const bytes =
          typeof data === 'string'
            ? Buffer.from(data, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
            : (data as Uint8Array);
        outgoing.feed(bytes, (code) => {
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) opaque = true;
          // A cancel request gets no answer: the server closes the connection.
          else if (code !== CANCEL_REQUEST) owed++;
        });
      } catch {
        // Never let watching break the connection: fall back to the coarse rule.
        opaque = true;
      }
    }
    if (opaque) arm();
    else settle();
    return write(...args);
  };

  const self: Watched = { socket, idle: () => owed === 0 && !flushed, heardAt: () => heardAt };
  group?.add(self);
  socket.on('data', (chunk: Buffer) => {
    heardAt = performance.now();
    if (opaque) {
      disarm();
      return;
    }
    try {
      incoming.feed(chunk);
    } catch {
      opaque = true;
    }
    settle();
  });
  socket.once('close', () => {
    group?.delete(self);
    disarm();
    // Closed with an answer owed: the server ended the session (terminated, shut down) or the network did.
    if (owed > 0 && !opaque) noteDatabaseFailure();
  });
}

export interface WatchedSocketOptions {
  /** How long an owed answer may take to start arriving (DATABASE_TIMEOUT); 0 turns the watch off. */
  timeoutMs: number;
  /** The pool's connections, closed together when one is found frozen (see SocketGroup). */
  group?: SocketGroup;
}

/** A connecting socket for postgres.js's `socket` option (it connects nothing itself). */
export function connectWatched(
  target: { host: string; port: number } | { path: string },
  opts: WatchedSocketOptions,
): net.Socket {
  const socket = net.connect('path' in target ? { path: target.path } : target);
  prepare(socket, opts);
  return socket;
}

/** An unconnected socket for pg's `stream` option (pg calls connect() on it). */
export function watchedStream(opts: WatchedSocketOptions): net.Socket {
  const socket = new net.Socket();
  // net.Socket#connect resets `write` to the prototype's: the watch goes on after it.
  const connect = socket.connect.bind(socket) as (...args: unknown[]) => net.Socket;
  socket.connect = (...args: unknown[]) => {
    connect(...args);
    prepare(socket, opts);
    return socket;
  };
  return socket;
}

function prepare(socket: net.Socket, opts: WatchedSocketOptions): void {
  // Refused, reset, unreachable: the drivers handle the error; the HTTP layer hears of it too.
  socket.on('error', noteDatabaseFailure);
  socket.setNoDelay(true);
  // Finds a dead peer on an idle connection eventually (the kernel's probe schedule), so a
  // LISTEN connection cut by a partition is replaced; owed answers are the watch's job.
  socket.setKeepAlive(true, 10_000);
  if (opts.timeoutMs > 0) watch(socket, opts.timeoutMs, opts.group);
}
