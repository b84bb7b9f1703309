import type { Queryable } from '../adapters/db/types.js';
import { ServiceError } from '../errors.js';
import { v1ColumnsSql } from '../sql/introspection.js';
import { queryRows } from '../sql/sql.js';

/**
 * Which of SARK's two real v1 shapes a database has, found by introspection:
 * `orm` (mcp_tools.parameters, invocation_count, last_invoked) or `migration`
 * (mcp_tools.parameters_schema, no counters).
 */
export interface V1Shape {
  name: 'orm' | 'migration';
  /** The mcp_tools column that holds a tool's JSON schema. */
  toolSchemaColumn: 'parameters' | 'parameters_schema';
  /** mcp_tools has invocation_count and last_invoked. */
  toolCounters: boolean;
  /** information_schema data_type of every v1 column, by `table.column`: comparisons need them. */
  columnTypes: Record<string, string>;
}

/** Columns every v1 database has, whatever its shape; the mapping reads each of them. */
export const V1_REQUIRED_COLUMNS = {
  mcp_servers: [
    'id',
    'name',
    'description',
    'transport',
    'endpoint',
    'command',
    'mcp_version',
    'capabilities',
    'sensitivity_level',
    'signature',
    'status',
    'health_endpoint',
    'last_health_check',
    'owner_id',
    'team_id',
    'consul_id',
    'tags',
    'extra_metadata',
    'created_at',
    'updated_at',
  ],
  mcp_tools: [
    'id',
    'server_id',
    'name',
    'description',
    'sensitivity_level',
    'signature',
    'requires_approval',
    'extra_metadata',
  ],
} as const;

const unsupported = (detail: string, missing: string[]) =>
  new ServiceError('unsupported-v1-schema', detail, { facts: { missing } });

export async function detectV1Shape(db: Queryable): Promise<V1Shape> {
  const rows = await queryRows(db, v1ColumnsSql());
  const has = (table: string, column: string) => rows.some((r) => r.table_name === table && r.column_name === column);
  const missingTables = (['mcp_servers', 'mcp_tools'] as const).filter((t) => !rows.some((r) => r.table_name === t));
  if (missingTables.length > 0) {
    throw unsupported(
      `The database has no SARK v1 table ${missingTables.join(' or ')}: there is nothing to migrate.`,
      missingTables,
    );
  }
  const missing = Object.entries(V1_REQUIRED_COLUMNS).flatMap(([table, columns]) =>
    columns.filter((c) => !has(table, c)).map((c) => `${table}.${c}`),
  );
  const toolSchemaColumn = has('mcp_tools', 'parameters')
    ? 'parameters'
    : has('mcp_tools', 'parameters_schema')
      ? 'parameters_schema'
      : undefined;
  if (!toolSchemaColumn) missing.push('mcp_tools.parameters (or parameters_schema)');
  if (missing.length > 0 || !toolSchemaColumn) {
    throw unsupported(
      `The v1 schema lacks ${missing.join(', ')}; it matches neither of SARK's known v1 shapes.`,
      missing,
    );
  }
  const toolCounters = has('mcp_tools', 'invocation_count') && has('mcp_tools', 'last_invoked');
  const columnTypes = Object.fromEntries(rows.map((r) => [`${r.table_name}.${r.column_name}`, r.data_type]));
  return {
    name: toolSchemaColumn === 'parameters' && toolCounters ? 'orm' : 'migration',
    toolSchemaColumn,
    toolCounters,
    columnTypes,
  };
}
