import { sql, type Sql } from '../sql.js';
import type { V1Shape } from './v1-schema.js';

/**
 * SQL of the demo data (src/demo/generate.ts): realistic SARK v1 rows made in the database,
 * like ../shared/sark/v1_generate.sql.
 */

const USERS_AND_TEAMS = [
  `INSERT INTO users (id, email, full_name, hashed_password)
   SELECT gen_random_uuid(), 'user' || g || '-' || left(md5(random()::text), 6) || '@example.com', 'User ' || g, 'x'
   FROM generate_series(1, 100) g`,
  `INSERT INTO teams (id, name)
   SELECT gen_random_uuid(), 'team-' || g || '-' || left(md5(random()::text), 6) FROM generate_series(1, 20) g`,
];

const SERVERS = `
WITH u AS (SELECT array_agg(id) a FROM users), t AS (SELECT array_agg(id) a FROM teams),
     base AS (SELECT coalesce(max((regexp_match(name, '^server-(\\d+)$'))[1]::int), 0) b FROM mcp_servers)
INSERT INTO mcp_servers (id, name, description, transport, endpoint, command, capabilities, sensitivity_level, status,
  health_endpoint, last_health_check, owner_id, team_id, consul_id, tags, extra_metadata, created_at, updated_at)
SELECT gen_random_uuid(), 'server-' || (base.b + g), CASE WHEN g % 3 = 0 THEN NULL ELSE 'Server number ' || (base.b + g) END,
  (ARRAY['http', 'stdio', 'sse']::transporttype[])[1 + g % 3],
  CASE WHEN g % 3 <> 1 THEN 'https://mcp' || (base.b + g) || '.example.com/rpc' END,
  CASE WHEN g % 3 = 1 THEN 'npx -y @mcp/server-' || (base.b + g) END,
  jsonb_build_array('tools', CASE WHEN g % 2 = 0 THEN 'resources' ELSE 'prompts' END),
  (ARRAY['low', 'medium', 'high', 'critical']::sensitivitylevel[])[1 + g % 4],
  (ARRAY['registered', 'active', 'inactive', 'unhealthy', 'decommissioned']::serverstatus[])[1 + g % 5],
  CASE WHEN g % 2 = 0 THEN 'https://mcp' || (base.b + g) || '.example.com/health' END,
  CASE WHEN g % 6 = 0 THEN now() - (g % 90 || ' minutes')::interval END,
  CASE WHEN g % 7 <> 0 THEN u.a[1 + g % array_length(u.a, 1)] END,
  CASE WHEN g % 5 <> 0 THEN t.a[1 + g % array_length(t.a, 1)] END,
  CASE WHEN g % 4 = 0 THEN 'consul-' || (base.b + g) || '-' || left(md5(random()::text), 8) END,
  jsonb_build_array('env:' || (ARRAY['prod', 'staging', 'dev'])[1 + g % 3], 'team' || g % 10),
  CASE WHEN g % 2 = 0 THEN jsonb_build_object('region', 'eu-' || g % 4, 'tier', g % 3) ELSE '{}'::jsonb END,
  now() - (g || ' minutes')::interval, now() - (g % 1000 || ' seconds')::interval
FROM generate_series(1, $1::int) g, u, t, base`;

const TOOL_COLUMNS: Record<V1Shape, { columns: string; values: string }> = {
  orm: {
    columns: 'parameters, sensitivity_level, signature, requires_approval, invocation_count, last_invoked',
    values: "k * 3, CASE WHEN k % 3 = 0 THEN now() - (k || ' hours')::interval END",
  },
  migration: { columns: 'parameters_schema, sensitivity_level, signature, requires_approval', values: '' },
};

function toolsText(shape: V1Shape): string {
  const { columns, values } = TOOL_COLUMNS[shape];
  return `
INSERT INTO mcp_tools (id, server_id, name, description, ${columns}, extra_metadata, created_at, updated_at)
SELECT gen_random_uuid(), s.id, 'tool_' || k, CASE WHEN k % 2 = 0 THEN 'Does thing ' || k END,
  jsonb_build_object('type', 'object', 'properties', jsonb_build_object('arg' || k, jsonb_build_object('type', 'string'))),
  (ARRAY['low', 'medium', 'high', 'critical']::sensitivitylevel[])[1 + (k + length(s.name)) % 4],
  CASE WHEN k % 5 = 0 THEN 'sig' || k END, k % 6 = 0, ${values ? `${values},` : ''}
  CASE WHEN k % 4 = 0 THEN jsonb_build_object('owner', 'x' || k) ELSE '{}'::jsonb END,
  s.created_at, s.updated_at
FROM mcp_servers s CROSS JOIN generate_series(1, $1::int) k
WHERE NOT EXISTS (SELECT 1 FROM mcp_tools x WHERE x.server_id = s.id)`;
}

export const usersAndTeamsSql = (): Sql[] => USERS_AND_TEAMS.map((text) => sql(text));
/** `servers` more servers, numbered after the last. */
export const serversSql = ({ servers }: { servers: number }) => sql(SERVERS, [servers]);
/** `toolsPerServer` tools for every server that has none. */
export const toolsSql = ({ shape, toolsPerServer }: { shape: V1Shape; toolsPerServer: number }) =>
  sql(toolsText(shape), [toolsPerServer]);
export const analyzeAllSql = () => sql('ANALYZE');
