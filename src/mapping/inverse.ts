import type { Mapping } from './mapping.js';

/**
 * The mapping run backwards: v2 resources and capabilities as v1 rows, for rollback's
 * write-back of rows born in v2 and its backport of changes. Like the mapping, these are SQL
 * fragments from a fixed catalogue: `r` is the resource or capability at hand.
 */
/**
 * Is the text (an SQL expression) a UUID of the form 8-4-4-4-12, in any case: the one text the
 * uuid cast is let see. A LIKE for the shape, one negated character class and a count of the
 * hyphens say exactly what the anchored regex ^[0-9a-fA-F]{8}-...-[0-9a-fA-F]{12}$ says, at a
 * third of its cost (0.7 against 2.3 µs a row on PostgreSQL 15): a rollback batch asks it of
 * every resource it locks.
 */
export const isUuidText = (text: string) =>
  `(${text} LIKE '________-____-____-____-____________' AND ${text} !~ '[^0-9a-fA-F-]' AND length(replace(${text}, '-', '')) = 32)`;
const TIMESTAMP = `'^[0-9]{4}-[0-9]{2}-[0-9]{2}'`;
const TRANSPORTS = `ARRAY['http', 'stdio', 'sse']`;
const LEVELS = `ARRAY['low', 'medium', 'high', 'critical']`;
const STATUSES = `ARRAY['registered', 'active', 'inactive', 'unhealthy', 'decommissioned']`;

const stdio = `(r.metadata->>'command' IS NOT NULL OR r.metadata->>'transport' = 'stdio')`;
const ts = (json: string) => `(CASE WHEN ${json} ~ ${TIMESTAMP} THEN (${json})::timestamptz END)`;

export interface InverseMapping {
  /** v1 column → v2 expression, for INSERT (write-back) and UPDATE (backport). */
  servers: Record<string, string>;
  tools: Record<string, string>;
  /** The same for a backport, which has the v1 row at hand (`s`, `t`): where it differs, it keeps what only v1 knew. */
  backport: { servers: Record<string, string>; tools: Record<string, string> };
  /** NULL when the row can be a v1 row; otherwise why not, for the report. */
  serverUnrepresentable: string;
  toolUnrepresentable: string;
  /** Is the v2 id (a text expression) the id of a v1 server / tool? Index probes, safe for any text. */
  isV1Server(id: string): string;
  isV1Tool(id: string): string;
  /** The v2 id (a text expression) as a uuid, or NULL when it is not one: a v1 key to probe with. */
  asUuid(id: string): string;
  /**
   * Does the v2 id (text) name the v1 row whose uuid is `v1`? asUuid's rule (a UUID, any case)
   * as a text equality for hash joins: uuid text is lower case, and lower() costs a tenth of the regex.
   */
  namesV1(v1: string, v2: string): string;
}

