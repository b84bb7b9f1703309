import { sql } from './sql.js';

/**
 * The statements that make and drop a rehearsal's throwaway copy on a plain PostgreSQL server
 * (CREATE DATABASE ... TEMPLATE). They run over a maintenance connection to another database of
 * the same server. The names are not from a catalogue but are never a request's: the copy's is
 * the service's (a prefix and a report id), the source's is DATABASE_URL's; both are quoted.
 */

/** A database name as an SQL identifier, quoted (`"` doubled), whatever it holds. */
export function quoteIdentifier(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) throw new Error('an identifier must be non-empty and hold no NUL');
  return `"${name.replaceAll('"', '""')}"`;
}

/** The sessions other than this one connected to a database, by application. */
export const sessionsOnSql = (database: string) =>
  sql<{ application: string; sessions: number }>(
    `SELECT coalesce(nullif(application_name, ''), '(unnamed)') AS application, count(*)::int AS sessions
       FROM pg_stat_activity
      WHERE datname = $1 AND pid <> pg_backend_pid()
      GROUP BY 1 ORDER BY 2 DESC, 1`,
    [database],
  );

/** A copy of `source`, file by file: PostgreSQL refuses it while any other session is connected to `source`. */
export const createDatabaseFromTemplateSql = (copy: string, source: string) =>
  sql(`CREATE DATABASE ${quoteIdentifier(copy)} TEMPLATE ${quoteIdentifier(source)}`);

/** Drops a copy, ending any session still on it (PostgreSQL 13+). */
export const dropDatabaseSql = (copy: string) => sql(`DROP DATABASE IF EXISTS ${quoteIdentifier(copy)} WITH (FORCE)`);

export const databaseExistsSql = (name: string) =>
  sql<{ present: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS present`, [name]);

/**
 * A fingerprint of v1's rows (mcp_servers, mcp_tools): counts and an md5 of every row's text, in
 * SQL. A rehearsal takes it on the copy before migrating and after rolling back.
 */
export const v1FingerprintSql = () =>
  sql<{ servers: string; tools: string }>(
    `SELECT (SELECT count(*) || ':' || md5(coalesce(string_agg(s::text, E'\\n' ORDER BY s.id), '')) FROM mcp_servers s) AS servers,
            (SELECT count(*) || ':' || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t.id), '')) FROM mcp_tools t) AS tools`,
  );

/** The copy answers: the database it is connected to. */
export const currentDatabaseSql = () => sql<{ name: string }>(`SELECT current_database() AS name`);
