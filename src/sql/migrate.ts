import { projection, type Mapping } from '../mapping/mapping.js';
import type { Sql } from './sql.js';

/**
 * SQL of /migrate, derived from the mapping. Values are bound: `subset` is the optional list
 * of server ids (NULL: every server), batch bounds are ids. Identifiers come from the mapping.
 */
export type Subset = readonly string[] | null;

function pieces(m: Mapping) {
  const sid = m.servers.id.v1; // the v1 server id, uuid
  return {
    sid,
    inScope: `($1::uuid[] IS NULL OR ${sid} = ANY($1::uuid[]))`,
    resourceExists: `EXISTS (SELECT 1 FROM ${m.servers.v2Table} r WHERE r.${m.servers.id.v2} = ${m.servers.columns[m.servers.id.v2]})`,
    capabilityExists: `EXISTS (SELECT 1 FROM ${m.tools.v2Table} c WHERE c.${m.tools.id.v2} = ${m.tools.columns[m.tools.id.v2]})`,
    toolsOfServers: `${m.tools.v1Table} ${m.tools.alias} JOIN ${m.servers.v1Table} ${m.servers.alias} ON ${sid} = ${m.toolParent.v1}`,
  };
}

export interface PlanCountsOptions {
  subset: Subset;
  /** Without v2 tables nothing can be present yet: the probes become `false`. */
  v2Present: boolean;
  /** Count rows already in v2 (a dry run); a run derives them from what it copied. */
  countPresent: boolean;
}

/** Rows in scope, already in v2, and impossible to copy: one pass over each table. */
export type PlanCounts = {
  servers_planned: number;
  servers_present: number;
  servers_skipped: number;
  tools_planned: number;
  tools_present: number;
  tools_skipped: number;
};

export function planCountsSql(m: Mapping, { subset, v2Present, countPresent }: PlanCountsOptions): Sql<PlanCounts> {
  const p = pieces(m);
  const rExists = v2Present ? p.resourceExists : 'false';
  const cExists = v2Present ? p.capabilityExists : 'false';
  const present = (exists: string) => (countPresent ? `count(*) FILTER (WHERE ${exists})::int` : '0');
  const unmappable = `NOT ${m.serverCopyable} AND NOT ${rExists}`;
  return {
    text: `SELECT servers_counts.*, tools_counts.* FROM
  (SELECT count(*)::int AS servers_planned, ${present(rExists)} AS servers_present,
          count(*) FILTER (WHERE ${unmappable})::int AS servers_skipped
     FROM ${m.servers.v1Table} ${m.servers.alias} WHERE ${p.inScope}) servers_counts,
  (SELECT count(*)::int AS tools_planned, ${present(cExists)} AS tools_present,
          count(*) FILTER (WHERE ${unmappable} AND NOT ${cExists})::int AS tools_skipped
     FROM ${p.toolsOfServers} WHERE ${p.inScope}) tools_counts`,
    values: [subset],
  };
}

/**
 * The fingerprint of everything a migration plan depends on: the v1 rows in scope (every
 * column), which of them v2 already holds, and whether the v2 tables exist. A run given the
 * planId of a dry run must find the same.
 */
export function fingerprintSql(
  m: Mapping,
  { subset, v2Present }: { subset: Subset; v2Present: boolean },
): Sql<{ plan_id: string }> {
  const p = pieces(m);
  const rExists = v2Present ? p.resourceExists : 'false';
  const cExists = v2Present ? p.capabilityExists : 'false';
  const rows = (alias: string, exists: string) =>
    `count(*) || '/' || coalesce(bit_xor(hashtextextended(${alias}::text, 0)), 0) || '/' || count(*) FILTER (WHERE ${exists})`;
  return {
    text: `SELECT md5(concat_ws(':', ${v2Present ? "'v2'" : "'no v2'"},
  (SELECT ${rows(m.servers.alias, rExists)} FROM ${m.servers.v1Table} ${m.servers.alias} WHERE ${p.inScope}),
  (SELECT ${rows(m.tools.alias, cExists)} FROM ${p.toolsOfServers} WHERE ${p.inScope}))) AS plan_id`,
    values: [subset],
  };
}

