/**
 * When this process last saw the database fail at the connection level (a
 * connection given up for not answering, refused, reset). The HTTP layer
 * asks it to answer 503 at DATABASE_TIMEOUT rather than let a request wait in
 * a queue behind connections that are being given up one by one.
 */
let lastFailure = 0;

export function noteDatabaseFailure(): void {
  lastFailure = performance.now();
}

/** Whether a connection-level failure was seen in the last `ms`. */
export function databaseFailedWithin(ms: number): boolean {
  return lastFailure > 0 && performance.now() - lastFailure <= ms;
}
