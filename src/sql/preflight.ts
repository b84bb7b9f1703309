import type { V1Table, V2Table } from './catalog.js';
import { sql, type Sql } from './sql.js';

/**
 * The catalogue reads of /preflight. Table names are bound values compared with pg_class, never
 * identifiers, except in exactCountSql, whose table comes from the fixed catalogue.
 */

export const serverVersionNumSql = () =>
  sql<{ version: string; num: number }>(
    `SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS num`,
  );

/** Whether each extension is installed, and whether the server could install it (pg_available_extensions). */
export const extensionsSql = (names: readonly string[]) =>
  sql<{ name: string; installed: string | null; available: string | null }>(
    `SELECT name,
            (SELECT extversion FROM pg_extension e WHERE e.extname = name) AS installed,
            (SELECT default_version FROM pg_available_extensions a WHERE a.name = wanted.name) AS available
       FROM unnest($1::text[]) AS wanted(name)`,
    [names],
  );

/** Every named table on the search path: the planner's row estimate (-1: never analyzed) and its whole size. */
export const tableSizesSql = (tables: readonly string[]) =>
  sql<{ table: string; exists: boolean; estimate: number | null; bytes: number | null }>(
    `SELECT name AS "table", c.oid IS NOT NULL AS "exists", c.reltuples::float8 AS estimate,
            pg_total_relation_size(c.oid)::float8 AS bytes
       FROM unnest($1::text[]) WITH ORDINALITY AS t(name, n)
       LEFT JOIN pg_class c ON c.oid = to_regclass(name)
      ORDER BY n`,
    [tables],
  );

/**
 * The same without taking a lock (pg_class only): where another session holds an ACCESS EXCLUSIVE
 * lock, the planner's estimate and the heap's pages (indexes and TOAST not counted).
 */
export const tableSizesUnlockedSql = (tables: readonly string[]) =>
  sql<{ table: string; exists: boolean; estimate: number | null; bytes: number | null }>(
    `SELECT name AS "table", c.oid IS NOT NULL AS "exists", c.reltuples::float8 AS estimate,
            (c.relpages::float8 * current_setting('block_size')::int) AS bytes
       FROM unnest($1::text[]) WITH ORDINALITY AS t(name, n)
       LEFT JOIN pg_class c ON c.relname = name AND c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
      ORDER BY n`,
    [tables],
  );

/** Rows ANALYZE samples per table at most: 300 × default_statistics_target. */
export const analyzeSampleRowsSql = () =>
  sql<{ n: number }>(`SELECT 300 * current_setting('default_statistics_target')::int AS n`);

/** count(*) of one table of the catalogue: run only where the estimate says it is cheap. */
export const exactCountSql = (table: V1Table | V2Table) =>
  sql<{ n: number }>(`SELECT count(*)::float8 AS n FROM ${table}`);

/** Other sessions of this database whose transaction began more than `seconds` ago. */
export const longTransactionsSql = (seconds: number) =>
  sql<{ pid: number; state: string | null; application: string | null; seconds: number; query: string | null }>(
    `SELECT pid, state, application_name AS application,
            extract(epoch FROM clock_timestamp() - xact_start)::float8 AS seconds, left(query, 200) AS query
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid()
        AND xact_start < clock_timestamp() - make_interval(secs => $1::float8)
      ORDER BY xact_start`,
    [seconds],
  );

/** Table locks other sessions hold (or wait for) on the named tables of this database. */
export const tableLocksSql = (tables: readonly string[]) =>
  sql<{ table: string; mode: string; granted: boolean; pid: number; state: string | null }>(
    `SELECT c.relname::text AS "table", l.mode, l.granted, l.pid, a.state
       FROM pg_locks l
       JOIN pg_class c ON c.oid = l.relation
       LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'relation' AND l.pid <> pg_backend_pid()
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1::text[])
      ORDER BY 1, 2, 4`,
    [tables],
  );

/** Replication slots and the WAL each holds back. */
export const replicationSlotsSql = () =>
  sql<{ slot: string; type: string; active: boolean; lag_bytes: number | null; wal_status: string | null }>(
    `SELECT slot_name::text AS slot, slot_type AS type, active, wal_status,
            pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END,
                            coalesce(confirmed_flush_lsn, restart_lsn))::float8 AS lag_bytes
       FROM pg_replication_slots ORDER BY 1`,
  );

/** Live and dead tuples and the last (auto)vacuum and (auto)analyze of the named tables. */
export const tableStatsSql = (tables: readonly string[]) =>
  sql<{
    table: string;
    live: number;
    dead: number;
    last_autovacuum: Date | null;
    last_vacuum: Date | null;
    last_autoanalyze: Date | null;
    last_analyze: Date | null;
  }>(
    `SELECT relname::text AS "table", n_live_tup::float8 AS live, n_dead_tup::float8 AS dead,
            last_autovacuum, last_vacuum, last_autoanalyze, last_analyze
       FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY($1::text[]) ORDER BY 1`,
    [tables],
  );

/** Connection slots: the limit, those reserved, those client backends use now. */
export const connectionSlotsSql = () =>
  sql<{ max: number; superuser_reserved: number; reserved: number; used: number }>(
    `SELECT current_setting('max_connections')::int AS max,
            current_setting('superuser_reserved_connections')::int AS superuser_reserved,
            coalesce(current_setting('reserved_connections', true), '0')::int AS reserved,
            (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS used`,
  );

/** The session's own timeouts, as it began (reset_val): not the SET LOCAL this transaction took. */
export const sessionTimeoutsSql = () =>
  sql<{ name: string; reset_val: string; unit: string | null; source: string }>(
    `SELECT name, reset_val, unit, source FROM pg_settings
      WHERE name IN ('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout') ORDER BY 1`,
  );

/**
 * The statement_timeout a new session of this role on this database starts with where ALTER ROLE
 * or ALTER DATABASE set one (the most specific first); no row: the server's configuration.
 */
export const configuredStatementTimeoutSql = () =>
  sql<{ level: string; value: string }>(
    `SELECT CASE WHEN s.setdatabase <> 0 AND s.setrole <> 0 THEN 'ALTER ROLE … IN DATABASE'
                 WHEN s.setrole <> 0 THEN 'ALTER ROLE' ELSE 'ALTER DATABASE' END AS level,
            substring(cfg FROM '=(.*)$') AS value
       FROM pg_db_role_setting s, unnest(s.setconfig) AS cfg
      WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
        AND s.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = current_user))
        AND cfg LIKE 'statement_timeout=%'
      ORDER BY s.setdatabase <> 0 AND s.setrole <> 0 DESC, s.setrole <> 0 DESC
      LIMIT 1`,
  );

/** The savepoint one catalogue read runs under, so a read the server refuses leaves the snapshot usable. */
export function checkSavepointSql(action: 'set' | 'release' | 'rollback to'): Sql {
  const verb = { set: 'SAVEPOINT', release: 'RELEASE SAVEPOINT', 'rollback to': 'ROLLBACK TO SAVEPOINT' }[action];
  return sql(`${verb} preflight_check`);
}
