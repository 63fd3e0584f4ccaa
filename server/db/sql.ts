import { sql, type SQL } from 'drizzle-orm';

/**
 * A PostgreSQL interval of `ms` milliseconds, inlined into the statement
 * (drizzle would otherwise send it as a text parameter that needs a cast).
 */
export function intervalOf(ms: number): SQL {
  return sql.raw(`interval '${Math.round(ms)} milliseconds'`);
}

/**
 * An array literal (`{"a","b"}`) to send as ONE parameter with a cast such as
 * `::text[]` or `::bigint[]`. drizzle spreads a JS array into `($1, $2, …)`,
 * which cannot be bound to `any(…)` or passed to a function taking an array.
 */
export function arrayLiteral(values: readonly (string | number)[]): string {
  const quoted = values.map((v) => `"${String(v).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`);
  return `{${quoted.join(',')}}`;
}
