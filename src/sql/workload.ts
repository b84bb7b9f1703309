/**
 * SQL of /optimize's workload: the database's heaviest statements on the v2 tables, read from
 * pg_stat_statements, and how one of them is planned without its values. Table names are bound
 * values (the regular expressions are built in SQL from them); the only names spliced in are
 * the fixed ones below.
 */
import { SERVICE_SCHEMA, V1_TABLES, V2_TABLES } from './catalog.js';
import { sql, type Sql } from './sql.js';

/** How many statements a plan takes from pg_stat_statements, the heaviest by total execution time. */
export const WORKLOAD_LIMIT = 20;

/** The fixed names of the prepared statement and the savepoint a workload statement is planned under. */
const PREPARED = 'sark_migrate_workload';
const SAVEPOINT = 'sark_migrate_workload';

/** A bigint column: a number from some drivers, text from others. */
type Numeric = string | number;

/** pg_stat_statements: installed in this database, available on the server, and its view on the search_path. */
export const statementStatsSql = () =>
  sql<{ installed: boolean; available: boolean; visible: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS installed,
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS available,
       to_regclass('pg_stat_statements') IS NOT NULL AS visible`,
  );

/**
 * Fails, as reading the view would, when the library is not in shared_preload_libraries; its
 * function without the texts, so the probe costs one pass over the entries and no file read.
 */
export const statementStatsReadableSql = () =>
  sql<{ readable: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_stat_statements(false)) AS readable`);

export type WorkloadRow = {
  queryid: string;
  query: string;
  calls: Numeric;
  totalExecMs: number;
  meanExecMs: number;
  rows: Numeric;
  /** The highest `$n` in the text: how many values an EXECUTE of it takes. */
  parameters: number;
  /** The v2 tables it names. */
  tables: string[];
};

/**
 * The heaviest statements of this database (by total execution time, every role's and level's
 * entries of one queryid together) that are the application's reads of the v2 tables: a SELECT,
 * naming a v2 table, no v1 table (those are migration and validation statements), nothing of the
 * service's schema, and no `;` (a statement sent without values goes by the simple protocol, where
 * a `;` would start another statement).
 */
export const heaviestStatementsSql = (limit: number = WORKLOAD_LIMIT) =>
  sql<WorkloadRow>(HEAVIEST_STATEMENTS, [[...V2_TABLES], [...V1_TABLES], SERVICE_SCHEMA, limit]);
const HEAVIEST_STATEMENTS = String.raw`
WITH top AS (
  SELECT s.queryid::text AS queryid, min(s.query) AS query, sum(s.calls)::bigint AS calls,
         sum(s.total_exec_time)::float8 AS "totalExecMs",
         (sum(s.total_exec_time) / nullif(sum(s.calls), 0))::float8 AS "meanExecMs",
         sum(s.rows)::bigint AS rows
    FROM pg_stat_statements s
   WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND s.query ~* '^\s*select\M'
     AND s.query ~* ('\m(' || array_to_string($1::text[], '|') || ')\M')
     AND s.query !~* ('\m(' || array_to_string($2::text[], '|') || ')\M')
     AND s.query !~* ('\m' || $3 || '\M')
     AND strpos(s.query, ';') = 0
   GROUP BY s.queryid
   ORDER BY sum(s.total_exec_time) DESC, s.queryid
   LIMIT $4)
SELECT t.queryid, t.query, t.calls, t."totalExecMs", coalesce(t."meanExecMs", 0) AS "meanExecMs", t.rows,
       coalesce((SELECT max(m[1]::int) FROM regexp_matches(t.query, '\$(\d+)', 'g') m), 0) AS parameters,
       ARRAY(SELECT n FROM unnest($1::text[]) n WHERE t.query ~* ('\m' || n || '\M') ORDER BY n) AS tables
  FROM top t
 ORDER BY t."totalExecMs" DESC, t.queryid`;

/** Whether a prepared statement of ours is left on this connection (a plan cut off before its DEALLOCATE). */
export const workloadPreparedSql = () =>
  sql<{ prepared: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_prepared_statements WHERE name = $1) AS prepared`, [
    PREPARED,
  ]);

export const workloadSavepointSql = () => sql(`SAVEPOINT ${SAVEPOINT}`);
export const rollbackToWorkloadSavepointSql = () => sql(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
export const releaseWorkloadSavepointSql = () => sql(`RELEASE SAVEPOINT ${SAVEPOINT}`);

/**
 * A workload statement prepared under the fixed name. The one statement whose text is not the
 * service's own: it comes from the database's statistics (pg_stat_statements), never from a
 * request, and it is never executed, only planned (EXPLAIN without ANALYZE), inside a read-only
 * transaction with a statement timeout. Sent without values, it goes by the simple protocol on
 * pg and Neon, which runs every statement of the text: one holding `;` is refused here as it is
 * left out by heaviestStatementsSql.
 */
export function prepareWorkloadSql(text: string): Sql {
  if (text.includes(';')) throw new Error('a workload statement holding ";" is never prepared');
  return sql(`PREPARE ${PREPARED} AS ${text}`);
}

/** For the rest of the transaction (the savepoint's rollback undoes it): plans without the values. */
export const genericPlanSql = () => sql(`SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`);

/**
 * The generic plan of the prepared statement: EXECUTE needs a value for each parameter, and
 * NULLs do, since a generic plan never looks at them (PostgreSQL 15 has no EXPLAIN (GENERIC_PLAN)).
 */
export const explainWorkloadSql = (parameters: number) =>
  sql<{ 'QUERY PLAN': unknown }>(
    `EXPLAIN (FORMAT JSON) EXECUTE ${PREPARED}${parameters > 0 ? `(${Array.from({ length: parameters }, () => 'NULL').join(', ')})` : ''}`,
  );

/** Prepared statements belong to the session, not the transaction, and the connection goes back to a pool. */
export const deallocateWorkloadSql = () => sql(`DEALLOCATE ${PREPARED}`);