export function inverseOf(m: Mapping): InverseMapping {
  const serverKeys = `ARRAY[${Object.keys(m.servers.metadataKeys)
    .map((k) => `'${k}'`)
    .join(', ')}]`;
  const toolKeys = `ARRAY[${Object.keys(m.tools.metadataKeys)
    .map((k) => `'${k}'`)
    .join(', ')}]`;
  const servers: Record<string, string> = {
    id: 'r.id::uuid',
    name: 'r.name',
    description: `r.metadata->>'description'`,
    transport: `(r.metadata->>'transport')::transporttype`,
    // endpoint = COALESCE(command, endpoint) forwards; backwards, the top-level endpoint is the command of a stdio server.
    endpoint: `CASE WHEN ${stdio} THEN r.metadata->>'endpoint' ELSE r.endpoint END`,
    command: `CASE WHEN ${stdio} THEN r.endpoint END`,
    mcp_version: `coalesce(r.metadata->>'mcp_version', '2025-06-18')`,
    capabilities: `coalesce(r.metadata->'capabilities', '[]'::jsonb)`,
    sensitivity_level: 'r.sensitivity_level::sensitivitylevel',
    signature: `r.metadata->>'signature'`,
    status: `coalesce(r.metadata->>'status', 'registered')::serverstatus`,
    health_endpoint: `r.metadata->>'health_endpoint'`,
    last_health_check: ts(`r.metadata->>'last_health_check'`),
    owner_id: `(r.metadata->>'owner_id')::uuid`,
    team_id: `(r.metadata->>'team_id')::uuid`,
    consul_id: `r.metadata->>'consul_id'`,
    tags: `coalesce(r.metadata->'tags', '[]'::jsonb)`,
    extra_metadata: `r.metadata - ${serverKeys}`,
    created_at: 'r.created_at',
    updated_at: 'r.updated_at',
  };
  const tools: Record<string, string> = {
    id: 'r.id::uuid',
    server_id: 'r.resource_id::uuid',
    name: 'r.name',
    description: 'r.description',
    [m.shape.toolSchemaColumn]: 'r.input_schema',
    sensitivity_level: 'r.sensitivity_level::sensitivitylevel',
    signature: `r.metadata->>'signature'`,
    requires_approval: `coalesce((r.metadata->>'requires_approval')::boolean, false)`,
    ...(m.shape.toolCounters
      ? {
          invocation_count: `coalesce((r.metadata->>'invocation_count')::int, 0)`,
          last_invoked: ts(`r.metadata->>'last_invoked'`),
        }
      : {}),
    extra_metadata: `r.metadata - ${toolKeys}`,
  };
  // The v1 merge column's keys win over mapped ones forwards: the mapped keys it held stay in it, or the v1 column they shadow would show through.
  const merge = (keys: string, alias: 's' | 't') =>
    `r.metadata - ARRAY(SELECT k FROM unnest(${keys}) k WHERE NOT ${alias}.extra_metadata ? k)`;
  // CASE, not OR: the cast must never see text that is not a UUID.
  const uuidOrNull = (json: string, table: string) =>
    `(CASE WHEN ${json} IS NULL THEN false WHEN NOT ${isUuidText(json)} THEN true ELSE NOT EXISTS (SELECT 1 FROM ${table} x WHERE x.id = (${json})::uuid) END)`;
  return {
    servers,
    tools,
    backport: {
      servers: { ...servers, extra_metadata: merge(serverKeys, 's') },
      tools: { ...tools, extra_metadata: merge(toolKeys, 't') },
    },
    serverUnrepresentable: `CASE
      WHEN NOT ${isUuidText('r.id')} THEN 'its id is not a UUID'
      WHEN coalesce(r.metadata->>'transport', '') <> ALL (${TRANSPORTS}) THEN 'metadata.transport is missing or not one of http, stdio, sse'
      WHEN r.sensitivity_level <> ALL (${LEVELS}) THEN 'its sensitivity level is not one of low, medium, high, critical'
      WHEN coalesce(r.metadata->>'status', 'registered') <> ALL (${STATUSES}) THEN 'metadata.status is not a v1 server status'
      WHEN length(r.endpoint) > 500 THEN 'its endpoint is longer than v1 allows (500)'
      WHEN ${uuidOrNull(`r.metadata->>'owner_id'`, 'users')} THEN 'metadata.owner_id names no v1 user'
      WHEN ${uuidOrNull(`r.metadata->>'team_id'`, 'teams')} THEN 'metadata.team_id names no v1 team'
      WHEN r.metadata->>'consul_id' IS NOT NULL AND EXISTS (SELECT 1 FROM mcp_servers x WHERE x.consul_id = r.metadata->>'consul_id') THEN 'metadata.consul_id is taken by a v1 server'
    END`,
    toolUnrepresentable: `CASE
      WHEN NOT ${isUuidText('r.id')} THEN 'its id is not a UUID'
      WHEN NOT ${isUuidText('r.resource_id')} THEN 'its resource id is not a UUID'
      WHEN r.sensitivity_level <> ALL (${LEVELS}) THEN 'its sensitivity level is not one of low, medium, high, critical'
      WHEN coalesce(r.metadata->>'requires_approval', 'false') NOT IN ('true', 'false') THEN 'metadata.requires_approval is not a boolean'
      WHEN coalesce(r.metadata->>'invocation_count', '0') !~ '^[0-9]+$' THEN 'metadata.invocation_count is not a count'
    END`,
    isV1Server: (id: string) =>
      `(CASE WHEN ${isUuidText(id)} THEN EXISTS (SELECT 1 FROM mcp_servers x WHERE x.id = (${id})::uuid) ELSE false END)`,
    isV1Tool: (id: string) =>
      `(CASE WHEN ${isUuidText(id)} THEN EXISTS (SELECT 1 FROM mcp_tools x WHERE x.id = (${id})::uuid) ELSE false END)`,
    asUuid: (id: string) => `(CASE WHEN ${isUuidText(id)} THEN (${id})::uuid END)`,
    namesV1: (v1: string, v2: string) => `${v1}::text = lower(${v2})`,
  };
}
