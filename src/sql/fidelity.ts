import type { Mapping, TableMapping } from '../mapping/mapping.js';
import type { V1Shape } from '../mapping/shape.js';
import type { Sql } from './sql.js';

/**
 * Field-by-field comparison of v1 rows with their v2 rows, derived from the mapping: the
 * inverse view of what /migrate writes. Metadata may hold more keys than the mapping (v2
 * applications add their own): fidelity means every mapped key holds the v1 value.
 */
export interface FieldComparison {
  field: string;
  /** SQL that is true when the field matches; never NULL. */
  equal: string;
  /** The v1 columns the field is made from: what a rollback's backport rewrites when it differs. */
  reads: string[];
}

const V2 = 'r';

/** A JSON metadata value against its v1 column, by the column's type. */
function metadataEquals(key: string, column: string, type: string | undefined): string {
  const json = `${V2}.metadata->'${key}'`;
  const text = `${V2}.metadata->>'${key}'`;
  if (type === 'jsonb' || type === 'json') return `${json} IS NOT DISTINCT FROM ${column}::jsonb`;
  if (type === 'timestamp with time zone') {
    // Compared as instants, so any time zone the writer rendered them in matches; text that is no timestamp does not.
    return `(CASE WHEN ${text} ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}' THEN (${text})::timestamptz END) IS NOT DISTINCT FROM ${column}`;
  }
  return `${text} IS NOT DISTINCT FROM ${column}::text`;
}

export function fieldComparisons(m: TableMapping, shape: V1Shape): FieldComparison[] {
  const a = m.alias;
  // The mapping's expressions name v1 columns only as `alias.column` (endpoint: COALESCE(s.command, s.endpoint)).
  const columnsIn = (expression: string) => [
    ...new Set([...expression.matchAll(new RegExp(`\\b${a}\\.(\\w+)`, 'g'))].map((match) => match[1]!)),
  ];
  const columns = Object.entries(m.columns)
    .filter(([column]) => column !== m.id.v2)
    .map(([column, expression]) => ({
      field: column,
      equal: `${V2}.${column} IS NOT DISTINCT FROM ${expression}`,
      reads: columnsIn(expression),
    }));
  const keys = Object.entries(m.metadataKeys).map(([key, column]) => ({
    field: `metadata.${key}`,
    // The merge column's keys win over mapped ones: where it has the key, the merge check below decides.
    equal: `(${a}.${m.metadataMerge} ? '${key}' OR ${metadataEquals(key, `${a}.${column}`, shape.columnTypes[`${m.v1Table}.${column}`])})`,
    reads: [column],
  }));
  return [
    ...columns,
    ...keys,
    {
      field: `metadata (${m.metadataMerge})`,
      equal: `${V2}.metadata @> ${a}.${m.metadataMerge}`,
      reads: [m.metadataMerge],
    },
  ];
}

/**
 * v1 rows FULL JOIN every v2 row of their table. A v2 row without a v1 row is `extra` only when
 * it is of v1's kind (an MCP resource, a capability of one); that test runs on unmatched rows
 * alone, so the pass costs no more than the join itself.
 */
function comparison(m: Mapping, which: 'servers' | 'tools') {
  const t = m[which];
  const protocol = m.servers.columns.protocol;
  const ofV1Kind =
    which === 'servers'
      ? `${V2}.protocol = ${protocol}`
      : `EXISTS (SELECT 1 FROM ${m.servers.v2Table} p WHERE p.${m.servers.id.v2} = ${V2}.${m.toolParent.v2} AND p.protocol = ${protocol})`;
  const v1 = `${t.id.v1} IS NOT NULL`;
  const v2 = `${V2}.${t.id.v2} IS NOT NULL`;
  return {
    t,
    from: `${t.v1Table} ${t.alias} FULL JOIN ${t.v2Table} ${V2} ON ${V2}.${t.id.v2} = ${t.columns[t.id.v2]}`,
    v1,
    v2,
    extra: `NOT ${v1} AND ${ofV1Kind}`,
    same: fieldComparisons(t, m.shape),
  };
}

export type FidelityCounts = {
  v1_rows: number;
  matched: number;
  missing: number;
  changed: number;
  extra: number;
};

/** One pass: v1 rows missing in v2 or differing in a mapped field, and v2 rows of v1's kind without a v1 row. */
export function fidelityCountsSql(m: Mapping, which: 'servers' | 'tools'): Sql<FidelityCounts> {
  const c = comparison(m, which);
  return {
    text: `SELECT count(*) FILTER (WHERE ${c.v1})::int AS v1_rows,
       count(*) FILTER (WHERE ${c.v1} AND ${c.v2})::int AS matched,
       count(*) FILTER (WHERE NOT ${c.v2})::int AS missing,
       count(*) FILTER (WHERE ${c.extra})::int AS extra,
       count(*) FILTER (WHERE ${c.v1} AND ${c.v2} AND NOT (
      ${c.same.map((f) => f.equal).join('\n      AND ')}))::int AS changed
  FROM ${c.from}`,
    values: [],
  };
}

/** Up to `limit` ids per problem: missing, changed (with the fields that differ), extra. Run only on failure. */
export function fidelitySampleSql(
  m: Mapping,
  which: 'servers' | 'tools',
  limit: number,
): Sql<{ id: string; problem: string; fields: string[] | null }> {
  const c = comparison(m, which);
  const id = `coalesce(${c.t.columns[c.t.id.v2]}, ${V2}.${c.t.id.v2})`;
  const problem = `CASE WHEN NOT ${c.v2} THEN 'missing' WHEN ${c.extra} THEN 'extra' WHEN ${c.v1} THEN 'changed' END`;
  const differing = `array_remove(ARRAY[${c.same.map((f) => `CASE WHEN NOT (${f.equal}) THEN '${f.field}' END`).join(', ')}]::text[], NULL)`;
  return {
    text: `SELECT id, problem, fields FROM (
  SELECT id, problem, fields, row_number() OVER (PARTITION BY problem ORDER BY id) AS n FROM (
    SELECT ${id} AS id, ${problem} AS problem, CASE WHEN ${c.v1} AND ${c.v2} THEN ${differing} END AS fields FROM ${c.from}
  ) compared WHERE problem IN ('missing', 'extra') OR cardinality(fields) > 0
) ranked WHERE n <= $1 ORDER BY problem, id`,
    values: [limit],
  };
}
