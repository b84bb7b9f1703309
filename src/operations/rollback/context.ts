import type { Queryable } from '../../adapters/db/types.js';
import { mappingFor, type Mapping } from '../../mapping/mapping.js';
import { detectV1Shape } from '../../mapping/shape.js';
import { existingTables } from '../../sql/introspection.js';

/** What a rollback's plan and its run share: the request, limits, and the mapping they derive SQL from. */

export interface RollbackInput {
  dryRun: boolean;
  resourceIds?: string[] | undefined;
  planId?: string | undefined;
  backportChanges: boolean;
  batchSize: number;
  parallelism: number;
}

/** Measured with `npm run bench` at 100k servers × 10 tools (docs/performance.md). */
export const ROLLBACK_DEFAULTS = { batchSize: 5_000, parallelism: 2 } as const;

/** A dry run, and the last transaction of a run (a subset's resources, orphans), may take this long. */
export const LIMITS = { statementTimeoutMs: 600_000, lockTimeoutMs: 5_000 } as const;

/** The mapping of this database's v1 shape; null when it has no v2 tables to roll back. */
export async function understand(db: Queryable): Promise<Mapping | null> {
  if ((await existingTables(db, ['resources', 'capabilities'])).size < 2) return null;
  return mappingFor(await detectV1Shape(db));
}
