import type { Database } from '../../src/adapters/db/types.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { generateV1Data } from '../../src/demo/generate.js';
import { v1SchemaStatements, type V1Shape } from '../../src/demo/v1-schema.js';

/** A SARK v1 database of the given shape and size, plus the empty v2 tables when asked. */
export async function seedV1(
  db: Database,
  options: { shape?: V1Shape; servers?: number; toolsPerServer?: number; withV2?: boolean } = {},
): Promise<void> {
  const shape = options.shape ?? 'orm';
  await db.transaction(async (tx) => {
    for (const statement of v1SchemaStatements(shape)) await tx.query(statement);
    await generateV1Data(tx, { shape, servers: options.servers ?? 20, toolsPerServer: options.toolsPerServer ?? 3 });
  });
  if (options.withV2 ?? true) await db.withAdvisoryLock((session) => applyMigrations(session));
}
