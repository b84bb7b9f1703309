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
export const analyzeSql = (table: V2Table) => `ANALYZE ${table}`;

/** The schema that holds the service's own tables (migration ledger and later archives). */
export const SERVICE_SCHEMA = 'sark_migrate';
