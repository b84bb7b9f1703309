import type { Queryable } from '../adapters/db/types.js';
import { analyzeAllSql, serversSql, toolsSql, usersAndTeamsSql } from '../sql/demo/data.js';
import { v1SchemaSql, type V1Shape } from '../sql/demo/v1-schema.js';
import { execute } from '../sql/sql.js';

export interface GenerateOptions {
  servers: number;
  toolsPerServer: number;
  shape: V1Shape;
}

/**
 * Fills a v1 database with realistic data, in SQL, like ../shared/sark/v1_generate.sql:
 * all three transports (stdio servers have a command and no endpoint), every sensitivity
 * level and status, NULL owners, teams, descriptions and consul ids, empty and non-empty
 * extra_metadata, tags and capabilities. Run it again to append more servers.
 */
export async function generateV1Data(
  db: Queryable,
  { servers, toolsPerServer, shape }: GenerateOptions,
): Promise<void> {
  for (const statement of usersAndTeamsSql()) await execute(db, statement);
  await execute(db, serversSql({ servers }));
  await execute(db, toolsSql({ shape, toolsPerServer }));
  await execute(db, analyzeAllSql());
}

/** SARK v1.x's tables in one of its two shapes (src/sql/demo/v1-schema.ts). */
export async function createV1Schema(db: Queryable, shape: V1Shape): Promise<void> {
  for (const statement of v1SchemaSql(shape)) await execute(db, statement);
}

export type { V1Shape };
