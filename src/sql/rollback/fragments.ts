import { inverseOf, type InverseMapping } from '../../mapping/inverse.js';
import type { Mapping } from '../../mapping/mapping.js';
import { ARCHIVED_COLUMNS, ARCHIVED_PACKS, ARCHIVED_TYPES, SERVICE_SCHEMA } from '../catalog.js';
import { fieldComparisons } from '../fidelity.js';

/**
 * The pieces /rollback's statements share, derived once per mapping from the mapping and its
 * inverse. `r` is the row at hand (a resource or a capability). Pieces that read a value take
 * its placeholder (`ids`: the optional list of resource ids, NULL for every MCP resource), so
 * each statement binds its own values in its own order.
 */

/**
 * Archived rows a pack: packs of 60 kB at SARK's row sizes compress as well as larger ones,
 * and rows would have to average 5 MB before a pack neared PostgreSQL's 1 GB limit on a value.
 */
const PACK_ROWS = 200;

type Table = keyof typeof ARCHIVED_COLUMNS;

export interface RollbackFragments {
  m: Mapping;
  inv: InverseMapping;
  /** MCP resources (`r`) in scope. */
  inScope(ids: string): string;
  /** The same for a resource under another alias. */
  mcpInScope(alias: string, ids: string): string;
  /** The v1 server / tool of `r`, by a UUID spelling of its id in any case (join clauses). */
  ofServer: string;
  ofTool: string;
  /** The dry run's sets as CTEs: born_capabilities, and removal (the resources that leave v2). */
  planned(ids: string): string;
  /** `r` differs from its v1 row in a mapped field; the fields that differ. */
  differs(which: 'servers' | 'tools'): string;
  differingFields(which: 'servers' | 'tools'): string;
  /** v1 columns and the inverse expressions that write a born row back. */
  serverWriteBack: [string, string][];
  toolWriteBack: [string, string][];
  /** A backport's SET list, and whether the row has a field to backport. */
  serverBackport: { set: string; changed: string };
  toolBackport: { set: string; changed: string };
  /** A batch's resources that leave v2 (over the temp tables batch and born_capabilities). */
  removal: string;
  /** The ids / TIDs of a set, as an array. */
  idsOf(set: string): string;
  tidsOf(set: string): string;
  /** The tools of the batch's v1 servers, by v2 id. */
  batchTools: string;
  /** A capability of v1 origin whose resource is gone. */
  orphanOfV1: string;
  /** A delete (aliased `r`) as the CTE `removed`, returning each row as the archive's composite type. */
  removedBy(table: Table, remove: string): string;
  /** The removed rows into packs under the rollback id's placeholder, each pack answering its rows (`n`). */
  insertArchive(table: Table, rollbackId: string): string;
  /** The rows a statement archived (and so removed), from its packs. */
  archivedRows: string;
  /** A delete and its archive in one statement, answering how many rows it removed. */
  archive(table: Table, remove: string, rollbackId: string): string;
}

const memo = new WeakMap<Mapping, RollbackFragments>();

export function rollbackFragments(m: Mapping): RollbackFragments {
  let fragments = memo.get(m);
  if (!fragments) memo.set(m, (fragments = derive(m)));
  return fragments;
}

