import type { Mapping } from '../../mapping/mapping.js';
import { Params, sql, type Sql } from '../sql.js';
import { rollbackFragments } from './fragments.js';
import type { BornRow, DivergentRow, Scope } from './plan.js';

/**
 * SQL of one batch of a rollback run, in its transaction. Two temp tables carry the batch from
 * statement to statement: `batch` (lockBatchSql: its resources, locked) and, on the classifying
 * path, `born_capabilities` (classifyCapabilitiesSql). Each statement below says which it
 * reads; src/operations/rollback/batch.ts runs them in the only order that works.
 */

/** A batch's pages: lo <= ctid < hi, as tids (null: unbounded). */
export interface PageRange {
  lo: string | null;
  hi: string | null;
}

/**
 * Makes `batch`: the resources in scope on the range's pages, locked, with their v1 key (NULL:
 * born in v2) and why a born one cannot be a v1 row. Where the foreign key holds, the lock keeps
 * writers from adding capabilities to them until the batch commits, so the archive holds exactly
 * what the deletes remove (without it: archiveClassifiedCapabilitiesSql).
 */
export function lockBatchSql(m: Mapping, { resourceIds, range }: Scope & { range: PageRange }): Sql {
  const { inv, inScope } = rollbackFragments(m);
  const p = new Params();
  const ids = p.bind(resourceIds, 'text[]');
  const lo = p.bind(range.lo, 'tid');
  const hi = p.bind(range.hi, 'tid');
  return sql(
    `CREATE TEMP TABLE batch ON COMMIT DROP AS
SELECT r.tid, r.id, r.v1_id, CASE WHEN r.v1_id IS NULL THEN ${inv.serverUnrepresentable} END AS reason
  FROM (SELECT r.*, r.ctid AS tid, (SELECT ${m.servers.id.v1} FROM ${m.servers.v1Table} ${m.servers.alias} WHERE ${m.servers.id.v1} = ${inv.asUuid('r.id')}) AS v1_id
          FROM resources r
         WHERE ${inScope(ids)} AND (${lo} IS NULL OR r.ctid >= ${lo}) AND (${hi} IS NULL OR r.ctid < ${hi})
           FOR UPDATE OF r) r`,
    p.values,
  );
}

/** Reads `batch`: its resources, and how many were born in v2 (with any, the batch classifies first). */
export const batchCompositionSql = () =>
  sql<{ born: number; resources: number }>(
    `SELECT count(*) FILTER (WHERE v1_id IS NULL)::int AS born, count(*)::int AS resources FROM batch`,
  );

/**
 * Reads `batch`. The fast path of a batch whose resources are all of v1 origin, where the foreign
 * key holds (the batch's locks then keep new capabilities out): archives and deletes every
 * capability of the batch in one statement, and counts those born in v2 among them. Born ones
 * are rare; if there is any, the caller rolls this back to a savepoint and classifies first,
 * which would otherwise read the batch's capabilities a second time.
 */
export function archiveWholeBatchCapabilitiesSql(
  m: Mapping,
  { rollbackId }: { rollbackId: string },
): Sql<{ removed: number; born: number }> {
  const f = rollbackFragments(m);
  const p = new Params();
  const id = p.bind(rollbackId, 'text');
  return sql(
    `WITH ${f.removedBy('capabilities', `DELETE FROM capabilities r WHERE r.resource_id = ANY(${f.idsOf('batch')})`)},
archived AS (${f.insertArchive('capabilities', id)})
SELECT ${f.archivedRows} AS removed, count(*)::int AS born
  FROM (SELECT x.id FROM removed x WHERE NOT EXISTS (SELECT 1 FROM (${f.batchTools}) t WHERE t.id = x.id) OFFSET 0) r
 WHERE NOT ${f.inv.isV1Tool('r.id')}`,
    p.values,
  );
}

/**
 * Reads `batch`: the fast path's resources, the whole batch, by the TIDs it locked. A resource
 * something in this transaction updated since (a trigger on the capabilities' delete) has moved:
 * the caller then deletes the rest by id (archiveWholeBatchResourcesByIdSql).
 */
