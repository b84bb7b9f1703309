import type { Queryable } from '../../src/adapters/db/types.js';

/**
 * An oracle for the migration, written out by hand from ../shared/CONTRACT.md and
 * independent of src/mapping: how many v1 rows have no v2 row equal in every mapped field.
 */
const SERVER_MISMATCHES = `
SELECT s.id::text AS id FROM mcp_servers s LEFT JOIN resources r ON r.id = s.id::text
 WHERE r.id IS NULL
    OR r.name IS DISTINCT FROM s.name
    OR r.protocol <> 'mcp'
    OR r.endpoint IS DISTINCT FROM COALESCE(s.command, s.endpoint)
    OR r.sensitivity_level IS DISTINCT FROM s.sensitivity_level::text
    OR r.created_at IS DISTINCT FROM s.created_at
    OR r.updated_at IS DISTINCT FROM s.updated_at
    OR r.metadata->>'transport' IS DISTINCT FROM s.transport::text
    OR r.metadata->>'command' IS DISTINCT FROM s.command
    OR r.metadata->>'endpoint' IS DISTINCT FROM s.endpoint
    OR r.metadata->>'mcp_version' IS DISTINCT FROM s.mcp_version
    OR r.metadata->'capabilities' IS DISTINCT FROM s.capabilities
    OR r.metadata->>'status' IS DISTINCT FROM s.status::text
    OR r.metadata->>'health_endpoint' IS DISTINCT FROM s.health_endpoint
    OR (r.metadata->>'last_health_check')::timestamptz IS DISTINCT FROM s.last_health_check
    OR (r.metadata->>'owner_id')::uuid IS DISTINCT FROM s.owner_id
    OR (r.metadata->>'team_id')::uuid IS DISTINCT FROM s.team_id
    OR r.metadata->>'consul_id' IS DISTINCT FROM s.consul_id
    OR r.metadata->'tags' IS DISTINCT FROM s.tags
    OR r.metadata->>'signature' IS DISTINCT FROM s.signature
    OR r.metadata->>'description' IS DISTINCT FROM s.description
    OR NOT r.metadata @> s.extra_metadata`;

function toolMismatches(schemaColumn: 'parameters' | 'parameters_schema', counters: boolean): string {
  return `
SELECT t.id::text AS id FROM mcp_tools t LEFT JOIN capabilities c ON c.id = t.id::text
 WHERE c.id IS NULL
    OR c.resource_id IS DISTINCT FROM t.server_id::text
    OR c.name IS DISTINCT FROM t.name
    OR c.description IS DISTINCT FROM t.description
    OR c.input_schema IS DISTINCT FROM t.${schemaColumn}
    OR c.output_schema <> '{}'::jsonb
    OR c.sensitivity_level IS DISTINCT FROM t.sensitivity_level::text
    OR (c.metadata->>'requires_approval')::boolean IS DISTINCT FROM t.requires_approval
    OR c.metadata->>'signature' IS DISTINCT FROM t.signature
    ${
      counters
        ? `OR (c.metadata->>'invocation_count')::int IS DISTINCT FROM t.invocation_count
    OR (c.metadata->>'last_invoked')::timestamptz IS DISTINCT FROM t.last_invoked`
        : `OR c.metadata ? 'invocation_count'`
    }
    OR NOT c.metadata @> t.extra_metadata`;
}

export interface Fidelity {
  serverMismatches: string[];
  toolMismatches: string[];
  resources: number;
  capabilities: number;
}

export async function checkFidelity(db: Queryable, shape: 'orm' | 'migration'): Promise<Fidelity> {
  const servers = await db.query<{ id: string }>(SERVER_MISMATCHES);
  const tools = await db.query<{ id: string }>(
    toolMismatches(shape === 'orm' ? 'parameters' : 'parameters_schema', shape === 'orm'),
  );
  const counts = await db.query<{ resources: number; capabilities: number }>(
    'SELECT (SELECT count(*)::int FROM resources) AS resources, (SELECT count(*)::int FROM capabilities) AS capabilities',
  );
  return {
    serverMismatches: servers.rows.map((r) => r.id),
    toolMismatches: tools.rows.map((r) => r.id),
    ...counts.rows[0]!,
  };
}

/** Every v2 resource of v1 origin has every one of its server's tools: batches landed whole. */
export async function resourcesMissingTools(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`
    SELECT count(*)::int AS n FROM resources r JOIN mcp_servers s ON r.id = s.id::text
     WHERE (SELECT count(*) FROM mcp_tools t WHERE t.server_id = s.id) <> (SELECT count(*) FROM capabilities c WHERE c.resource_id = r.id)`);
  return rows[0]!.n;
}
