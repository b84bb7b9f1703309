import type { Database } from '../../src/adapters/db/types.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { createV1Schema, generateV1Data, type V1Shape } from '../../src/demo/generate.js';

/** A SARK v1 database of the given shape and size, plus the empty v2 tables when asked. */
export async function seedV1(
  db: Database,
  options: { shape?: V1Shape; servers?: number; toolsPerServer?: number; withV2?: boolean } = {},
): Promise<void> {
  const shape = options.shape ?? 'orm';
  await db.transaction(async (tx) => {
    await createV1Schema(tx, shape);
    await generateV1Data(tx, { shape, servers: options.servers ?? 20, toolsPerServer: options.toolsPerServer ?? 3 });
  });
  if (options.withV2 ?? true) await db.withAdvisoryLock((session) => applyMigrations(session));
}
