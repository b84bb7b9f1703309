import { sql, type Sql } from './sql.js';

/**
 * The query patterns /benchmark times: SARK's eight polymorphic queries
 * (scripts/optimize_polymorphic_queries.py), with their runbook targets. The SQL is fixed;
 * what a request may change is bound as values ($1, $2, ...), never spliced into the text.
 */

export interface BenchmarkParams {
  protocol: string;
  metadataFilter: Record<string, unknown>;
  schemaKey: string;
  sensitivityLevels: string[];
  protocols: string[];
  excludedSensitivity: string;
  costWindowHours: number;
}

export const BENCHMARK_DEFAULTS: BenchmarkParams = {
  protocol: 'mcp',
  metadataFilter: { transport: 'stdio' },
  schemaKey: 'type',
  sensitivityLevels: ['high', 'critical'],
  protocols: ['mcp', 'http', 'grpc'],
  excludedSensitivity: 'low',
  costWindowHours: 24,
};

/** A statement /benchmark can time: a pattern, or a probe of /optimize. */
export interface Query {
  description: string;
  /** The runbook's target latency; null where it sets none. */
  targetMs: number | null;
  /** Tables the query reads: a missing one skips the pattern. */
  tables: readonly string[];
  sql: string;
  values(p: BenchmarkParams): unknown[];
}

export const PATTERNS = {
  list_resources_by_protocol: {
    description: 'Resources of one protocol, by name',
    targetMs: 50,
    tables: ['resources'],
    sql: `SELECT id, name, protocol, endpoint, sensitivity_level
  FROM resources
 WHERE protocol = $1
 ORDER BY name
 LIMIT 100`,
    values: (p) => [p.protocol],
  },
  search_resources_by_metadata: {
    description: 'Resources whose metadata contains a JSON document (GIN)',
    targetMs: 100,
    tables: ['resources'],
    sql: `SELECT id, name, protocol, endpoint
  FROM resources
 WHERE metadata @> $1::jsonb
 LIMIT 100`,
    values: (p) => [JSON.stringify(p.metadataFilter)],
  },
  list_capabilities_with_resources: {
    description: 'Capabilities with their resource, for one protocol',
    targetMs: 75,
    tables: ['resources', 'capabilities'],
    sql: `SELECT r.id, r.name, r.protocol, c.id AS capability_id, c.name AS capability_name, c.sensitivity_level
  FROM resources r
  JOIN capabilities c ON c.resource_id = r.id
 WHERE r.protocol = $1
 ORDER BY r.name, c.name
 LIMIT 100`,
    values: (p) => [p.protocol],
  },
  high_sensitivity_capabilities: {
    description: 'Capabilities at the given sensitivity levels',
    targetMs: 60,
    tables: ['resources', 'capabilities'],
    sql: `SELECT c.id, c.name, c.sensitivity_level, r.protocol
  FROM capabilities c
  JOIN resources r ON r.id = c.resource_id
 WHERE c.sensitivity_level = ANY($1::text[])
 ORDER BY c.sensitivity_level DESC, c.name
 LIMIT 100`,
    values: (p) => [p.sensitivityLevels],
  },
  search_capabilities_by_input_schema: {
    description: 'Capabilities whose input schema has a top-level key',
    targetMs: 100,
    tables: ['resources', 'capabilities'],
    sql: `SELECT c.id, c.name, c.input_schema, r.protocol
  FROM capabilities c
  JOIN resources r ON r.id = c.resource_id
 WHERE c.input_schema ? $1
 ORDER BY c.name
 LIMIT 100`,
    values: (p) => [p.schemaKey],
  },
  count_capabilities_per_protocol: {
    description: 'Capabilities per protocol (aggregation over every row)',
    targetMs: null,
    tables: ['resources', 'capabilities'],
    sql: `SELECT r.protocol, count(c.id)::int AS capability_count
  FROM resources r
  LEFT JOIN capabilities c ON c.resource_id = r.id
 GROUP BY r.protocol
 ORDER BY capability_count DESC`,
    values: () => [],
  },
  cross_protocol_capabilities: {
    description: 'Capabilities across protocols above a sensitivity level',
    targetMs: 150,
    tables: ['resources', 'capabilities'],
    sql: `SELECT r.protocol, c.name, c.sensitivity_level, c.input_schema->>'type' AS input_type
  FROM capabilities c
  JOIN resources r ON r.id = c.resource_id
 WHERE r.protocol = ANY($1::text[])
   AND c.sensitivity_level <> $2
 ORDER BY r.protocol, c.name
 LIMIT 100`,
    values: (p) => [p.protocols, p.excludedSensitivity],
  },
  resource_cost_analysis: {
    description: 'Cost per resource over a recent window (three-table join)',
    targetMs: 200,
    tables: ['resources', 'capabilities', 'cost_tracking'],
    sql: `SELECT r.id, r.name, r.protocol, count(ct.id)::int AS invocation_count, sum(ct.actual_cost) AS total_cost
  FROM resources r
  JOIN capabilities c ON c.resource_id = r.id
  JOIN cost_tracking ct ON ct.capability_id = c.id
 WHERE ct.timestamp >= now() - $1::int * interval '1 hour'
 GROUP BY r.id, r.name, r.protocol
 ORDER BY total_cost DESC
 LIMIT 50`,
    values: (p) => [p.costWindowHours],
  },
} as const satisfies Record<string, Query>;

export type PatternName = keyof typeof PATTERNS;
export const PATTERN_NAMES = Object.keys(PATTERNS) as [PatternName, ...PatternName[]];

/** A catalogue statement with the values it binds for these parameters. */
export const querySql = (query: Query, params: BenchmarkParams): Sql => sql(query.sql, query.values(params));

const explainSql = (options: string) => (query: Query, params: BenchmarkParams) =>
  sql<{ 'QUERY PLAN': unknown }>(`EXPLAIN (${options}) ${query.sql}`, query.values(params));
/** The server's own timing of one run: ANALYZE without per-node clocks, so it costs little. */
export const serverTimingSql = explainSql('ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON');
/** The plan walked once per pattern, with buffers and per-node row counts. */
export const analyzedPlanSql = explainSql('ANALYZE, BUFFERS, FORMAT JSON');
/** One run, its plan with row counts and buffers per node, without per-node clocks. */
export const measuredPlanSql = explainSql('ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON');
/** The planner's plan and cost of a statement, without running it. */
export const explainCostSql = explainSql('FORMAT JSON');

/** The backend running this transaction, and the transaction's start as exact epoch seconds. */
export const backendSql = () =>
  sql<{ pid: number; began: string }>('SELECT pg_backend_pid() AS pid, extract(epoch FROM now())::text AS began');

/** Cancels the statement of that backend, only while it still runs that transaction. */
export const cancelBackendSql = ({ pid, began }: { pid: number; began: string }) =>
  sql(
    'SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND extract(epoch FROM xact_start) = $2::numeric',
    [pid, began],
  );
