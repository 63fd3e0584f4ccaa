import path from 'node:path';
import type { Env } from '../env.ts';
import type { Logger } from '../logger.ts';
import { ensureDatabase, startEmbeddedPostgres } from './embedded.ts';

const EMBEDDED_DATABASE = 'autopost';

/** DATABASE_URL when given; otherwise an embedded PostgreSQL with its data under DATA_DIR/pg. */
export async function resolveDatabaseUrl(
  env: Env,
  logger: Logger,
): Promise<{ url: string; embedded: boolean; stop: () => Promise<void> }> {
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, embedded: false, stop: async () => {} };
  const cluster = await startEmbeddedPostgres({ dir: path.join(env.DATA_DIR, 'pg'), logger });
  await ensureDatabase(cluster.adminUrl, EMBEDDED_DATABASE);
  logger.info({ dataDir: env.DATA_DIR }, 'using the embedded PostgreSQL (set DATABASE_URL to use your own)');
  return { url: cluster.urlFor(EMBEDDED_DATABASE), embedded: true, stop: () => cluster.stop() };
}
