import type { Database } from '../adapters/db/types.js';
import { applyMigrations, V2_MIGRATIONS } from '../db/migrate.js';
import { existingTables } from '../sql/introspection.js';
import { V1_TABLES } from '../sql/catalog.js';
import { createV1Schema, generateV1Data } from './generate.js';

export const DEMO_SIZE = { servers: 1_000, toolsPerServer: 10 } as const;

/**
 * First start of the embedded database: SARK's v1 schema with a demo dataset and the empty
 * v2 tables (as SARK's own migrations leave them before the cutover). A database that already
 * has v1 is left as it is.
 */
export async function ensureDemoDatabase(db: Database): Promise<{ created: boolean }> {
  return db.withAdvisoryLock(async (session) => {
    if ((await existingTables(session, V1_TABLES)).size > 0) return { created: false };
    await session.transaction(async (tx) => {
      await createV1Schema(tx, 'orm');
      await generateV1Data(tx, { ...DEMO_SIZE, shape: 'orm' });
    });
    await applyMigrations(session, V2_MIGRATIONS);
    return { created: true };
  });
}