export function archiveWholeBatchResourcesSql(
  m: Mapping,
  { rollbackId }: { rollbackId: string },
): Sql<{ removed: number }> {
  const f = rollbackFragments(m);
  const p = new Params();
  const id = p.bind(rollbackId, 'text');
  return sql(f.archive('resources', `DELETE FROM resources r WHERE r.ctid = ANY(${f.tidsOf('batch')})`, id), p.values);
}

export function archiveWholeBatchResourcesByIdSql(
  m: Mapping,
  { rollbackId }: { rollbackId: string },
): Sql<{ removed: number }> {
  const f = rollbackFragments(m);
  const p = new Params();
  const id = p.bind(rollbackId, 'text');
  return sql(f.archive('resources', `DELETE FROM resources r WHERE r.id = ANY(${f.idsOf('batch')})`, id), p.values);
}

/**
 * Reads `batch`; makes `born_capabilities`: the batch's capabilities with no v1 tool, and why
 * one cannot be a v1 row (NULL: it can). Most are tools of the batch's v1 servers, found by one
 * hash anti-join; only the others are probed one by one (a regex and a probe cost ~4 µs a row;
 * OFFSET 0 keeps them last). Locked: what is written back to v1 is what the delete then removes
 * and archives.
 */
export function classifyCapabilitiesSql(m: Mapping): Sql {
  const f = rollbackFragments(m);
  return sql(`CREATE TEMP TABLE born_capabilities ON COMMIT DROP AS
WITH tools AS (
  ${f.batchTools}
)
SELECT r.id, r.resource_id, (${f.inv.toolUnrepresentable}) AS reason
  FROM (SELECT r.* FROM capabilities r
         WHERE r.resource_id = ANY(${f.idsOf('batch')}) AND NOT EXISTS (SELECT 1 FROM tools t WHERE t.id = r.id) OFFSET 0) r
 WHERE NOT ${f.inv.isV1Tool('r.id')}
   FOR UPDATE OF r`);
}

/** Reads both: what the batch holds that was born in v2 (rows to list and write back only if any). */
export const batchBornCountsSql = () =>
  sql<{ resources: number; capabilities: number }>(
    `SELECT count(*) FILTER (WHERE v1_id IS NULL)::int AS resources, (SELECT count(*)::int FROM born_capabilities) AS capabilities FROM batch`,
  );

/** Reads both: the batch's born-in-v2 rows, written back or staying and why; `limit` of each. */
export function batchBornInV2Sql(m: Mapping, { limit }: { limit: number }): Sql<BornRow> {
  const { removal } = rollbackFragments(m);
  const p = new Params();
  const most = p.bind(limit, 'int');
  return sql(
    `(SELECT 'resources' AS "table", p.id, x.id IS NOT NULL AS written_back, p.reason, (count(*) OVER ())::int AS total, (count(*) FILTER (WHERE x.id IS NULL) OVER ())::int AS staying FROM batch p LEFT JOIN ${removal} x ON x.id = p.id WHERE p.v1_id IS NULL ORDER BY p.id LIMIT ${most})
UNION ALL
(SELECT 'capabilities', b.id, x.id IS NOT NULL, b.reason, (count(*) OVER ())::int AS total, (count(*) FILTER (WHERE x.id IS NULL) OVER ())::int AS staying FROM born_capabilities b LEFT JOIN ${removal} x ON x.id = b.resource_id ORDER BY b.id LIMIT ${most})`,
    p.values,
  );
}

/**
 * Reads both. Before a backport, the capabilities of the batch's leaving resources, locked: one
 * another session changed between the backport and the delete would leave v1 its older value
 * and only the archive the newer. The resources are locked already; a run without a backport
 * archives whatever it deletes and needs no lock per row.
 */
export function lockLeavingCapabilitiesSql(m: Mapping): Sql<{ locked: number }> {
  const { idsOf, removal } = rollbackFragments(m);
  return sql(
    `SELECT count(*)::int AS locked FROM (SELECT 1 FROM capabilities r WHERE r.resource_id = ANY(${idsOf(removal)}) FOR UPDATE OF r) l`,
  );
}

