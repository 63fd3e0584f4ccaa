import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino blanks out wherever they appear in a log object. Request and
 * error serializers below already keep bodies and headers out; this is the
 * second line of defence for anything logged by hand.
 */
const REDACT = [
  'password',
  'token',
  'access_token',
  'authorization',
  '*.password',
  '*.token',
  '*.access_token',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

/** JSON logs to stdout, or to another file descriptor (the CLI keeps stdout for its output). */
export function createLogger(level: string, fd: 1 | 2 = 1): Logger {
  return pino(
    { level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } },
    pino.destination({ fd, sync: fd === 2 }),
  );
}

/**
 * Removes `access_token=...` from URLs and messages before they reach a log
 * line or an error, and `address:port` pairs, which connection errors carry
 * ("connect ECONNREFUSED 10.0.0.5:5432": where the database lives).
 */
export function scrubSecrets(text: string): string {
  return text
    .replace(/(access_token=)[^&\s"']+/gi, '$1[redacted]')
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}:\d+\b/g, '[address]');
}

/**
 * A loggable description of an unexpected error. Drizzle puts query
 * parameters into its messages and PostgreSQL puts row values into `detail`;
 * either may be a secret, so only the first line of each message, the SQL
 * state and the stack frames are kept.
 */
export function describeError(error: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    const firstLine = scrubSecrets(current.message.split('\n')[0] ?? '').slice(0, 300);
    const entry: Record<string, unknown> = { type: current.name, message: firstLine };
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') entry.code = code;
    if (depth === 0)
      entry.stack = current.stack
        ?.split('\n')
        .filter((l) => l.trimStart().startsWith('at '))
        .slice(0, 12);
    out[depth === 0 ? 'error' : `cause${depth}`] = entry;
    current = current.cause;
  }
  if (!(error instanceof Error)) out.error = { type: typeof error };
  return out;
}
