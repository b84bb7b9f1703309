import { ARCHIVED_COLUMNS, ARCHIVED_PACKS, ARCHIVED_TYPES, SERVICE_SCHEMA } from './catalog.js';
import { Params, sql, type Sql } from './sql.js';

/**
 * SQL of the rollback archive's export (rows out of the packs as NDJSON lines, rendered by
 * PostgreSQL) and of /restore (rows back into v2, from the packs or from exported lines).
 */

export type ArchivedTable = keyof typeof ARCHIVED_COLUMNS;
export const ARCHIVED_TABLES = Object.keys(ARCHIVED_COLUMNS) as ArchivedTable[];

const packs = (table: ArchivedTable) => `${SERVICE_SCHEMA}.${ARCHIVED_PACKS[table]}`;
const rowType = (table: ArchivedTable) => `${SERVICE_SCHEMA}.${ARCHIVED_TYPES[table]}`;
const columns = (table: ArchivedTable, alias?: string) =>
  ARCHIVED_COLUMNS[table].map((c) => (alias ? `${alias}.${c}` : c)).join(', ');

/**
 * One page of a run's archived rows as NDJSON lines: up to `packs` packs after the pack at
 * `after` (a TID; '(0,0)' first), each row one JSON object of the table's columns in the
 * archive's order, rows in pack order then in their order within the pack. Packs are never
 * updated, so their TIDs page through them without an index, as a TID range scan.
 */
export function exportPageSql(
  table: ArchivedTable,
  { rollbackId, after, packs: limit }: { rollbackId: string; after: string; packs: number },
): Sql<{ pack: string; line: string }> {
  const p = new Params();
  const object = ARCHIVED_COLUMNS[table].map((c) => `'${c}', x.${c}`).join(', ');
  return sql(
    `SELECT p.ctid::text AS pack, json_build_object(${object})::text AS line
  FROM (SELECT ctid, rows FROM ${packs(table)}
         WHERE rollback_id = ${p.bind(rollbackId, 'text')} AND ctid > ${p.bind(after, 'tid')}
         ORDER BY ctid LIMIT ${p.bind(limit, 'int')}) p
  CROSS JOIN LATERAL unnest(p.rows) WITH ORDINALITY AS x(${columns(table)}, n)
 ORDER BY p.ctid, x.n`,
    p.values,
  );
}

/** Whether the archive's packs are there (a team may have dropped them, keeping the exports). */
export const archivePresentSql = () =>
  sql<{ present: boolean }>(
    `SELECT to_regclass('${packs('resources')}') IS NOT NULL AND to_regclass('${packs('capabilities')}') IS NOT NULL AS present`,
  );

/** The rows a run archived, per table (only where archivePresentSql says the packs are there). */
export function archivedCountsSql(rollbackId: string): Sql<Record<ArchivedTable, number>> {
  const p = new Params();
  const id = p.bind(rollbackId, 'text');
  const count = (table: ArchivedTable) =>
    `(SELECT coalesce(sum(cardinality(rows)), 0)::int FROM ${packs(table)} WHERE rollback_id = ${id}) AS ${table}`;
  return sql(`SELECT ${ARCHIVED_TABLES.map(count).join(', ')}`, p.values);
}

/** A run's archived rows of a table, as rows of the table (alias x). */
const fromArchive = (table: ArchivedTable, id: string) =>
  `${packs(table)} p CROSS JOIN LATERAL unnest(p.rows) x WHERE p.rollback_id = ${id}`;

/** Exported NDJSON lines (a text[] of one batch) as rows of the table (alias x). */
const fromLines = (table: ArchivedTable, lines: string) =>
  `unnest(${lines}) AS l(line) CROSS JOIN LATERAL json_populate_record(null::${rowType(table)}, l.line::json) x WHERE true`;

/** Source of the rows to restore: the packs of a run, or a batch of exported lines. */
export type RestoreSource = { rollbackId: string } | { lines: string[] };

function rowsOf(table: ArchivedTable, source: RestoreSource, p: Params): string {
  return 'lines' in source
    ? fromLines(table, p.bind(source.lines, 'text[]'))
    : fromArchive(table, p.bind(source.rollbackId, 'text'));
}

/**
 * Rows to restore whose id a row of v2 already holds (the primary key, the tables' one unique
 * key): the first `limit` ids in order, each row with how many collide in all, and the rows in all.
 */
export function collisionsSql(
  table: ArchivedTable,
  source: RestoreSource,
  limit: number,
): Sql<{ rows: number; colliding: number; sample: string[] }> {
  const p = new Params();
  const rows = rowsOf(table, source, p);
  return sql(
    `SELECT count(*)::int AS rows, count(t.id)::int AS colliding,
       coalesce((array_agg(x.id::text ORDER BY x.id) FILTER (WHERE t.id IS NOT NULL))[1:${p.bind(limit, 'int')}], '{}') AS sample
  FROM (SELECT x.* FROM ${rows}) x LEFT JOIN ${table} t ON t.id = x.id`,
    p.values,
  );
}

/** Puts rows back into v2, every column as archived; answers how many. */
export function restoreRowsSql(table: ArchivedTable, source: RestoreSource): Sql<{ restored: number }> {
  const p = new Params();
  const rows = rowsOf(table, source, p);
  return sql(
    `WITH restored AS (INSERT INTO ${table} (${columns(table)}) SELECT ${columns(table, 'x')} FROM ${rows} RETURNING 1)
SELECT count(*)::int AS restored FROM restored`,
    p.values,
  );
}
