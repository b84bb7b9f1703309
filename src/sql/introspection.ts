import { V1_TABLES, V2_TABLES } from './catalog.js';

/** Which catalogue tables exist on the search path; names are bound values, not identifiers. */
export function tablePresenceSql() {
  return {
    text: `SELECT name, to_regclass(name) IS NOT NULL AS present
             FROM unnest($1::text[]) AS name`,
    values: [[...V1_TABLES, ...V2_TABLES]],
  };
}

export function serverVersionSql() {
  return { text: `SELECT current_setting('server_version') AS version`, values: [] };
}
