import type { Queryable } from '../../adapters/db/types.js';
import { mappingFor, type Mapping } from '../../mapping/mapping.js';
import { detectV1Shape } from '../../mapping/shape.js';
import { existingTables } from '../../sql/introspection.js';
import type { SizingPolicy } from '../sizing.js';

/** What a rollback's plan and its run share: the request, limits, and the mapping they derive SQL from. */

export interface RollbackInput {
  dryRun: boolean;
  resourceIds?: string[] | undefined;
  planId?: string | undefined;
  backportChanges: boolean;
  /** Resources per batch; left out, chosen from the measured time of the batches (ROLLBACK_SIZING). */
  batchSize?: number | undefined;
  /** The adaptive policy (default ROLLBACK_SIZING): for tests and `npm run bench`; requests cannot set it. */
  sizing?: SizingPolicy | undefined;
  parallelism: number;
}

/** Measured with `npm run bench` at 100k servers × 10 tools (docs/performance.md). */
export const ROLLBACK_DEFAULTS = { parallelism: 2 } as const;

/** Adaptive batches start at the size `npm run bench` measured best on Node, and aim at a second each. */
export const ROLLBACK_SIZING: SizingPolicy = { first: 5_000, targetMs: 1_000, min: 500, max: 50_000 };

/** A dry run, and the last transaction of a run (a subset's resources, orphans), may take this long. */
export const LIMITS = { statementTimeoutMs: 600_000, lockTimeoutMs: 5_000 } as const;

/** The mapping of this database's v1 shape; null when it has no v2 tables to roll back. */
export async function understand(db: Queryable): Promise<Mapping | null> {
  if ((await existingTables(db, ['resources', 'capabilities'])).size < 2) return null;
  return mappingFor(await detectV1Shape(db));
}
