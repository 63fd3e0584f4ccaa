/**
 * Error codes that mean "the database cannot be reached right now" rather
 * than "this query is wrong": socket errors, postgres.js's connection states,
 * and the SQLSTATEs of a lost connection (class 08) or of a server shutting
 * down, starting or full.
 */
export const DATABASE_UNAVAILABLE_CODES = [
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '57P01',
  '57P02',
  '57P03',
  '53300',
] as const;

const UNAVAILABLE = new Set<string>(DATABASE_UNAVAILABLE_CODES);

/** Whether `error`, or an error it wraps, says the database is unreachable. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNAVAILABLE.has(code)) return true;
  }
  return false;
}