function derive(m: Mapping): RollbackFragments {
  const inv = inverseOf(m);
  const protocol = m.servers.columns.protocol;
  const mcpInScope = (alias: string, ids: string) =>
    `${alias}.protocol = ${protocol} AND (${ids} IS NULL OR ${alias}.id = ANY(${ids}))`;
  const inScope = (ids: string) => mcpInScope('r', ids);
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
  const bornCapabilities = (ids: string) => `SELECT r.id, r.resource_id, (${inv.toolUnrepresentable}) AS reason
      FROM (SELECT r.* FROM capabilities r JOIN resources p ON p.id = r.resource_id
             WHERE ${mcpInScope('p', ids)} AND NOT EXISTS (SELECT 1 FROM ${m.tools.v1Table} t WHERE ${m.tools.columns.id} = r.id) OFFSET 0) r
     WHERE NOT ${inv.isV1Tool('r.id')}`;
  /**
   * MCP resources in scope that leave v2 (born: without a v1 server, to be written back):
   * of v1 origin, or representable in v1, and with no capability that is not.
   */
  const removals = (ids: string) => `SELECT r.id, ${m.servers.id.v1} IS NULL AS born
      FROM resources r LEFT JOIN ${ofServer}
     WHERE ${inScope(ids)}
       AND (CASE WHEN ${m.servers.id.v1} IS NOT NULL THEN true ELSE (${inv.serverUnrepresentable}) IS NULL END)
       AND NOT EXISTS (SELECT 1 FROM born_capabilities b WHERE b.resource_id = r.id AND b.reason IS NOT NULL)`;
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
  /**
   * A delete as the CTE `removed`: each row's id, and the row as the archive's composite type,
   * made once as the delete returns it (which the steps after it then pass on as one value: a
   * tenth less time for a batch's capabilities than returning the columns one by one).
   */
  const removedBy = (table: Table, remove: string) =>
    `removed AS (${remove} RETURNING r.id, ROW(${ARCHIVED_COLUMNS[table].map((c) => `r.${c}`).join(', ')})::${SERVICE_SCHEMA}.${ARCHIVED_TYPES[table]} AS archived)`;
  /**
   * The removed rows into the archive's packs, under the rollback id: PACK_ROWS rows a pack,
   * one array of the row's composite type, which TOAST compresses (see src/db/service-schema.ts).
   * Each pack answers its rows (`n`, read off the array as inserted, before TOAST): summed, the
   * rows removed, without a third pass over what the delete returned (5% of the statement).
   */
  const insertArchive = (
    table: Table,
    rollbackId: string,
  ) => `INSERT INTO ${SERVICE_SCHEMA}.${ARCHIVED_PACKS[table]} (rollback_id, rows)
SELECT ${rollbackId}, array_agg(x.archived)
  FROM (SELECT removed.archived, (row_number() OVER () - 1) / ${PACK_ROWS} AS pack FROM removed) x GROUP BY x.pack
RETURNING cardinality(rows) AS n`;
  const archivedRows = `(SELECT coalesce(sum(a.n), 0) FROM archived a)::int`;
  return {
    m,
    inv,
    inScope,
    mcpInScope,
    ofServer,
    ofTool,
    planned: (ids) => `WITH born_capabilities AS (${bornCapabilities(ids)}), removal AS (${removals(ids)})\n`,
    differs,
    differingFields,
    serverWriteBack: columnsOf(inv.servers),
    toolWriteBack: columnsOf(inv.tools),
    serverBackport: backport('servers', ['id', 'created_at']),
    toolBackport: backport('tools', ['id', 'server_id']),
    /**
     * A batch's resources that leave v2: of v1 origin, or born and representable in v1, and
     * with no capability that is not. `born`: written back first; `v1_id`: the v1 key.
     */
    removal: `(SELECT p.id, p.v1_id, p.v1_id IS NULL AS born FROM batch p
   WHERE (p.v1_id IS NOT NULL OR p.reason IS NULL)
     AND NOT EXISTS (SELECT 1 FROM born_capabilities b WHERE b.resource_id = p.id AND b.reason IS NOT NULL))`,
    /**
     * The ids of a set, as an array: `= ANY` of it reaches a table through its index, which a
     * join with a temp table (no statistics) does only when the planner guesses the size right.
     */
    idsOf: (set) => `ARRAY(SELECT s.id FROM ${set} s)`,
    /** The batch's resources where they lie: locked, no other session can move them, and a TID scan needs no index. */
    tidsOf: (set) => `ARRAY(SELECT s.tid FROM ${set} s)`,
    /** One index scan finds most of the batch's capabilities of v1 origin. */
    batchTools: `SELECT ${m.tools.columns.id} AS id FROM ${m.tools.v1Table} ${m.tools.alias}
   WHERE ${m.toolParent.v1} = ANY(ARRAY(SELECT p.v1_id FROM batch p WHERE p.v1_id IS NOT NULL))`,
    orphanOfV1: `NOT EXISTS (SELECT 1 FROM resources p WHERE p.id = r.resource_id) AND ${inv.isV1Tool('r.id')}`,
    removedBy,
    insertArchive,
    archivedRows,
    archive: (table, remove, rollbackId) =>
      `WITH ${removedBy(table, remove)},\narchived AS (${insertArchive(table, rollbackId)})\nSELECT ${archivedRows} AS removed`,
  };
}
