import { sql, type Sql } from '../sql.js';

/**
 * SARK v1.x's tables, for the embedded demo database and for tests. Both real shapes:
 * `orm` (mcp_tools.parameters with invocation_count and last_invoked) and `migration`
 * (mcp_tools.parameters_schema without the counters). ../shared/sark/ is the reference.
 */
export type V1Shape = 'orm' | 'migration';

const ENUMS = [
  ['transporttype', "'http','stdio','sse'"],
  ['sensitivitylevel', "'low','medium','high','critical'"],
  ['serverstatus', "'registered','active','inactive','unhealthy','decommissioned'"],
] as const;

const TOOL_SHAPE_COLUMNS: Record<V1Shape, string> = {
  orm: `parameters jsonb NOT NULL DEFAULT '{}',
  sensitivity_level sensitivitylevel NOT NULL DEFAULT 'medium',
  signature varchar(1000),
  requires_approval boolean NOT NULL DEFAULT false,
  invocation_count integer NOT NULL DEFAULT 0,
  last_invoked timestamptz,`,
  migration: `parameters_schema jsonb NOT NULL DEFAULT '{}',
  sensitivity_level sensitivitylevel NOT NULL DEFAULT 'medium',
  signature varchar(1000),
  requires_approval boolean NOT NULL DEFAULT false,`,
};

export function v1SchemaSql(shape: V1Shape): Sql[] {
  return [
    ...ENUMS.map(
      ([name, labels]) =>
        `DO $$ BEGIN CREATE TYPE ${name} AS ENUM (${labels}); EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
    ),
    `CREATE TABLE IF NOT EXISTS users (
  id uuid PRIMARY KEY,
  email varchar(255) UNIQUE NOT NULL,
  full_name varchar(255) NOT NULL,
  hashed_password varchar(255) NOT NULL,
  is_active boolean NOT NULL DEFAULT true,
  is_admin boolean NOT NULL DEFAULT false,
  role varchar(50) NOT NULL DEFAULT 'developer',
  extra_metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE IF NOT EXISTS teams (
  id uuid PRIMARY KEY,
  name varchar(255) UNIQUE NOT NULL,
  description varchar(1000),
  extra_metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now())`,
    `CREATE TABLE IF NOT EXISTS mcp_servers (
  id uuid PRIMARY KEY,
  name varchar(255) NOT NULL,
  description varchar(1000),
  transport transporttype NOT NULL,
  endpoint varchar(500),
  command varchar(500),
  mcp_version varchar(20) NOT NULL DEFAULT '2025-06-18',
  capabilities jsonb NOT NULL DEFAULT '[]',
  sensitivity_level sensitivitylevel NOT NULL DEFAULT 'medium',
  signature varchar(1000),
  status serverstatus NOT NULL DEFAULT 'registered',
  health_endpoint varchar(500),
  last_health_check timestamptz,
  owner_id uuid REFERENCES users(id) ON DELETE SET NULL,
  team_id uuid REFERENCES teams(id) ON DELETE SET NULL,
  consul_id varchar(255) UNIQUE,
  tags jsonb NOT NULL DEFAULT '[]',
  extra_metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now())`,
    'CREATE INDEX IF NOT EXISTS ix_mcp_servers_name ON mcp_servers(name)',
    'CREATE INDEX IF NOT EXISTS ix_mcp_servers_owner_id ON mcp_servers(owner_id)',
    'CREATE INDEX IF NOT EXISTS ix_mcp_servers_team_id ON mcp_servers(team_id)',
    `CREATE TABLE IF NOT EXISTS mcp_tools (
  id uuid PRIMARY KEY,
  server_id uuid NOT NULL REFERENCES mcp_servers(id) ON DELETE CASCADE,
  name varchar(255) NOT NULL,
  description text,
  ${TOOL_SHAPE_COLUMNS[shape]}
  extra_metadata jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now())`,
    'CREATE INDEX IF NOT EXISTS ix_mcp_tools_server_id ON mcp_tools(server_id)',
    'CREATE INDEX IF NOT EXISTS ix_mcp_tools_name ON mcp_tools(name)',
  ].map((text) => sql(text));
}
