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
  const mcpInScope = (alias: string) => `${alias}.protocol = ${m.servers.columns.protocol} AND ($1::text[] IS NULL OR ${alias}.id = ANY($1::text[]))`;
  /**
   * Capabilities of in-scope MCP resources with no v1 tool, and why one cannot become a v1
   * row (NULL: it can). One hash anti-join, not a probe per row.
   */
  const bornCapabilities = `SELECT r.id, r.resource_id, (${inv.toolUnrepresentable}) AS reason
      FROM capabilities r JOIN resources p ON p.id = r.resource_id
     WHERE ${mcpInScope('p')} AND NOT EXISTS (SELECT 1 FROM ${m.tools.v1Table} t WHERE ${m.tools.columns.id} = r.id)`;
  /**
   * MCP resources in scope that leave v2 (born: without a v1 server, to be written back):
   * of v1 origin, or representable in v1, and with no capability that is not.
   */
  const removals = `SELECT r.id, ${m.servers.id.v1} IS NULL AS born
      FROM resources r LEFT JOIN ${m.servers.v1Table} ${m.servers.alias} ON ${m.servers.columns.id} = r.id
     WHERE ${inScope}
       AND (CASE WHEN ${m.servers.id.v1} IS NOT NULL THEN true ELSE (${inv.serverUnrepresentable}) IS NULL END)
       AND NOT EXISTS (SELECT 1 FROM born_capabilities b WHERE b.resource_id = r.id AND b.reason IS NOT NULL)`;
  /** A dry run names the two sets as CTEs; a run materialises them as temp tables of the same names. */
  const planned = `WITH born_capabilities AS (${bornCapabilities}), removal AS (${removals})
`;
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
    planCounts: `${planned}SELECT (SELECT count(*)::int FROM resources r WHERE ${inScope}) AS resources_in_scope,
       (SELECT count(*)::int FROM removal) AS resources_removed,
       (SELECT count(*)::int FROM removal WHERE NOT born) AS resources_v1_origin,
       (SELECT count(*)::int FROM capabilities r JOIN removal x ON x.id = r.resource_id) AS capabilities_removed,
       (SELECT count(*)::int FROM capabilities r WHERE ${orphansOfV1}) AS orphans_removed`,
    /** Born-in-v2 resources and capabilities in scope: written back, or staying and why. Needs the two sets. */
    bornInV2: (dryRun: boolean) => `${dryRun ? planned : ''}(SELECT 'resources' AS "table", r.id, x.id IS NOT NULL AS written_back, ${inv.serverUnrepresentable} AS reason
   FROM resources r LEFT JOIN ${m.servers.v1Table} ${m.servers.alias} ON ${m.servers.columns.id} = r.id LEFT JOIN removal x ON x.id = r.id
  WHERE ${inScope} AND ${m.servers.id.v1} IS NULL ORDER BY r.id LIMIT $2)
UNION ALL
(SELECT 'capabilities', b.id, x.id IS NOT NULL, b.reason FROM born_capabilities b LEFT JOIN removal x ON x.id = b.resource_id ORDER BY b.id LIMIT $2)`,
    /** v1-origin rows whose v2 copy changed after cutover, with the fields. */
    divergent: `(SELECT 'resources' AS "table", r.id, ${differingFields('servers')} AS fields
   FROM resources r JOIN ${m.servers.v1Table} ${m.servers.alias} ON ${m.servers.columns.id} = r.id
  WHERE ${inScope} AND ${differs('servers')} ORDER BY r.id LIMIT $2)
UNION ALL
(SELECT 'capabilities', r.id, ${differingFields('tools')}
   FROM capabilities r JOIN ${m.tools.v1Table} ${m.tools.alias} ON ${m.tools.columns.id} = r.id JOIN resources p ON p.id = r.resource_id
  WHERE ${mcpInScope('p')} AND ${differs('tools')} ORDER BY r.id LIMIT $2)`,
    /** Fingerprint of everything the plan depends on; an execute request's planId must match it. */
    fingerprint: `SELECT md5(concat_ws(':',
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(r::text, 0)), 0) FROM resources r WHERE ${inScope}),
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(c::text, 0)), 0) FROM capabilities c JOIN resources r ON r.id = c.resource_id WHERE ${inScope}),
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(s::text, 0)), 0) FROM ${m.servers.v1Table} s JOIN resources r ON r.id = s.id::text WHERE ${inScope}),
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(t::text, 0)), 0) FROM ${m.tools.v1Table} t JOIN capabilities c ON c.id = t.id::text JOIN resources r ON r.id = c.resource_id WHERE ${inScope}),
  (SELECT count(*) FROM capabilities r WHERE NOT EXISTS (SELECT 1 FROM resources p WHERE p.id = r.resource_id)),
  $2::text)) AS plan_id`,
    /**
     * Settings of a rollback's transaction (plan or run). The planner has no statistics for
     * `id::text`, so it picks merge joins that sort a million ids under the collation; every
     * join here is an id equality, which a hash join does in one pass. work_mem keeps the
     * hash of the removal set (~80 bytes a resource) in one batch: spilled, the join also
     * writes each probing capability, whole (for the archive), to temp files. JIT compiles
     * each big statement, in every parallel worker, for ~50 ms and saves nothing on joins.
     */
    settings: ['SET LOCAL enable_mergejoin = off', "SET LOCAL work_mem = '32MB'", 'SET LOCAL jit = off'],
    /**
     * Writers wait until the run commits: what the archive copies is then exactly what the
     * deletes (and the cascade) remove. Readers go on.
     */
    lockTables: 'LOCK TABLE resources, capabilities IN SHARE ROW EXCLUSIVE MODE',
    /**
     * The two sets as temp tables (statements, and whether each takes the subset as $1).
     * CREATE TABLE AS, not INSERT ... SELECT: only the former may scan in parallel, and the
     * anti-join of every capability with the v1 tools is the run's biggest read.
     */
    materialize: [
      [`CREATE TEMP TABLE born_capabilities ON COMMIT DROP AS ${bornCapabilities}`, true],
      // In the resources' physical order: the delete then walks resources (and the cascade their
      // capabilities) page by page, as a sequential scan would; in hash order it is ~3× slower.
      [`CREATE TEMP TABLE removal ON COMMIT DROP AS ${removals} ORDER BY r.ctid`, true],
      ['ANALYZE born_capabilities, removal', false],
    ] as [string, boolean][],
    backportServers: `UPDATE ${m.servers.v1Table} ${m.servers.alias} SET ${serverBackport.map(([c, e]) => `${c} = ${e}`).join(', ')}
  FROM resources r JOIN removal x ON x.id = r.id AND NOT x.born
 WHERE ${m.servers.columns.id} = r.id AND ${differs('servers')}`,
    backportTools: `UPDATE ${m.tools.v1Table} ${m.tools.alias} SET ${toolBackport.map(([c, e]) => `${c} = ${e}`).join(', ')}, updated_at = now()
  FROM capabilities r JOIN removal x ON x.id = r.resource_id
 WHERE ${m.tools.columns.id} = r.id AND ${differs('tools')}`,
    writeBackServers: `INSERT INTO ${m.servers.v1Table} (${serverWriteBack.map(([c]) => c).join(', ')})
SELECT ${serverWriteBack.map(([, e]) => e).join(', ')} FROM resources r JOIN removal x ON x.id = r.id WHERE x.born`,
    writeBackTools: `INSERT INTO ${m.tools.v1Table} (${toolWriteBack.map(([c]) => c).join(', ')})
SELECT ${toolWriteBack.map(([, e]) => e).join(', ')} FROM capabilities r JOIN born_capabilities b ON b.id = r.id JOIN removal x ON x.id = b.resource_id`,
    archiveResources: `INSERT INTO sark_migrate.archived_resources (rollback_id, ${archivedResourceColumns.join(', ')})
SELECT $1, ${archivedResourceColumns.map((c) => `r.${c}`).join(', ')} FROM resources r JOIN removal x ON x.id = r.id`,
    archiveCapabilities: `INSERT INTO sark_migrate.archived_capabilities (rollback_id, ${archivedCapabilityColumns.join(', ')})
SELECT $1, ${archivedCapabilityColumns.map((c) => `r.${c}`).join(', ')} FROM capabilities r JOIN removal x ON x.id = r.resource_id`,
    archiveOrphans: `INSERT INTO sark_migrate.archived_capabilities (rollback_id, ${archivedCapabilityColumns.join(', ')})
SELECT $2, ${archivedCapabilityColumns.map((c) => `r.${c}`).join(', ')} FROM capabilities r WHERE ${orphansOfV1}`,
    /**
     * A validated foreign key from capabilities to resources: then no capability can be an
     * orphan; and if it cascades, deleting the resources removes their capabilities.
     */
    foreignKey: `SELECT coalesce(bool_or(convalidated), false) AS holds, coalesce(bool_or(convalidated AND confdeltype = 'c'), false) AS cascades
  FROM pg_constraint WHERE contype = 'f' AND conrelid = to_regclass('capabilities') AND confrelid = to_regclass('resources')`,
    deleteOrphans: `DELETE FROM capabilities r WHERE ${orphansOfV1}`,
    // Explicitly only where no validated key cascades (orphans show it can be dropped).
    deleteCapabilities: `DELETE FROM capabilities r USING removal x WHERE x.id = r.resource_id`,
    deleteResources: `DELETE FROM resources r USING removal x WHERE x.id = r.id`,
  };
}

export type RollbackSql = ReturnType<typeof rollbackSql>;
