import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../server/db/embedded.ts';
import { migrateDatabase } from '../../server/db/migrate.ts';
import { createLogger } from '../../server/logger.ts';
import { withDatabase } from '../../server/db/client.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of a database on the test cluster from which others can be created. */
    adminUrl: string;
    /** Name of the migrated template each test file copies. */
    templateDatabase: string;
  }
}

/**
 * One PostgreSQL for the whole run: TEST_DATABASE_URL when given, else an
 * embedded one in a temporary folder. The schema is migrated once into a
 * template database; every test file gets its own copy (see db.ts).
 */
export default async function setup(project: TestProject) {
  let embedded: EmbeddedDatabase | undefined;
  let dataDir: string | undefined;
  let adminUrl = process.env.TEST_DATABASE_URL?.trim() || undefined;
  if (!adminUrl) {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'autopost-test-pg-'));
    // mkdtemp makes it 0700; as root, PostgreSQL runs as the `postgres` user and must enter it.
    chmodSync(dataDir, 0o755);
    embedded = await startEmbeddedPostgres({
      dir: path.join(dataDir, 'pg'),
      logger: createLogger('warn', 2),
      ephemeral: true,
      // Tests need no durability; these make commits several times cheaper.
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '300' },
    });
    adminUrl = embedded.adminUrl;
  }

  const templateDatabase = `autopost_template_${process.pid}_${Date.now()}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${templateDatabase}"`);
  await migrateDatabase(withDatabase(adminUrl, templateDatabase));

  project.provide('adminUrl', adminUrl);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    await admin.unsafe(`drop database if exists "${templateDatabase}" with (force)`);
    await admin.end({ timeout: 5 });
    await embedded?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
}
