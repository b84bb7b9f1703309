import type { Queryable } from '../adapters/db/types.js';
import { queryRows, sql } from './sql.js';

/** Which of the named tables exist on the search path; names are bound values, not identifiers. */
export const existingTablesSql = (names: readonly string[]) =>
  sql<{ name: string }>('SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NOT NULL', [names]);

export async function existingTables(db: Queryable, names: readonly string[]): Promise<Set<string>> {
  return new Set((await queryRows(db, existingTablesSql(names))).map((r) => r.name));
}

export const serverVersionSql = () => sql<{ version: string }>(`SELECT current_setting('server_version') AS version`);
