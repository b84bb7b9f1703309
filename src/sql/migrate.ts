import { projection, type Mapping } from '../mapping/mapping.js';

/**
 * SQL of /migrate, derived from the mapping. Values are bound: $n::uuid[] is the optional
 * subset (NULL: every server), batch bounds are ids. Identifiers come from the mapping only.
 */
export interface SqlText {
  text: string;
}

const inScope = (subsetParam: string) => `(${subsetParam}::uuid[] IS NULL OR s.id = ANY(${subsetParam}::uuid[]))`;
const resourceExists = (m: Mapping) => `EXISTS (SELECT 1 FROM ${m.servers.v2Table} r WHERE r.${m.servers.id.v2} = ${m.servers.columns[m.servers.id.v2]})`;
const capabilityExists = (m: Mapping) => `EXISTS (SELECT 1 FROM ${m.tools.v2Table} c WHERE c.${m.tools.id.v2} = ${m.tools.columns[m.tools.id.v2]})`;
const toolsOfServers = (m: Mapping) => `${m.tools.v1Table} t JOIN ${m.servers.v1Table} s ON s.id = ${m.toolParent.v1}`;

/**
 * What a run would do: rows in scope, already in v2, and impossible to copy. $1: subset.
 * Without v2 tables nothing can be present yet, so the EXISTS probes become false.
 */
export function planCountsSql(m: Mapping, v2Present: boolean): SqlText {
  const rExists = v2Present ? resourceExists(m) : 'false';
  const cExists = v2Present ? capabilityExists(m) : 'false';
  return {
    text: `SELECT
  (SELECT count(*)::int FROM ${m.servers.v1Table} s WHERE ${inScope('$1')}) AS servers_planned,
  (SELECT count(*)::int FROM ${m.servers.v1Table} s WHERE ${inScope('$1')} AND ${rExists}) AS servers_present,
  (SELECT count(*)::int FROM ${m.servers.v1Table} s WHERE ${inScope('$1')} AND NOT ${m.serverCopyable} AND NOT ${rExists}) AS servers_skipped,
  (SELECT count(*)::int FROM ${toolsOfServers(m)} WHERE ${inScope('$1')}) AS tools_planned,
  (SELECT count(*)::int FROM ${toolsOfServers(m)} WHERE ${inScope('$1')} AND ${cExists}) AS tools_present,
  (SELECT count(*)::int FROM ${toolsOfServers(m)} WHERE ${inScope('$1')} AND NOT ${cExists} AND NOT ${m.serverCopyable} AND NOT ${rExists}) AS tools_skipped`,
  };
}

/** Up to $2 rows per table that cannot be copied, with the reason. $1: subset. */
export function skippedRowsSql(m: Mapping, v2Present: boolean): SqlText {
  const rExists = v2Present ? resourceExists(m) : 'false';
  const cExists = v2Present ? capabilityExists(m) : 'false';
  return {
    text: `(SELECT '${m.servers.v2Table}' AS "table", s.id::text AS id, 'has neither command nor endpoint, and a resource needs an endpoint' AS reason
   FROM ${m.servers.v1Table} s
  WHERE ${inScope('$1')} AND NOT ${m.serverCopyable} AND NOT ${rExists}
  ORDER BY s.id LIMIT $2)
UNION ALL
(SELECT '${m.tools.v2Table}', t.id::text, 'its server ' || s.id::text || ' cannot be migrated'
   FROM ${toolsOfServers(m)}
  WHERE ${inScope('$1')} AND NOT ${cExists} AND NOT ${m.serverCopyable} AND NOT ${rExists}
  ORDER BY t.id LIMIT $2)`,
  };
}

/** v1 ids in scope that are not v1 servers at all. $1: subset. */
export function unknownServerIdsSql(m: Mapping): SqlText {
  return {
    text: `SELECT wanted::text AS id FROM unnest($1::uuid[]) AS wanted
            WHERE NOT EXISTS (SELECT 1 FROM ${m.servers.v1Table} s WHERE s.id = wanted) ORDER BY 1`,
  };
}

/**
 * The batch after $1 (NULL: from the start) of $2 servers: `hi`, its last id (NULL when fewer
 * remain), and `more`, whether any server remains at all. Index range scans: batches are
 * found one at a time, so memory stays flat whatever the table size. $3: subset.
 */
export function nextBatchSql(m: Mapping): SqlText {
  const after = `($1::uuid IS NULL OR s.id > $1::uuid) AND ${inScope('$3')}`;
  return {
    text: `SELECT (SELECT s.id::text FROM ${m.servers.v1Table} s WHERE ${after} ORDER BY s.id OFFSET $2::int - 1 LIMIT 1) AS hi,
                  EXISTS (SELECT 1 FROM ${m.servers.v1Table} s WHERE ${after}) AS more`,
  };
}

/**
 * Copies the servers with $1 < id <= $2 (NULL: unbounded) and all their tools, in one
 * statement, so a batch lands whole or not at all. Rows already in v2 are left as they are.
 * $3: subset.
 */
export function copyBatchSql(m: Mapping): SqlText {
  const r = projection(m.servers);
  const c = projection(m.tools);
  return {
    text: `WITH batch AS MATERIALIZED (
  SELECT s.* FROM ${m.servers.v1Table} s
   WHERE ($1::uuid IS NULL OR s.id > $1::uuid) AND ($2::uuid IS NULL OR s.id <= $2::uuid) AND ${inScope('$3')}
), copied_resources AS (
  INSERT INTO ${m.servers.v2Table} (${r.columns.join(', ')})
  SELECT ${r.expressions.join(', ')}
    FROM batch s
   WHERE ${m.serverCopyable} AND NOT ${resourceExists(m)}
  ON CONFLICT (${m.servers.id.v2}) DO NOTHING
  RETURNING 1
), copied_capabilities AS (
  INSERT INTO ${m.tools.v2Table} (${c.columns.join(', ')})
  SELECT ${c.expressions.join(', ')}
    FROM ${m.tools.v1Table} t JOIN batch s ON s.id = ${m.toolParent.v1}
   WHERE (${m.serverCopyable} OR ${resourceExists(m)}) AND NOT ${capabilityExists(m)}
  ON CONFLICT (${m.tools.id.v2}) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*)::int FROM batch) AS servers,
       (SELECT count(*)::int FROM copied_resources) AS resources_copied,
       (SELECT count(*)::int FROM copied_capabilities) AS capabilities_copied`,
  };
}
