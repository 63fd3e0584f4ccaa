/**
 * "The database cannot be reached right now", decided by the kind of failure
 * rather than by a list of codes seen once: whatever failed at the connection
 * (the socket, the driver's connection, a server refusing or ending
 * sessions) is retried later and answered 503; an error about the query
 * itself is not. See docs/operations.md, "Database faults".
 */

/**
 * SQLSTATE classes that speak of the session, not the statement:
 * 08 connection exception, 53 insufficient resources (too many connections,
 * disk full), 57P operator intervention (shutting down, crashed, starting up,
 * database dropped), 58 system error (I/O). 55000 is what PostgreSQL says
 * when a database does not accept connections (ALLOW_CONNECTIONS false), and
 * 25006 is a read-only server: a failover left us on a standby.
 */
function sessionLevel(sqlState: string): boolean {
  return /^(08|53|57P|58)/.test(sqlState) || sqlState === '55000' || sqlState === '25006';
}

/** What one error says, without its causes. */
function connectionLevel(e: Error): boolean {
  const { code, syscall } = e as { code?: unknown; syscall?: unknown };
  // Node's own socket and DNS errors (connect ECONNREFUSED, read ECONNRESET, write EPIPE, …).
  if (typeof syscall === 'string') return true;
  if (typeof code === 'string') {
    if (/^[0-9A-Z]{5}$/.test(code)) return sessionLevel(code);
    // postgres.js: CONNECTION_CLOSED / _ENDED / _DESTROYED, CONNECT_TIMEOUT; server/db/socket.ts: ETIMEDOUT.
    if (/^CONNECT(ION)?_|^E[A-Z]+$/.test(code)) return true;
  }
  // pg (graphile-worker's driver) reports a lost or failed connection with a message and no code.
  return /^Connection terminated|^timeout exceeded when trying to connect|is not queryable/.test(e.message);
}

/** Whether `error`, or an error it wraps, says the database is unreachable. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (connectionLevel(e)) return true;
  }
  return false;
}
