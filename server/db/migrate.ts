import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { runMigrations } from 'graphile-worker';
import postgres from 'postgres';

/** drizzle/ at the project root, found from this file whether it runs from server/ or a build in dist/. */
function findMigrations(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'drizzle');
    if (existsSync(path.join(candidate, 'meta', '_journal.json'))) return candidate;
    if (dir === path.dirname(dir)) throw new Error('drizzle/ migrations folder not found');
  }
}

const MIGRATIONS_FOLDER = findMigrations();

// Any constant works; it only has to be the same in every process of this app.
const MIGRATION_LOCK = 7_243_911_001;

/**
 * Applies our drizzle migrations and graphile-worker's own. Several processes
 * may start at once against one database, so the work runs under an advisory
 * lock on a single connection.
 */
export async function migrateDatabase(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK})`;
    try {
      await migrate(drizzle(sql), { migrationsFolder: MIGRATIONS_FOLDER });
      await runMigrations({ connectionString: url });
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK})`;
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}
