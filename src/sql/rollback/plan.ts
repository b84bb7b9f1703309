import type { Mapping } from '../../mapping/mapping.js';
import { Params, sql, type Sql } from '../sql.js';
import { rollbackFragments } from './fragments.js';

/**
 * SQL of a rollback's plan: what a dry run reports, read in one snapshot with the sets as
 * CTEs over every MCP resource in scope. `resourceIds`: only these resources (null: all).
 */

export interface Scope {
  resourceIds: readonly string[] | null;
}

export type PlanCounts = {
  resources_in_scope: number;
  resources_removed: number;
  resources_v1_origin: number;
  capabilities_removed: number;
  orphans_removed: number;
};

/** A listed row and its kind's complete count (`total`, and `staying` of born rows), listed or not. */
export type BornRow = {
  table: string;
  id: string;
  written_back: boolean;
  reason: string | null;
  total: number;
  staying: number;
};
export type DivergentRow = { table: string; id: string; fields: string[]; total: number };

/** Counts of the plan, in one statement that only reads. */
export function planCountsSql(m: Mapping, { resourceIds }: Scope): Sql<PlanCounts> {
  const f = rollbackFragments(m);
  const p = new Params();
  const ids = p.bind(resourceIds, 'text[]');
  return sql(
    `${f.planned(ids)}SELECT (SELECT count(*)::int FROM resources r WHERE ${f.inScope(ids)}) AS resources_in_scope,
       (SELECT count(*)::int FROM removal) AS resources_removed,
       (SELECT count(*)::int FROM removal WHERE NOT born) AS resources_v1_origin,
       (SELECT count(*)::int FROM capabilities r JOIN removal x ON x.id = r.resource_id) AS capabilities_removed,
       (SELECT count(*)::int FROM capabilities r WHERE ${f.orphanOfV1} AND ${ids} IS NULL) AS orphans_removed`,
    p.values,
  );
}

/** Born-in-v2 resources and capabilities in scope: written back, or staying and why; `limit` of each. */
export function bornInV2Sql(m: Mapping, { resourceIds, limit }: Scope & { limit: number }): Sql<BornRow> {
  const f = rollbackFragments(m);
  const p = new Params();
  const ids = p.bind(resourceIds, 'text[]');
  const most = p.bind(limit, 'int');
  return sql(
    `${f.planned(ids)}(SELECT 'resources' AS "table", d.id, d.written_back, d.reason, (count(*) OVER ())::int AS total, (count(*) FILTER (WHERE NOT d.written_back) OVER ())::int AS staying
   FROM (SELECT r.id, x.id IS NOT NULL AS written_back, ${f.inv.serverUnrepresentable} AS reason FROM resources r LEFT JOIN ${f.ofServer} LEFT JOIN removal x ON x.id = r.id
          WHERE ${f.inScope(ids)} AND ${m.servers.id.v1} IS NULL OFFSET 0) d ORDER BY d.id LIMIT ${most})
UNION ALL
(SELECT 'capabilities', b.id, x.id IS NOT NULL, b.reason, (count(*) OVER ())::int AS total, (count(*) FILTER (WHERE x.id IS NULL) OVER ())::int AS staying FROM born_capabilities b LEFT JOIN removal x ON x.id = b.resource_id ORDER BY b.id LIMIT ${most})`,
    p.values,
  );
}

/** v1-origin rows in scope whose v2 copy changed after cutover, with the fields; `limit` of each. */
export function divergentSql(m: Mapping, { resourceIds, limit }: Scope & { limit: number }): Sql<DivergentRow> {
  const f = rollbackFragments(m);
  const p = new Params();
  const ids = p.bind(resourceIds, 'text[]');
  const most = p.bind(limit, 'int');
  return sql(
    `(SELECT 'resources' AS "table", d.id, d.fields, (count(*) OVER ())::int AS total
   FROM (SELECT r.id, ${f.differingFields('servers')} AS fields FROM resources r JOIN ${f.ofServer} WHERE ${f.inScope(ids)} AND ${f.differs('servers')} OFFSET 0) d ORDER BY d.id LIMIT ${most})
UNION ALL
(SELECT 'capabilities', d.id, d.fields, (count(*) OVER ())::int AS total
   FROM (SELECT r.id, ${f.differingFields('tools')} AS fields FROM capabilities r JOIN ${f.ofTool} JOIN resources p ON p.id = r.resource_id
          WHERE ${f.mcpInScope('p', ids)} AND ${f.differs('tools')} OFFSET 0) d ORDER BY d.id LIMIT ${most})`,
    p.values,
  );
}

/**
 * The fingerprint of everything a plan depends on: the rows in scope of both versions, the
 * orphans, and whether changes are backported. A run given a planId must find the same.
 */
export function fingerprintSql(
  m: Mapping,
  { resourceIds, backportChanges }: Scope & { backportChanges: boolean },
): Sql<{ plan_id: string }> {
  const f = rollbackFragments(m);
  const p = new Params();
  const ids = p.bind(resourceIds, 'text[]');
  const backport = p.bind(String(backportChanges), 'text');
  const inScope = f.inScope(ids);
  return sql(
    `SELECT md5(concat_ws(':',
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(r::text, 0)), 0) FROM resources r WHERE ${inScope}),
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(c::text, 0)), 0) FROM capabilities c JOIN resources r ON r.id = c.resource_id WHERE ${inScope}),
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(s::text, 0)), 0) FROM ${m.servers.v1Table} s JOIN resources r ON ${f.inv.namesV1('s.id', 'r.id')} WHERE ${inScope}),
  (SELECT count(*) || '/' || coalesce(bit_xor(hashtextextended(t::text, 0)), 0) FROM ${m.tools.v1Table} t JOIN capabilities c ON ${f.inv.namesV1('t.id', 'c.id')} JOIN resources r ON r.id = c.resource_id WHERE ${inScope}),
  (SELECT count(*) FROM capabilities r WHERE NOT EXISTS (SELECT 1 FROM resources p WHERE p.id = r.resource_id)),
  ${backport})) AS plan_id`,
    p.values,
  );
}
