import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { inject } from 'vitest';
import { connect, withDatabase, type Database } from '../../server/db/client.ts';

export interface TestDatabase extends Database {
  url: string;
  drop(): Promise<void>;
}

/**
 * Copies the migrated template into a new database `name` (replacing one of
 * that name) and returns its URL; used by the tests and the benchmarks.
 */
export async function copyTemplate(adminUrl: string, template: string, name: string): Promise<string> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.unsafe(`create database "${name}" template "${template}"`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  return withDatabase(adminUrl, name);
}

/** A fresh, migrated database copied from the run's template; drop it in afterAll. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('adminUrl');
  const name = `autopost_test_${randomBytes(6).toString('hex')}`;
  const url = await copyTemplate(adminUrl, inject('templateDatabase'), name);
  const database = connect(url);
  return {
    ...database,
    url,
    async drop() {
      await database.close();
      const dropper = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await dropper.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await dropper.end({ timeout: 5 });
      }
    },
  };
}
