import { inverseOf } from '../mapping/inverse.js';
import type { Mapping } from '../mapping/mapping.js';
import { fieldComparisons } from './fidelity.js';

/**
 * SQL of /rollback, derived from the mapping and its inverse. $1 is always the optional list
 * of resource ids (NULL: every MCP resource). `r` is the row at hand (resource or capability).
 */
export function rollbackSql(m: Mapping) {
  const inv = inverseOf(m);
  const inScope = `r.protocol = ${m.servers.columns.protocol} AND ($1::text[] IS NULL OR r.id = ANY($1::text[]))`;
  const bornTool = `NOT ${inv.isV1Tool('r.id')}`;
  /** MCP resources in scope that leave v2: of v1 origin, or born in v2 and representable in v1, with no capability that is not. */
  const removals = `SELECT r.id FROM resources r
     WHERE ${inScope}
       AND (CASE WHEN ${inv.isV1Server('r.id')} THEN true ELSE (${inv.serverUnrepresentable}) IS NULL END)
       AND NOT EXISTS (SELECT 1 FROM capabilities k WHERE k.resource_id = r.id
                        AND NOT ${inv.isV1Tool('k.id')} AND (${inv.toolUnrepresentable.replace(/\br\./g, 'k.')}) IS NOT NULL)`;
  const columnsOf = (map: Record<string, string>, skip: string[] = []) => Object.entries(map).filter(([c]) => !skip.includes(c));
  const differs = (which: 'servers' | 'tools') => `NOT (${fieldComparisons(m[which], m.shape).map((c) => c.equal).join(' AND ')})`;
  const differingFields = (which: 'servers' | 'tools') =>
    `array_remove(ARRAY[${fieldComparisons(m[which], m.shape).map((c) => `CASE WHEN NOT (${c.equal}) THEN '${c.field}' END`).join(', ')}]::text[], NULL)`;
  const serverWriteBack = columnsOf(inv.servers);
  const toolWriteBack = columnsOf(inv.tools);
  const serverBackport = columnsOf(inv.servers, ['id', 'created_at']);
  const toolBackport = columnsOf(inv.tools, ['id', 'server_id']);
  const archivedResourceColumns = ['id', 'name', 'protocol', 'endpoint', 'sensitivity_level', 'metadata', 'created_at', 'updated_at'];
  const archivedCapabilityColumns = ['id', 'resource_id', 'name', 'description', 'input_schema', 'output_schema', 'sensitivity_level', 'metadata'];
  const orphansOfV1 = `NOT EXISTS (SELECT 1 FROM resources p WHERE p.id = r.resource_id) AND ${inv.isV1Tool('r.id')} AND $1::text[] IS NULL`;

  return {
    removals,
    /** Counts of the plan, in one statement that only reads (a dry run). */
    planCounts: `WITH removal AS (${removals})
SELECT (SELECT count(*)::int FROM resources r WHERE ${inScope}) AS resources_in_scope,
       (SELECT count(*)::int FROM removal) AS resources_removed,
       (SELECT count(*)::int FROM resources r WHERE ${inScope} AND ${inv.isV1Server('r.id')}) AS resources_v1_origin,
       (SELECT count(*)::int FROM capabilities r JOIN removal x ON x.id = r.resource_id) AS capabilities_removed,
       (SELECT count(*)::int FROM capabilities r WHERE ${orphansOfV1}) AS orphans_removed`,
    /** Born-in-v2 resources and capabilities in scope: written back, or staying and why. */
    bornInV2: `WITH removal AS (${removals})
(SELECT 'resources' AS "table", r.id, r.id IN (SELECT id FROM removal) AS written_back, ${inv.serverUnrepresentable} AS reason
   FROM resources r WHERE ${inScope} AND NOT ${inv.isV1Server('r.id')} ORDER BY r.id LIMIT $2)
UNION ALL
(SELECT 'capabilities', r.id, r.resource_id IN (SELECT id FROM removal), ${inv.toolUnrepresentable}
   FROM capabilities r JOIN resources p ON p.id = r.resource_id
  WHERE p.protocol = ${m.servers.columns.protocol} AND ($1::text[] IS NULL OR p.id = ANY($1::text[])) AND ${bornTool} ORDER BY r.id LIMIT $2)`,
    /** v1-origin rows whose v2 copy changed after cutover, with the fields. */
    divergent: `(SELECT 'resources' AS "table", r.id, ${differingFields('servers')} AS fields
   FROM resources r JOIN ${m.servers.v1Table} ${m.servers.alias} ON ${m.servers.columns.id} = r.id
  WHERE ${inScope} AND ${differs('servers')} ORDER BY r.id LIMIT $2)
UNION ALL
(SELECT 'capabilities', r.id, ${differingFields('tools')}
   FROM capabilities r JOIN ${m.tools.v1Table} ${m.tools.alias} ON ${m.tools.columns.id} = r.id JOIN resources p ON p.id = r.resource_id
  WHERE p.protocol = ${m.servers.columns.protocol} AND ($1::text[] IS NULL OR p.id = ANY($1::text[])) AND ${differs('tools')} ORDER BY r.id LIMIT $2)`,
    /** Fingerprint of everything the plan depends on; an execute request's planId must match it. */
    fingerprint: `SELECT md5(concat_ws(':',
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(r::text, 0)), 0) FROM resources r WHERE ${inScope}),
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(c::text, 0)), 0) FROM capabilities c JOIN resources r ON r.id = c.resource_id WHERE ${inScope}),
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(s::text, 0)), 0) FROM ${m.servers.v1Table} s JOIN resources r ON r.id = s.id::text WHERE ${inScope}),
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(t::text, 0)), 0) FROM ${m.tools.v1Table} t JOIN capabilities c ON c.id = t.id::text JOIN resources r ON r.id = c.resource_id WHERE ${inScope}),
  (SELECT count(*) FROM capabilities r WHERE NOT EXISTS (SELECT 1 FROM resources p WHERE p.id = r.resource_id)),
  $2::text)) AS plan_id`,
    createRemovals: `CREATE TEMP TABLE rollback_removals (id varchar(255) PRIMARY KEY) ON COMMIT DROP`,
    fillRemovals: `INSERT INTO rollback_removals ${removals}`,
    backportServers: `UPDATE ${m.servers.v1Table} ${m.servers.alias} SET ${serverBackport.map(([c, e]) => `${c} = ${e}`).join(', ')}
  FROM resources r JOIN rollback_removals x ON x.id = r.id
 WHERE ${m.servers.columns.id} = r.id AND ${differs('servers')}`,
    backportTools: `UPDATE ${m.tools.v1Table} ${m.tools.alias} SET ${toolBackport.map(([c, e]) => `${c} = ${e}`).join(', ')}, updated_at = now()
  FROM capabilities r JOIN rollback_removals x ON x.id = r.resource_id
 WHERE ${m.tools.columns.id} = r.id AND ${differs('tools')}`,
    writeBackServers: `INSERT INTO ${m.servers.v1Table} (${serverWriteBack.map(([c]) => c).join(', ')})
SELECT ${serverWriteBack.map(([, e]) => e).join(', ')} FROM resources r JOIN rollback_removals x ON x.id = r.id WHERE NOT ${inv.isV1Server('r.id')}`,
    writeBackTools: `INSERT INTO ${m.tools.v1Table} (${toolWriteBack.map(([c]) => c).join(', ')})
SELECT ${toolWriteBack.map(([, e]) => e).join(', ')} FROM capabilities r JOIN rollback_removals x ON x.id = r.resource_id WHERE ${bornTool}`,
    archiveResources: `INSERT INTO sark_migrate.archived_resources (rollback_id, ${archivedResourceColumns.join(', ')})
SELECT $1, ${archivedResourceColumns.map((c) => `r.${c}`).join(', ')} FROM resources r JOIN rollback_removals x ON x.id = r.id`,
    archiveCapabilities: `INSERT INTO sark_migrate.archived_capabilities (rollback_id, ${archivedCapabilityColumns.join(', ')})
SELECT $2, ${archivedCapabilityColumns.map((c) => `r.${c}`).join(', ')} FROM capabilities r
 WHERE r.resource_id IN (SELECT id FROM rollback_removals) OR (${orphansOfV1})`,
    deleteOrphans: `DELETE FROM capabilities r WHERE ${orphansOfV1}`,
    // Explicitly, not by the cascade: the key may have been dropped (orphans show it can be).
    deleteCapabilities: `DELETE FROM capabilities r USING rollback_removals x WHERE x.id = r.resource_id`,
    deleteResources: `DELETE FROM resources r USING rollback_removals x WHERE x.id = r.id`,
  };
}