/** Up to `limit` rows per table that cannot be copied, with the reason. */
export function skippedRowsSql(
  m: Mapping,
  { subset, v2Present, limit }: { subset: Subset; v2Present: boolean; limit: number },
): Sql<{ table: string; id: string; reason: string }> {
  const p = pieces(m);
  const rExists = v2Present ? p.resourceExists : 'false';
  const cExists = v2Present ? p.capabilityExists : 'false';
  const unmappable = `NOT ${m.serverCopyable} AND NOT ${rExists}`;
  return {
    text: `(SELECT '${m.servers.v2Table}' AS "table", ${m.servers.columns.id} AS id, 'has neither command nor endpoint, and a resource needs an endpoint' AS reason
   FROM ${m.servers.v1Table} ${m.servers.alias}
  WHERE ${p.inScope} AND ${unmappable}
  ORDER BY 2 LIMIT $2)
UNION ALL
(SELECT '${m.tools.v2Table}', ${m.tools.columns.id}, 'its server ' || ${m.servers.columns.id} || ' cannot be migrated'
   FROM ${p.toolsOfServers}
  WHERE ${p.inScope} AND ${unmappable} AND NOT ${cExists}
  ORDER BY 2 LIMIT $2)`,
    values: [subset, limit],
  };
}

/** Requested server ids that are not v1 servers at all. */
export function unknownServerIdsSql(m: Mapping, subset: readonly string[]): Sql<{ id: string }> {
  return {
    text: `SELECT wanted::text AS id FROM unnest($1::uuid[]) AS wanted
            WHERE NOT EXISTS (SELECT 1 FROM ${m.servers.v1Table} ${m.servers.alias} WHERE ${m.servers.id.v1} = wanted) ORDER BY 1`,
    values: [subset],
  };
}

/**
 * The batch after `after` (NULL: from the start) of `size` servers: `hi`, its last id (NULL
 * when fewer remain), and `more`, whether any server remains at all. Index range scans:
 * batches are found one at a time, so memory stays flat whatever the table size.
 */
export function nextBatchSql(
  m: Mapping,
  { subset, after, size }: { subset: Subset; after: string | null; size: number },
): Sql<{ hi: string | null; more: boolean }> {
  const p = pieces(m);
  const rest = `($2::uuid IS NULL OR ${p.sid} > $2::uuid) AND ${p.inScope}`;
  return {
    text: `SELECT (SELECT ${m.servers.columns.id} FROM ${m.servers.v1Table} ${m.servers.alias} WHERE ${rest} ORDER BY ${p.sid} OFFSET $3::int - 1 LIMIT 1) AS hi,
                  EXISTS (SELECT 1 FROM ${m.servers.v1Table} ${m.servers.alias} WHERE ${rest}) AS more`,
    values: [subset, after, size],
  };
}

/**
 * Copies the servers with lo < id <= hi (NULL: unbounded) and all their tools in one
 * statement, so a batch lands whole or not at all. Rows already in v2 are left as they are
 * by ON CONFLICT DO NOTHING alone: its primary-key probe stays an index lookup however
 * large v2 grows, where an anti-join would follow planner statistics that a run outdates.
 */
export function copyBatchSql(
  m: Mapping,
  { subset, lo, hi }: { subset: Subset; lo: string | null; hi: string | null },
): Sql<{ resources_copied: number; capabilities_copied: number }> {
  const p = pieces(m);
  const r = projection(m.servers);
  const c = projection(m.tools);
  return {
    text: `WITH batch AS MATERIALIZED (
  SELECT ${m.servers.alias}.* FROM ${m.servers.v1Table} ${m.servers.alias}
   WHERE ($2::uuid IS NULL OR ${p.sid} > $2::uuid) AND ($3::uuid IS NULL OR ${p.sid} <= $3::uuid) AND ${p.inScope}
), copied_resources AS (
  INSERT INTO ${m.servers.v2Table} (${r.columns.join(', ')})
  SELECT ${r.expressions.join(', ')}
    FROM batch ${m.servers.alias}
   WHERE ${m.serverCopyable}
  ON CONFLICT (${m.servers.id.v2}) DO NOTHING
  RETURNING 1
), copied_capabilities AS (
  INSERT INTO ${m.tools.v2Table} (${c.columns.join(', ')})
  SELECT ${c.expressions.join(', ')}
    FROM ${m.tools.v1Table} ${m.tools.alias} JOIN batch ${m.servers.alias} ON ${p.sid} = ${m.toolParent.v1}
   WHERE (${m.serverCopyable} OR ${p.resourceExists})
  ON CONFLICT (${m.tools.id.v2}) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*)::int FROM copied_resources) AS resources_copied,
       (SELECT count(*)::int FROM copied_capabilities) AS capabilities_copied`,
    values: [subset, lo, hi],
  };
}