/** Reads both: the batch's leaving rows of v1 origin changed after cutover, with the fields; `limit` of each. */
export function batchDivergentSql(m: Mapping, { limit }: { limit: number }): Sql<DivergentRow> {
  const f = rollbackFragments(m);
  const p = new Params();
  const most = p.bind(limit, 'int');
  return sql(
    `(SELECT 'resources' AS "table", r.id, ${f.differingFields('servers')} AS fields, (count(*) OVER ())::int AS total
   FROM ${f.removal} x JOIN resources r ON r.id = x.id JOIN ${m.servers.v1Table} ${m.servers.alias} ON ${m.servers.id.v1} = x.v1_id
  WHERE r.id = ANY(${f.idsOf(f.removal)}) AND ${f.differs('servers')} ORDER BY r.id LIMIT ${most})
UNION ALL
(SELECT 'capabilities', r.id, ${f.differingFields('tools')}, (count(*) OVER ())::int AS total
   FROM ${f.removal} x JOIN capabilities r ON r.resource_id = x.id JOIN ${m.tools.v1Table} ${m.tools.alias} ON ${m.tools.id.v1} = ${f.inv.asUuid('r.id')}
  WHERE r.resource_id = ANY(${f.idsOf(f.removal)}) AND ${f.differs('tools')} ORDER BY r.id LIMIT ${most})`,
    p.values,
  );
}

/** Reads both: the batch's changed servers of v1 origin into v1, the changed fields only. */
export function backportServersSql(m: Mapping): Sql {
  const f = rollbackFragments(m);
  return sql(`UPDATE ${m.servers.v1Table} ${m.servers.alias} SET ${f.serverBackport.set}
  FROM ${f.removal} x JOIN resources r ON r.id = x.id
 WHERE ${m.servers.id.v1} = x.v1_id AND r.id = ANY(${f.idsOf(f.removal)}) AND ${f.serverBackport.changed}`);
}

/** Reads both: the batch's changed tools of v1 origin into v1, the changed fields only. */
export function backportToolsSql(m: Mapping): Sql {
  const f = rollbackFragments(m);
  return sql(`UPDATE ${m.tools.v1Table} ${m.tools.alias} SET ${f.toolBackport.set}, updated_at = now()
  FROM ${f.removal} x JOIN capabilities r ON r.resource_id = x.id
 WHERE ${m.tools.id.v1} = ${f.inv.asUuid('r.id')} AND r.resource_id = ANY(${f.idsOf(f.removal)}) AND ${f.toolBackport.changed}`);
}

/** Reads both: the batch's born servers into v1, of one resource (`resourceId`) or of all (null). */
export function writeBackServersSql(m: Mapping, { resourceId }: { resourceId: string | null }): Sql {
  const f = rollbackFragments(m);
  const p = new Params();
  const only = p.bind(resourceId, 'text');
  return sql(
    `INSERT INTO ${m.servers.v1Table} (${f.serverWriteBack.map(([c]) => c).join(', ')})
SELECT ${f.serverWriteBack.map(([, e]) => e).join(', ')} FROM ${f.removal} x JOIN resources r ON r.id = x.id
 WHERE x.born AND r.id = ANY(${f.idsOf(f.removal)}) AND (${only} IS NULL OR r.id = ${only})`,
    p.values,
  );
}

/** Reads both: the batch's born capabilities into v1, of one resource (`resourceId`) or of all (null). */
export function writeBackToolsSql(m: Mapping, { resourceId }: { resourceId: string | null }): Sql {
  const f = rollbackFragments(m);
  const p = new Params();
  const only = p.bind(resourceId, 'text');
  return sql(
    `INSERT INTO ${m.tools.v1Table} (${f.toolWriteBack.map(([c]) => c).join(', ')})
SELECT ${f.toolWriteBack.map(([, e]) => e).join(', ')} FROM born_capabilities b JOIN ${f.removal} x ON x.id = b.resource_id JOIN capabilities r ON r.id = b.id
 WHERE r.id = ANY(${f.idsOf('born_capabilities')}) AND (${only} IS NULL OR b.resource_id = ${only})`,
    p.values,
  );
}

