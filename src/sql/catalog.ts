import { sql } from './sql.js';

/**
 * The fixed catalogue of identifiers the service's SQL may name. Request input never
 * becomes an identifier; it can only select entries of these lists.
 */
export const V1_TABLES = ['mcp_servers', 'mcp_tools'] as const;
export const V2_TABLES = [
  'resources',
  'capabilities',
  'federation_nodes',
  'cost_tracking',
  'principal_budgets',
] as const;
export type V1Table = (typeof V1_TABLES)[number];
export type V2Table = (typeof V2_TABLES)[number];

/** Fresh planner statistics for one v2 table (after a copy, after an index build). */
export const analyzeSql = (table: V2Table) => sql(`ANALYZE ${table}`);

/** The schema that holds the service's own tables (migration ledger and later archives). */
export const SERVICE_SCHEMA = 'sark_migrate';

/**
 * The columns of the rows a rollback archives, in the order of the archive's composite types
 * (drizzle/0003) and of its views (src/db/service-schema.ts, drizzle/0004).
 */
export const ARCHIVED_COLUMNS = {
  resources: ['id', 'name', 'protocol', 'endpoint', 'sensitivity_level', 'metadata', 'created_at', 'updated_at'],
  capabilities: [
    'id',
    'resource_id',
    'name',
    'description',
    'input_schema',
    'output_schema',
    'sensitivity_level',
    'metadata',
  ],
} as const;

/** The tables of packs behind the archive's views, and the composite type of their rows. */
export const ARCHIVED_PACKS = {
  resources: 'archived_resource_packs',
  capabilities: 'archived_capability_packs',
} as const;
export const ARCHIVED_TYPES = { resources: 'archived_resource', capabilities: 'archived_capability' } as const;
