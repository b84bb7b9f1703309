import type { Queryable } from '../adapters/db/types.js';
import { V1_TABLES } from './catalog.js';
import { queryRows, sql } from './sql.js';

/** Which of the named tables exist on the search path; names are bound values, not identifiers. */
export const existingTablesSql = (names: readonly string[]) =>
  sql<{ name: string }>('SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NOT NULL', [names]);

export async function existingTables(db: Queryable, names: readonly string[]): Promise<Set<string>> {
  return new Set((await queryRows(db, existingTablesSql(names))).map((r) => r.name));
}

export const serverVersionSql = () => sql<{ version: string }>(`SELECT current_setting('server_version') AS version`);

/** Every column of the v1 tables with its information_schema data type. */
export const v1ColumnsSql = () =>
  sql<{ table_name: string; column_name: string; data_type: string }>(
    `SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = ANY($1::text[])`,
    [[...V1_TABLES]],
  );
