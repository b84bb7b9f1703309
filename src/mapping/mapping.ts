import type { V1Shape } from './shape.js';

/**
 * SARK's canonical v1 → v2 mapping (../shared/CONTRACT.md), as data. migrate, validate and
 * rollback derive their SQL from these tables; no other module spells a v1 column name.
 *
 * Expressions are SQL over the table alias of their mapping; they come from this fixed
 * catalogue only, never from a request.
 */
export interface TableMapping {
  v1Table: 'mcp_servers' | 'mcp_tools';
  v2Table: 'resources' | 'capabilities';
  /** Alias of the v1 table in every expression below. */
  alias: 's' | 't';
  /** v2 column → v1 expression; `metadata` is built from metadataKeys and merge. */
  columns: Record<string, string>;
  /** metadata key → v1 column, in the order SARK writes them. */
  metadataKeys: Record<string, string>;
  /** A JSONB column merged over the built metadata; its keys win. */
  metadataMerge: string;
  /** v1 id expression as v2 text id, and the v2 column it lands in. */
  id: { v1: string; v2: string };
}

export interface Mapping {
  shape: V1Shape;
  servers: TableMapping;
  tools: TableMapping;
  /** A server maps only when this holds (resources.endpoint is NOT NULL). */
  serverCopyable: string;
  /** The capabilities column that points at the resource, and the v1 column it comes from. */
  toolParent: { v1: string; v2: string };
}

export function mappingFor(shape: V1Shape): Mapping {
  const servers: TableMapping = {
    v1Table: 'mcp_servers',
    v2Table: 'resources',
    alias: 's',
    id: { v1: 's.id', v2: 'id' },
    columns: {
      id: 's.id::text',
      name: 's.name',
      protocol: "'mcp'",
      endpoint: 'COALESCE(s.command, s.endpoint)',
      sensitivity_level: 's.sensitivity_level::text',
      created_at: 's.created_at',
      updated_at: 's.updated_at',
    },
    metadataKeys: {
      transport: 'transport',
      command: 'command',
      endpoint: 'endpoint',
      mcp_version: 'mcp_version',
      capabilities: 'capabilities',
      status: 'status',
      health_endpoint: 'health_endpoint',
      last_health_check: 'last_health_check',
      owner_id: 'owner_id',
      team_id: 'team_id',
      consul_id: 'consul_id',
      tags: 'tags',
      signature: 'signature',
      description: 'description',
    },
    metadataMerge: 'extra_metadata',
  };
  const tools: TableMapping = {
    v1Table: 'mcp_tools',
    v2Table: 'capabilities',
    alias: 't',
    id: { v1: 't.id', v2: 'id' },
    columns: {
      id: 't.id::text',
      resource_id: 't.server_id::text',
      name: 't.name',
      description: 't.description',
      input_schema: `t.${shape.toolSchemaColumn}`,
      output_schema: "'{}'::jsonb",
      sensitivity_level: 't.sensitivity_level::text',
    },
    metadataKeys: {
      requires_approval: 'requires_approval',
      signature: 'signature',
      ...(shape.toolCounters ? { invocation_count: 'invocation_count', last_invoked: 'last_invoked' } : {}),
    },
    metadataMerge: 'extra_metadata',
  };
  return {
    shape,
    servers,
    tools,
    serverCopyable: 'COALESCE(s.command, s.endpoint) IS NOT NULL',
    toolParent: { v1: 't.server_id', v2: 'resource_id' },
  };
}

/** The v1 expression of the whole v2 metadata object: the mapped keys, then the merge column over them. */
export function metadataExpression(m: TableMapping): string {
  const pairs = Object.entries(m.metadataKeys).map(([key, column]) => `'${key}', ${m.alias}.${column}`);
  return `(jsonb_build_object(${pairs.join(', ')}) || ${m.alias}.${m.metadataMerge})`;
}

/** v2 column list and the matching v1 select list, metadata included. */
export function projection(m: TableMapping): { columns: string[]; expressions: string[] } {
  const entries = [...Object.entries(m.columns), ['metadata', metadataExpression(m)] as const];
  return { columns: entries.map(([c]) => c), expressions: entries.map(([, e]) => e) };
}
