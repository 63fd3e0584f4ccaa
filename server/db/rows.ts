import { getTableColumns, type Table } from 'drizzle-orm';

/**
 * Maps raw rows (snake_case, driver values) of `table` to drizzle's typed
 * shape using each column's own decoder. For hot read paths run through
 * `db.execute`: drizzle's select builder re-checks every field's type on
 * every row, which showed up as the largest CPU cost of our reads.
 */
export function rowMapper<T extends Table>(table: T): (row: Record<string, unknown>) => T['$inferSelect'] {
  const columns = Object.entries(getTableColumns(table)).map(([key, column]) => ({
    key,
    name: column.name,
    column,
  }));
  return (row) => {
    const out: Record<string, unknown> = {};
    for (const { key, name, column } of columns) {
      const value = row[name];
      out[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
    }
    // The keys and decoders come from the table itself, so the shape is the table's.
    return out;
  };
}
