import { V2_TABLES } from './catalog.js';
import { sql, type Sql } from './sql.js';

/** SQL of /validate's checks other than fidelity. Table and column names come from the catalogue. */

/** Every column of the v2 tables with its formatted type. */
export function v2ColumnsSql(): Sql<{ table_name: string; column_name: string; type: string }> {
  return {
    text: `SELECT c.relname AS table_name, a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.oid = ANY (SELECT to_regclass(t) FROM unnest($1::text[]) t) AND a.attnum > 0 AND NOT a.attisdropped`,
    values: [[...V2_TABLES]],
  };
}

/** Indexes on the v2 tables left INVALID (a failed CREATE INDEX CONCURRENTLY). */
export function invalidIndexesSql(): Sql<{ name: string }> {
  return {
    text: `SELECT x.relname AS name FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
            WHERE NOT i.indisvalid AND i.indrelid = ANY (SELECT to_regclass(t) FROM unnest($1::text[]) t) ORDER BY 1`,
    values: [[...V2_TABLES]],
  };
}

/** Foreign keys from capabilities.resource_id to resources, with their ON DELETE action. */
export function capabilityForeignKeysSql(): Sql<{ name: string; on_delete: string }> {
  return {
    text: `SELECT conname AS name, confdeltype AS on_delete FROM pg_constraint
            WHERE contype = 'f' AND conrelid = to_regclass('capabilities') AND confrelid = to_regclass('resources')
              AND conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = to_regclass('capabilities') AND attname = 'resource_id')]`,
    values: [],
  };
}

/** Counts of the row-level rules on resources, in one pass. */
export type ResourceRules = {
  missing_fields: number;
  empty_metadata: number;
  bad_sensitivity: number;
  unknown_protocol: number;
  total: number;
};

export function resourceRulesSql(levels: readonly string[], protocols: readonly string[]): Sql<ResourceRules> {
  return {
    text: `SELECT count(*) FILTER (WHERE name IS NULL OR name = '' OR endpoint IS NULL OR endpoint = '' OR protocol IS NULL OR protocol = '')::int AS missing_fields,
                  count(*) FILTER (WHERE protocol = 'mcp' AND metadata = '{}'::jsonb)::int AS empty_metadata,
                  count(*) FILTER (WHERE sensitivity_level IS NULL OR NOT sensitivity_level = ANY($1::text[]))::int AS bad_sensitivity,
                  count(*) FILTER (WHERE NOT protocol = ANY($2::text[]))::int AS unknown_protocol,
                  count(*)::int AS total
             FROM resources`,
    values: [levels, protocols],
  };
}

/** Counts of the row-level rules on capabilities, orphans included, in one pass. */
export type CapabilityRules = { missing_fields: number; bad_sensitivity: number; orphans: number; total: number };

export function capabilityRulesSql(levels: readonly string[]): Sql<CapabilityRules> {
  return {
    text: `SELECT count(*) FILTER (WHERE c.name IS NULL OR c.name = '')::int AS missing_fields,
                  count(*) FILTER (WHERE c.sensitivity_level IS NULL OR NOT c.sensitivity_level = ANY($1::text[]))::int AS bad_sensitivity,
                  count(*) FILTER (WHERE r.id IS NULL)::int AS orphans,
                  count(*)::int AS total
             FROM capabilities c LEFT JOIN resources r ON r.id = c.resource_id`,
    values: [levels],
  };
}

/** Up to `limit` ids of the rows breaking a rule (a failed check's sample). */
const ids = (text: string, values: unknown[]) => sql<{ id: string }>(text, values);

export const ruleSampleSql = {
  resourcesMissingFields: (limit: number) =>
    ids(
      `SELECT id FROM resources WHERE name IS NULL OR name = '' OR endpoint IS NULL OR endpoint = '' OR protocol IS NULL OR protocol = '' ORDER BY id LIMIT $1`,
      [limit],
    ),
  capabilitiesMissingFields: (limit: number) =>
    ids(`SELECT id FROM capabilities WHERE name IS NULL OR name = '' ORDER BY id LIMIT $1`, [limit]),
  emptyMetadata: (limit: number) =>
    ids(`SELECT id FROM resources WHERE protocol = 'mcp' AND metadata = '{}'::jsonb ORDER BY id LIMIT $1`, [limit]),
  resourcesBadSensitivity: (limit: number, levels: readonly string[]) =>
    ids(
      `SELECT id FROM resources WHERE sensitivity_level IS NULL OR NOT sensitivity_level = ANY($2::text[]) ORDER BY id LIMIT $1`,
      [limit, levels],
    ),
  capabilitiesBadSensitivity: (limit: number, levels: readonly string[]) =>
    ids(
      `SELECT id FROM capabilities WHERE sensitivity_level IS NULL OR NOT sensitivity_level = ANY($2::text[]) ORDER BY id LIMIT $1`,
      [limit, levels],
    ),
  unknownProtocol: (limit: number, protocols: readonly string[]) =>
    ids(`SELECT id FROM resources WHERE NOT protocol = ANY($2::text[]) ORDER BY id LIMIT $1`, [limit, protocols]),
  orphans: (limit: number) =>
    ids(
      `SELECT c.id FROM capabilities c WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.id = c.resource_id) ORDER BY c.id LIMIT $1`,
      [limit],
    ),
};

/** cost_tracking rows naming a capability that does not exist. */
export function unknownCostCapabilitiesSql(limit: number): Sql<{ n: number; sample: string[] | null }> {
  return {
    text: `SELECT count(*)::int AS n, (array_agg(DISTINCT k.capability_id))[1:$1] AS sample
             FROM cost_tracking k WHERE NOT EXISTS (SELECT 1 FROM capabilities c WHERE c.id = k.capability_id)`,
    values: [limit],
  };
}
