import { inverseOf } from '../mapping/inverse.js';
import type { Mapping } from '../mapping/mapping.js';
import { fieldComparisons } from './fidelity.js';

/**
 * SQL of /rollback, derived from the mapping and its inverse. $1 is always the optional list
 * of resource ids (NULL: every MCP resource). `r` is the row at hand (resource or capability).
 * A dry run plans with CTEs over every resource in scope; a run works batch by batch, each
 * batch a range of the resources' pages, with the sets as temp tables of that batch.
 */
/**
 * Archived rows a pack: packs of 60 kB at SARK's row sizes compress as well as larger ones,
 * and rows would have to average 5 MB before a pack neared PostgreSQL's 1 GB limit on a value.
 */
const PACK_ROWS = 200;

export function rollbackSql(m: Mapping) {
  const inv = inverseOf(m);
  const inScope = `r.protocol = ${m.servers.columns.protocol} AND ($1::text[] IS NULL OR r.id = ANY($1::text[]))`;
  const mcpInScope = (alias: string) =>
    `${alias}.protocol = ${m.servers.columns.protocol} AND ($1::text[] IS NULL OR ${alias}.id = ANY($1::text[]))`;
  /**
   * The v1 row of `r`, by a UUID spelling of its id in any case, as a run's asUuid probes find
   * it: a plan that compared text would call an upper-case id born. The planner has no
   * statistics for lower(id): a listing plans these joins in a subquery (OFFSET 0) for every
   * row, or under its LIMIT it would take a nested loop over every pair as the cheap start.
   */
  const ofServer = `${m.servers.v1Table} ${m.servers.alias} ON ${inv.namesV1(m.servers.id.v1, 'r.id')}`;
  const ofTool = `${m.tools.v1Table} ${m.tools.alias} ON ${inv.namesV1(m.tools.id.v1, 'r.id')}`;
  /**
   * Capabilities of in-scope MCP resources with no v1 tool, and why one cannot become a v1
   * row (NULL: it can). One hash anti-join, not a probe per row; only what it leaves is
   * probed by uuid, as a run does (an id in upper case may still be a v1 tool's); OFFSET 0
   * keeps the probe's regex off the rows the anti-join removes.
   */
  const bornCapabilities = `SELECT r.id, r.resource_id, (${inv.toolUnrepresentable}) AS reason
      FROM (SELECT r.* FROM capabilities r JOIN resources p ON p.id = r.resource_id
             WHERE ${mcpInScope('p')} AND NOT EXISTS (SELECT 1 FROM ${m.tools.v1Table} t WHERE ${m.tools.columns.id} = r.id) OFFSET 0) r
     WHERE NOT ${inv.isV1Tool('r.id')}`;
  /**
   * MCP resources in scope that leave v2 (born: without a v1 server, to be written back):
   * of v1 origin, or representable in v1, and with no capability that is not.
   */
  const removals = `SELECT r.id, ${m.servers.id.v1} IS NULL AS born
      FROM resources r LEFT JOIN ${ofServer}
     WHERE ${inScope}
       AND (CASE WHEN ${m.servers.id.v1} IS NOT NULL THEN true ELSE (${inv.serverUnrepresentable}) IS NULL END)
       AND NOT EXISTS (SELECT 1 FROM born_capabilities b WHERE b.resource_id = r.id AND b.reason IS NOT NULL)`;
  /** The dry run's two sets, as CTEs. */
  const planned = `WITH born_capabilities AS (${bornCapabilities}), removal AS (${removals})
`;
  const columnsOf = (map: Record<string, string>, skip: string[] = []) =>
    Object.entries(map).filter(([c]) => !skip.includes(c));
  const differs = (which: 'servers' | 'tools') =>
    `NOT (${fieldComparisons(m[which], m.shape)
      .map((c) => c.equal)
      .join(' AND ')})`;
  const differingFields = (which: 'servers' | 'tools') =>
    `array_remove(ARRAY[${fieldComparisons(m[which], m.shape)
      .map((c) => `CASE WHEN NOT (${c.equal}) THEN '${c.field}' END`)
      .join(', ')}]::text[], NULL)`;
  const serverWriteBack = columnsOf(inv.servers);
  const toolWriteBack = columnsOf(inv.tools);
  /**
   * A backport, field by field: a v1 column takes the inverse of its v2 value only where a
   * field made from it differs, and keeps its own value otherwise. The inverse is lossy (a
   * stdio server's endpoint, mapped keys the merge column shadows): columns nobody changed in
   * v2 must not go through it. `changed`: the row has a field to backport.
   */
  const backport = (which: 'servers' | 'tools', skip: string[]) => {
    const t = m[which];
    const comparisons = fieldComparisons(t, m.shape);
    const columns = columnsOf(inv.backport[which], skip).flatMap(([column, inverse]) => {
      const made = comparisons.filter((c) => c.reads.includes(column));
      return made.length > 0 ? [{ column, inverse, differs: made.map((c) => `NOT (${c.equal})`).join(' OR ') }] : [];
    });
    const backported = comparisons.filter((c) => c.reads.some((column) => columns.some((b) => b.column === column)));
    return {
      set: columns
        .map((c) => `${c.column} = CASE WHEN ${c.differs} THEN ${c.inverse} ELSE ${t.alias}.${c.column} END`)
        .join(',\n      '),
      changed: `NOT (${backported.map((c) => c.equal).join(' AND ')})`,
    };
  };
  const serverBackport = backport('servers', ['id', 'created_at']);
  const toolBackport = backport('tools', ['id', 'server_id']);
  const archivedResourceColumns = [
    'id',
    'name',
    'protocol',
    'endpoint',
    'sensitivity_level',
    'metadata',
    'created_at',
    'updated_at',
  ];
  const archivedCapabilityColumns = [
    'id',
    'resource_id',
    'name',
    'description',
    'input_schema',
    'output_schema',
    'sensitivity_level',
    'metadata',
  ];
  const archivedType = (table: 'resources' | 'capabilities') =>
    table === 'resources' ? 'archived_resource' : 'archived_capability';
  /**
   * A delete as the CTE `removed`: each row's id, and the row as the archive's composite type,
   * made once as the delete returns it (which the steps after it then pass on as one value: a
   * tenth less time for a batch's capabilities than returning the columns one by one).
   */
  const removedBy = (table: 'resources' | 'capabilities', columns: string[], removed: string) =>
    `removed AS (${removed} RETURNING r.id, ROW(${columns.map((c) => `r.${c}`).join(', ')})::sark_migrate.${archivedType(table)} AS archived)`;
  /**
   * The removed rows into the archive's packs, under $1 (the rollbackId): PACK_ROWS rows a pack,
   * one array of the row's composite type, which TOAST compresses (see src/db/service-schema.ts).
   * Each pack answers its rows (`n`, read off the array as inserted, before TOAST): summed, the
   * rows removed, without a third pass over what the delete returned (5% of the statement).
   */
  const insertArchive = (
    table: 'resources' | 'capabilities',
  ) => `INSERT INTO sark_migrate.${archivedType(table)}_packs (rollback_id, rows)
SELECT $1, array_agg(x.archived)
  FROM (SELECT removed.archived, (row_number() OVER () - 1) / ${PACK_ROWS} AS pack FROM removed) x GROUP BY x.pack
RETURNING cardinality(rows) AS n`;
  /** The rows a statement archived (and so removed), from its packs. */
  const archivedRows = `(SELECT coalesce(sum(a.n), 0) FROM archived a)::int`;
  /** A delete and its archive in one statement, answering how many rows it removed. */
  const archive = (table: 'resources' | 'capabilities', columns: string[], removed: string) =>
    `WITH ${removedBy(table, columns, removed)},\narchived AS (${insertArchive(table)})\nSELECT ${archivedRows} AS removed`;
  /**
   * A batch's resources that leave v2: of v1 origin, or born and representable in v1, and
   * with no capability that is not. `born`: written back first; `v1_id`: the v1 key.
   */
  const removal = `(SELECT p.id, p.v1_id, p.v1_id IS NULL AS born FROM batch p
   WHERE (p.v1_id IS NOT NULL OR p.reason IS NULL)
     AND NOT EXISTS (SELECT 1 FROM born_capabilities b WHERE b.resource_id = p.id AND b.reason IS NOT NULL))`;
  /**
   * The ids of a set, as an array: `= ANY` of it reaches a table through its index, which a
   * join with a temp table (no statistics) does only when the planner guesses the size right.
   */
  const idsOf = (set: string) => `ARRAY(SELECT s.id FROM ${set} s)`;
  /** The batch's resources where they lie: locked, no other session can move them, and a TID scan needs no index. */
  const tidsOf = (set: string) => `ARRAY(SELECT s.tid FROM ${set} s)`;
  /** The tools of the batch's v1 servers, by v2 id: one index scan finds most of the batch's capabilities of v1 origin. */
  const batchTools = `SELECT ${m.tools.columns.id} AS id FROM ${m.tools.v1Table} ${m.tools.alias}
   WHERE ${m.toolParent.v1} = ANY(ARRAY(SELECT p.v1_id FROM batch p WHERE p.v1_id IS NOT NULL))`;
  /** A capability of v1 origin whose resource is gone; only a run over every resource removes these. */
  const orphanOfV1 = `NOT EXISTS (SELECT 1 FROM resources p WHERE p.id = r.resource_id) AND ${inv.isV1Tool('r.id')}`;
  const orphansOfV1 = `${orphanOfV1} AND $1::text[] IS NULL`;

  return {
    /** Counts of the plan, in one statement that only reads (a dry run). */
    planCounts: `${planned}SELECT (SELECT count(*)::int FROM resources r WHERE ${inScope}) AS resources_in_scope,
       (SELECT count(*)::int FROM removal) AS resources_removed,
       (SELECT count(*)::int FROM removal WHERE NOT born) AS resources_v1_origin,
       (SELECT count(*)::int FROM capabilities r JOIN removal x ON x.id = r.resource_id) AS capabilities_removed,
       (SELECT count(*)::int FROM capabilities r WHERE ${orphansOfV1}) AS orphans_removed`,
    /** Born-in-v2 resources and capabilities in scope (a dry run): written back, or staying and why. */
    bornInV2: `${planned}(SELECT 'resources' AS "table", d.id, d.written_back, d.reason, (count(*) OVER ())::int AS total, (count(*) FILTER (WHERE NOT d.written_back) OVER ())::int AS staying
   FROM (SELECT r.id, x.id IS NOT NULL AS written_back, ${inv.serverUnrepresentable} AS reason FROM resources r LEFT JOIN ${ofServer} LEFT JOIN removal x ON x.id = r.id
          WHERE ${inScope} AND ${m.servers.id.v1} IS NULL OFFSET 0) d ORDER BY d.id LIMIT $2)
UNION ALL
(SELECT 'capabilities', b.id, x.id IS NOT NULL, b.reason, (count(*) OVER ())::int AS total, (count(*) FILTER (WHERE x.id IS NULL) OVER ())::int AS staying FROM born_capabilities b LEFT JOIN removal x ON x.id = b.resource_id ORDER BY b.id LIMIT $2)`,
    /** v1-origin rows whose v2 copy changed after cutover, with the fields (a dry run). */
    divergent: `(SELECT 'resources' AS "table", d.id, d.fields, (count(*) OVER ())::int AS total
   FROM (SELECT r.id, ${differingFields('servers')} AS fields FROM resources r JOIN ${ofServer} WHERE ${inScope} AND ${differs('servers')} OFFSET 0) d ORDER BY d.id LIMIT $2)
UNION ALL
(SELECT 'capabilities', d.id, d.fields, (count(*) OVER ())::int AS total
   FROM (SELECT r.id, ${differingFields('tools')} AS fields FROM capabilities r JOIN ${ofTool} JOIN resources p ON p.id = r.resource_id
          WHERE ${mcpInScope('p')} AND ${differs('tools')} OFFSET 0) d ORDER BY d.id LIMIT $2)`,
    /** Fingerprint of everything the plan depends on; an execute request's planId must match it. */
    fingerprint: `SELECT md5(concat_ws(':',
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(r::text, 0)), 0) FROM resources r WHERE ${inScope}),
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(c::text, 0)), 0) FROM capabilities c JOIN resources r ON r.id = c.resource_id WHERE ${inScope}),
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(s::text, 0)), 0) FROM ${m.servers.v1Table} s JOIN resources r ON ${inv.namesV1('s.id', 'r.id')} WHERE ${inScope}),
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(t::text, 0)), 0) FROM ${m.tools.v1Table} t JOIN capabilities c ON ${inv.namesV1('t.id', 'c.id')} JOIN resources r ON r.id = c.resource_id WHERE ${inScope}),
  (SELECT count(*) FROM capabilities r WHERE NOT EXISTS (SELECT 1 FROM resources p WHERE p.id = r.resource_id)),
  $2::text)) AS plan_id`,
    /**
     * Settings of a rollback's transactions, in one statement. The planner has no statistics
     * for `id::text`, so it picks merge joins that sort a million ids under the collation;
     * every join here is an id equality, which a hash join does in one pass. work_mem keeps
     * the hash of the removal set in one batch. JIT compiles each big statement for ~50 ms
     * and saves nothing on joins. The archive's packs compress with lz4 where the server has it
     * (several times faster than pglz, PostgreSQL's default).
     */
    settings: `SELECT set_config('enable_mergejoin', 'off', true), set_config('work_mem', '32MB', true), set_config('jit', 'off', true),
       (SELECT set_config(name, 'lz4', true) FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals))`,
    /** The MCP resources in scope still in v2 (a run's end: born ones that stay, and any changed or added during the run). */
    remaining: `SELECT count(*)::int AS remaining FROM resources r WHERE ${inScope}`,
    /** The resources table's pages now, and the resources in scope: a run's batches are ranges of these pages. */
    extent: `SELECT (pg_relation_size('resources') / current_setting('block_size')::int)::int AS pages, (SELECT count(*)::int FROM resources r WHERE ${inScope}) AS in_scope`,
    /**
     * The batch: resources in scope on pages [$2, $3) (NULL: unbounded), locked, with their v1
     * key (NULL: born in v2) and why a born one cannot be a v1 row. Where the foreign key holds,
     * the lock keeps writers from adding capabilities to them until the batch commits, so the
     * archive holds exactly what the deletes remove (without it: archiveClassified*).
     */
    batch: `CREATE TEMP TABLE batch ON COMMIT DROP AS
SELECT r.tid, r.id, r.v1_id, CASE WHEN r.v1_id IS NULL THEN ${inv.serverUnrepresentable} END AS reason
  FROM (SELECT r.*, r.ctid AS tid, (SELECT ${m.servers.id.v1} FROM ${m.servers.v1Table} ${m.servers.alias} WHERE ${m.servers.id.v1} = ${inv.asUuid('r.id')}) AS v1_id
          FROM resources r
         WHERE ${inScope} AND ($2::tid IS NULL OR r.ctid >= $2::tid) AND ($3::tid IS NULL OR r.ctid < $3::tid)
           FOR UPDATE OF r) r`,
    /**
     * The batch's capabilities with no v1 tool, and why one cannot be a v1 row (NULL: it can).
     * Most are tools of the batch's v1 servers, found by one hash anti-join; only the others
     * are probed one by one (a regex and a probe cost ~4 µs a row; OFFSET 0 keeps them last).
     * Locked: what is written back to v1 is what the delete then removes and archives.
     */
    bornCapabilities: `CREATE TEMP TABLE born_capabilities ON COMMIT DROP AS
WITH tools AS (
  ${batchTools}
)
SELECT r.id, r.resource_id, (${inv.toolUnrepresentable}) AS reason
  FROM (SELECT r.* FROM capabilities r
         WHERE r.resource_id = ANY(${idsOf('batch')}) AND NOT EXISTS (SELECT 1 FROM tools t WHERE t.id = r.id) OFFSET 0) r
 WHERE NOT ${inv.isV1Tool('r.id')}
   FOR UPDATE OF r`,
    /** What the batch holds that was born in v2: the statements that list and write back such rows run only if any. */
    batchBorn: `SELECT count(*) FILTER (WHERE v1_id IS NULL)::int AS resources, (SELECT count(*)::int FROM born_capabilities) AS capabilities FROM batch`,
    /** The batch's born-in-v2 rows: written back, or staying and why. */
    batchBornInV2: `(SELECT 'resources' AS "table", p.id, x.id IS NOT NULL AS written_back, p.reason, (count(*) OVER ())::int AS total, (count(*) FILTER (WHERE x.id IS NULL) OVER ())::int AS staying FROM batch p LEFT JOIN ${removal} x ON x.id = p.id WHERE p.v1_id IS NULL ORDER BY p.id LIMIT $1)
UNION ALL
(SELECT 'capabilities', b.id, x.id IS NOT NULL, b.reason, (count(*) OVER ())::int AS total, (count(*) FILTER (WHERE x.id IS NULL) OVER ())::int AS staying FROM born_capabilities b LEFT JOIN ${removal} x ON x.id = b.resource_id ORDER BY b.id LIMIT $1)`,
    /** The batch's removed rows of v1 origin changed after cutover, with the fields (listed beside a backport). */
    batchDivergent: `(SELECT 'resources' AS "table", r.id, ${differingFields('servers')} AS fields, (count(*) OVER ())::int AS total
   FROM ${removal} x JOIN resources r ON r.id = x.id JOIN ${m.servers.v1Table} ${m.servers.alias} ON ${m.servers.id.v1} = x.v1_id
  WHERE r.id = ANY(${idsOf(removal)}) AND ${differs('servers')} ORDER BY r.id LIMIT $1)
UNION ALL
(SELECT 'capabilities', r.id, ${differingFields('tools')}, (count(*) OVER ())::int AS total
   FROM ${removal} x JOIN capabilities r ON r.resource_id = x.id JOIN ${m.tools.v1Table} ${m.tools.alias} ON ${m.tools.id.v1} = ${inv.asUuid('r.id')}
  WHERE r.resource_id = ANY(${idsOf(removal)}) AND ${differs('tools')} ORDER BY r.id LIMIT $1)`,
    /**
     * Before a backport, the capabilities of the batch's leaving resources, locked: one another
     * session changed between the backport and the delete would leave v1 its older value and
     * only the archive the newer. The resources are locked already; a run without a backport
     * archives whatever it deletes and needs no lock per row.
     */
    lockCapabilities: `SELECT count(*)::int AS locked FROM (SELECT 1 FROM capabilities r WHERE r.resource_id = ANY(${idsOf(removal)}) FOR UPDATE OF r) l`,
    /** The batch's changed rows of v1 origin into v1, the changed fields only. */
    backportServers: `UPDATE ${m.servers.v1Table} ${m.servers.alias} SET ${serverBackport.set}
  FROM ${removal} x JOIN resources r ON r.id = x.id
 WHERE ${m.servers.id.v1} = x.v1_id AND r.id = ANY(${idsOf(removal)}) AND ${serverBackport.changed}`,
    backportTools: `UPDATE ${m.tools.v1Table} ${m.tools.alias} SET ${toolBackport.set}, updated_at = now()
  FROM ${removal} x JOIN capabilities r ON r.resource_id = x.id
 WHERE ${m.tools.id.v1} = ${inv.asUuid('r.id')} AND r.resource_id = ANY(${idsOf(removal)}) AND ${toolBackport.changed}`,
    /** Born rows of the batch into v1 ($1: one resource's only, or NULL: all). */
    writeBackServers: `INSERT INTO ${m.servers.v1Table} (${serverWriteBack.map(([c]) => c).join(', ')})
SELECT ${serverWriteBack.map(([, e]) => e).join(', ')} FROM ${removal} x JOIN resources r ON r.id = x.id
 WHERE x.born AND r.id = ANY(${idsOf(removal)}) AND ($1::text IS NULL OR r.id = $1)`,
    writeBackTools: `INSERT INTO ${m.tools.v1Table} (${toolWriteBack.map(([c]) => c).join(', ')})
SELECT ${toolWriteBack.map(([, e]) => e).join(', ')} FROM born_capabilities b JOIN ${removal} x ON x.id = b.resource_id JOIN capabilities r ON r.id = b.id
 WHERE r.id = ANY(${idsOf('born_capabilities')}) AND ($1::text IS NULL OR b.resource_id = $1)`,
    /** The batch's leaving resources that have something to write back. */
    writeBackResources: `SELECT x.id FROM ${removal} x WHERE x.born OR EXISTS (SELECT 1 FROM born_capabilities b WHERE b.resource_id = x.id) ORDER BY x.id`,
    /** v1 refused a resource's rows ($1 the resource, $2 why): it and its born capabilities stay in v2. */
    refuseWriteBack: `WITH resource AS (UPDATE batch SET reason = $2 WHERE id = $1 AND v1_id IS NULL)
UPDATE born_capabilities SET reason = $2 WHERE resource_id = $1`,
    /**
     * Archive and delete in one statement each ($1: the rollbackId): the archive is what the
     * delete returned, exactly, however writers change the rows meanwhile; no table lock.
     * Capabilities first: the cascade (if any) then finds none left. (Archiving before a
     * cascading delete saves that probe, ~10 µs a resource, but in one snapshot a capability
     * renamed meanwhile fails the batch, which under steady writes never gets through.)
     */
    archiveCapabilities: archive(
      'capabilities',
      archivedCapabilityColumns,
      `DELETE FROM capabilities r WHERE r.resource_id = ANY(${idsOf(removal)})`,
    ),
    archiveResources: archive(
      'resources',
      archivedResourceColumns,
      `DELETE FROM resources r WHERE r.id = ANY(${idsOf(removal)})`,
    ),
    /** The batch's resources, and how many were born in v2: with any, it takes the classifying path (bornCapabilities and on). */
    batchBornResources: `SELECT count(*) FILTER (WHERE v1_id IS NULL)::int AS born, count(*)::int AS resources FROM batch`,
    /**
     * The fast path of a batch whose resources are all of v1 origin, where the foreign key holds
     * (the batch's locks then keep new capabilities out): archives and deletes every capability
     * of the batch in one statement, and counts those born in v2 among them. Born ones are rare;
     * if there is any, the caller rolls this back to a savepoint and classifies first
     * (bornCapabilities), which would otherwise read the batch's capabilities a second time.
     */
    archiveBatchCapabilities: `WITH ${removedBy('capabilities', archivedCapabilityColumns, `DELETE FROM capabilities r WHERE r.resource_id = ANY(${idsOf('batch')})`)},
archived AS (${insertArchive('capabilities')})
SELECT ${archivedRows} AS removed, count(*)::int AS born
  FROM (SELECT x.id FROM removed x WHERE NOT EXISTS (SELECT 1 FROM (${batchTools}) t WHERE t.id = x.id) OFFSET 0) r
 WHERE NOT ${inv.isV1Tool('r.id')}`,
    /**
     * The fast path's resources, the whole batch, by the TIDs it locked. A resource something in
     * this transaction updated since (a trigger on the capabilities' delete) has moved: the caller
     * then deletes the rest by id (archiveBatchResourcesById).
     */
    archiveBatchResources: archive(
      'resources',
      archivedResourceColumns,
      `DELETE FROM resources r WHERE r.ctid = ANY(${tidsOf('batch')})`,
    ),
    archiveBatchResourcesById: archive(
      'resources',
      archivedResourceColumns,
      `DELETE FROM resources r WHERE r.id = ANY(${idsOf('batch')})`,
    ),
    /**
     * The same without the foreign key, which alone stops writers from adding a capability to a
     * locked resource: one added after the batch classified its capabilities is neither of v1
     * origin nor written back, so it stays, and so does its resource (no orphan): the last
     * batch, or the next run, classifies both. The uuid probe runs only on what the two hash
     * lookups leave (tools moved between servers, ids in upper case, rows added meanwhile).
     */
    archiveClassifiedCapabilities: archive(
      'capabilities',
      archivedCapabilityColumns,
      `DELETE FROM capabilities r WHERE r.resource_id = ANY(${idsOf(removal)})
   AND (r.id IN (SELECT b.id FROM born_capabilities b) OR r.id IN (${batchTools}) OR ${inv.isV1Tool('r.id')})`,
    ),
    archiveClassifiedResources: archive(
      'resources',
      archivedResourceColumns,
      `DELETE FROM resources r WHERE r.id = ANY(${idsOf(removal)}) AND NOT EXISTS (SELECT 1 FROM capabilities c WHERE c.resource_id = r.id)`,
    ),
    /** A validated foreign key from capabilities to resources: then no capability can be an orphan. */
    foreignKey: `SELECT coalesce(bool_or(convalidated), false) AS holds
  FROM pg_constraint WHERE contype = 'f' AND conrelid = to_regclass('capabilities') AND confrelid = to_regclass('resources')`,
    /** Capabilities of v1 origin whose resource is gone, archived as they are deleted ($1: rollbackId). */
    archiveOrphans: archive(
      'capabilities',
      archivedCapabilityColumns,
      `DELETE FROM capabilities r WHERE ${orphanOfV1}`,
    ),
  };
}

export type RollbackSql = ReturnType<typeof rollbackSql>;