/** Reads both: the batch's leaving resources that have something to write back. */
export function writeBackResourcesSql(m: Mapping): Sql<{ id: string }> {
  const { removal } = rollbackFragments(m);
  return sql(
    `SELECT x.id FROM ${removal} x WHERE x.born OR EXISTS (SELECT 1 FROM born_capabilities b WHERE b.resource_id = x.id) ORDER BY x.id`,
  );
}

/** Writes both: v1 refused a resource's rows, so it and its born capabilities stay in v2, saying why. */
export function refuseWriteBackSql({ resourceId, reason }: { resourceId: string; reason: string }): Sql {
  const p = new Params();
  const id = p.bind(resourceId, 'text');
  const why = p.bind(reason, 'text');
  return sql(
    `WITH resource AS (UPDATE batch SET reason = ${why} WHERE id = ${id} AND v1_id IS NULL)
UPDATE born_capabilities SET reason = ${why} WHERE resource_id = ${id}`,
    p.values,
  );
}

/**
 * Reads both. Archive and delete in one statement each: the archive is what the delete
 * returned, exactly, however writers change the rows meanwhile; no table lock. Capabilities
 * first: the cascade (if any) then finds none left. (Archiving before a cascading delete saves
 * that probe, ~10 µs a resource, but in one snapshot a capability renamed meanwhile fails the
 * batch, which under steady writes never gets through.)
 */
export function archiveLeavingCapabilitiesSql(
  m: Mapping,
  { rollbackId }: { rollbackId: string },
): Sql<{ removed: number }> {
  const f = rollbackFragments(m);
  const p = new Params();
  const id = p.bind(rollbackId, 'text');
  return sql(
    f.archive('capabilities', `DELETE FROM capabilities r WHERE r.resource_id = ANY(${f.idsOf(f.removal)})`, id),
    p.values,
  );
}

export function archiveLeavingResourcesSql(
  m: Mapping,
  { rollbackId }: { rollbackId: string },
): Sql<{ removed: number }> {
  const f = rollbackFragments(m);
  const p = new Params();
  const id = p.bind(rollbackId, 'text');
  return sql(f.archive('resources', `DELETE FROM resources r WHERE r.id = ANY(${f.idsOf(f.removal)})`, id), p.values);
}

/**
 * Reads both. The same without the foreign key, which alone stops writers from adding a
 * capability to a locked resource: one added after the batch classified its capabilities is
 * neither of v1 origin nor written back, so it stays, and so does its resource (no orphan):
 * the last batch, or the next run, classifies both. The uuid probe runs only on what the two
 * hash lookups leave (tools moved between servers, ids in upper case, rows added meanwhile).
 */
export function archiveClassifiedCapabilitiesSql(
  m: Mapping,
  { rollbackId }: { rollbackId: string },
): Sql<{ removed: number }> {
  const f = rollbackFragments(m);
  const p = new Params();
  const id = p.bind(rollbackId, 'text');
  return sql(
    f.archive(
      'capabilities',
      `DELETE FROM capabilities r WHERE r.resource_id = ANY(${f.idsOf(f.removal)})
   AND (r.id IN (SELECT b.id FROM born_capabilities b) OR r.id IN (${f.batchTools}) OR ${f.inv.isV1Tool('r.id')})`,
      id,
    ),
    p.values,
  );
}

export function archiveClassifiedResourcesSql(
  m: Mapping,
  { rollbackId }: { rollbackId: string },
): Sql<{ removed: number }> {
  const f = rollbackFragments(m);
  const p = new Params();
  const id = p.bind(rollbackId, 'text');
  return sql(
    f.archive(
      'resources',
      `DELETE FROM resources r WHERE r.id = ANY(${f.idsOf(f.removal)}) AND NOT EXISTS (SELECT 1 FROM capabilities c WHERE c.resource_id = r.id)`,
      id,
    ),
    p.values,
  );
}

/** The savepoints a batch takes: around its fast path, and around its write-back (all at once, or a resource at a time). */
export type Savepoint = 'whole_batch' | 'write_back' | 'write_back_one';

export function savepointSql(action: 'set' | 'release' | 'rollback to', name: Savepoint): Sql {
  const verb = { set: 'SAVEPOINT', release: 'RELEASE SAVEPOINT', 'rollback to': 'ROLLBACK TO SAVEPOINT' }[action];
  return sql(`${verb} ${name}`);
}
