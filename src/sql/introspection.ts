import type { Queryable } from '../adapters/db/types.js';

export interface Sql {
  text: string;
  values: unknown[];
}

/** Which of the named tables exist on the search path; names are bound values, not identifiers. */
export function existingTablesSql(names: readonly string[]): Sql {
  return { text: 'SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NOT NULL', values: [names] };
}

export async function existingTables(db: Queryable, names: readonly string[]): Promise<Set<string>> {
  const { text, values } = existingTablesSql(names);
  const { rows } = await db.query<{ name: string }>(text, values);
  return new Set(rows.map((r) => r.name));
}

export function serverVersionSql(): Sql {
  return { text: `SELECT current_setting('server_version') AS version`, values: [] };
}
