/**
 * SQL of the materialized views /optimize may propose and build where no index can serve a
 * pattern: a fixed catalogue, like the indexes'. Names and definitions come only from here;
 * what a request may change is bound as values.
 */
import { PATTERNS, type BenchmarkParams, type PatternName, type Query } from './benchmark.js';
import { sql } from './sql.js';

export interface RemedyView {
  /** The benchmark pattern it serves, which /benchmark then times through it. */
  pattern: PatternName;
  purpose: string;
  /** The defining query: every row the pattern may read, with the columns it reads. */
  select: string;
  /** The UNIQUE index REFRESH ... CONCURRENTLY needs, and the index the pattern's ORDER BY needs. */
  uniqueIndex: { name: string; on: string };
  orderIndex: { name: string; on: string };
  /** The pattern's statement on the view: the same values bound, the same rows returned. */
  via: Query;
  /** The pattern's statement without its ORDER BY and LIMIT: the rows it sorts (for the planner's estimate). */
  matching: string;
}

const cross = PATTERNS.cross_protocol_capabilities;

export const VIEWS = {
  mv_cross_protocol_capabilities: {
    pattern: 'cross_protocol_capabilities',
    purpose:
      'Keeps protocol and capability name in one table, so an index on (protocol, name) returns rows in the ORDER BY of cross_protocol_capabilities and its LIMIT stops after the first 100',
    select: `SELECT c.id AS capability_id, r.protocol, c.name, c.sensitivity_level, c.input_schema->>'type' AS input_type
  FROM capabilities c
  JOIN resources r ON r.id = c.resource_id`,
    uniqueIndex: { name: 'ux_mv_cross_protocol_capabilities_id', on: '(capability_id)' },
    orderIndex: { name: 'ix_mv_cross_protocol_capabilities_protocol_name', on: '(protocol, name)' },
    via: {
      description: cross.description,
      targetMs: cross.targetMs,
      tables: ['mv_cross_protocol_capabilities'],
      sql: `SELECT protocol, name, sensitivity_level, input_type
  FROM mv_cross_protocol_capabilities
 WHERE protocol = ANY($1::text[])
   AND sensitivity_level <> $2
 ORDER BY protocol, name
 LIMIT 100`,
      values: cross.values,
    },
    matching: `SELECT r.protocol, c.name
  FROM capabilities c
  JOIN resources r ON r.id = c.resource_id
 WHERE r.protocol = ANY($1::text[])
   AND c.sensitivity_level <> $2`,
  },
} as const satisfies Record<string, RemedyView>;

export type ViewName = keyof typeof VIEWS;
export const VIEW_NAMES = Object.keys(VIEWS) as [ViewName, ...ViewName[]];

/** The view that serves a pattern, if the catalogue has one. */
export const viewFor = (pattern: string): ViewName | undefined =>
  VIEW_NAMES.find((name) => VIEWS[name].pattern === pattern);

/**
 * The statements that build a view, in one transaction: populated from one snapshot, its
 * indexes built, analyzed. The base tables get only ACCESS SHARE locks (writers go on), and a
 * failure anywhere rolls all of it back, so nothing is ever left half-built.
 */
export const viewStatements = (name: ViewName): string[] => {
  const v = VIEWS[name];
  return [
    `CREATE MATERIALIZED VIEW ${name} AS\n${v.select}\n  WITH DATA`,
    `CREATE UNIQUE INDEX ${v.uniqueIndex.name} ON ${name} ${v.uniqueIndex.on}`,
    `CREATE INDEX ${v.orderIndex.name} ON ${name} ${v.orderIndex.on}`,
    `ANALYZE ${name}`,
  ];
};
/** The build as reports show it: one transaction. */
export const viewDefinition = (name: ViewName) => `BEGIN;\n${viewStatements(name).join(';\n')};\nCOMMIT;`;
export const buildViewSql = (name: ViewName) => viewStatements(name).map((text) => sql(text));

/** Brings the view up to date without blocking its readers (it needs the UNIQUE index). */
export const refreshDefinition = (name: ViewName) => `REFRESH MATERIALIZED VIEW CONCURRENTLY ${name}`;
export const refreshViewSql = (name: ViewName) => sql(refreshDefinition(name));
export const dropViewDefinition = (name: ViewName) => `DROP MATERIALIZED VIEW IF EXISTS ${name}`;

/** Whether the view exists, is populated, and how many of its catalogue indexes are valid. */
export const viewStateSql = (name: ViewName) =>
  sql<{ populated: boolean; indexes: number }>(
    `SELECT c.relispopulated AS populated,
       (SELECT count(*)::int FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
         WHERE i.indrelid = c.oid AND i.indisvalid AND x.relname = ANY($2::text[])) AS indexes
  FROM pg_class c WHERE c.oid = to_regclass($1) AND c.relkind = 'm'`,
    [name, [VIEWS[name].uniqueIndex.name, VIEWS[name].orderIndex.name]],
  );

/** Any relation the build would create that exists already (a leftover, or someone else's of that name). */
export const viewObjectsSql = (name: ViewName) =>
  sql<{ name: string }>(`SELECT n AS name FROM unnest($1::text[]) n WHERE to_regclass(n) IS NOT NULL ORDER BY 1`, [
    [name, VIEWS[name].uniqueIndex.name, VIEWS[name].orderIndex.name],
  ]);

const explainText = (text: string, values: unknown[] = []) =>
  sql<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${text}`, values);
/** The planner's plan of the defining query: its cost and the rows the view would hold. */
export const explainViewSelectSql = (name: ViewName) => explainText(VIEWS[name].select);
/** The planner's plan of the rows the pattern sorts before its LIMIT. */
export const explainMatchingSql = (name: ViewName, params: BenchmarkParams) =>
  explainText(VIEWS[name].matching, VIEWS[name].via.values(params));

/** The planner's unit costs, for estimating a plan on a view that does not exist yet. */
export const plannerCostsSql = () =>
  sql<{ randomPage: string; tuple: string; indexTuple: string; operator: string }>(
    `SELECT current_setting('random_page_cost') AS "randomPage", current_setting('cpu_tuple_cost') AS tuple,
       current_setting('cpu_index_tuple_cost') AS "indexTuple", current_setting('cpu_operator_cost') AS operator`,
  );

/**
 * Whether the view's statement returns what the pattern's returns now, for the same values: the
 * same sort keys in the same order, and the same rows in every group of equal keys, but for the
 * last group the LIMIT cuts, where either may return any of the tied rows (as two runs of the
 * original may): there each of the view's rows must be one of the original's unlimited result.
 */
export const sameRowsSql = (name: ViewName, params: BenchmarkParams) => {
  const v = VIEWS[name];
  const p = PATTERNS[v.pattern];
  return sql<{ same: boolean; originalRows: number; viaRows: number }>(
    `WITH o AS MATERIALIZED (${p.sql}),
v AS MATERIALIZED (${v.via.sql}),
cut AS (SELECT protocol, name FROM o ORDER BY protocol DESC, name DESC LIMIT 1),
keys AS (SELECT (SELECT array_agg(ROW(protocol, name)::text ORDER BY protocol, name) FROM o) AS o,
                (SELECT array_agg(ROW(protocol, name)::text ORDER BY protocol, name) FROM v) AS v),
whole AS (
  SELECT count(*) AS differing FROM (
    (SELECT o.* FROM o WHERE (o.protocol, o.name) NOT IN (SELECT protocol, name FROM cut)
     EXCEPT ALL SELECT v.* FROM v WHERE (v.protocol, v.name) NOT IN (SELECT protocol, name FROM cut))
    UNION ALL
    (SELECT v.* FROM v WHERE (v.protocol, v.name) NOT IN (SELECT protocol, name FROM cut)
     EXCEPT ALL SELECT o.* FROM o WHERE (o.protocol, o.name) NOT IN (SELECT protocol, name FROM cut))) d),
tied AS (
  SELECT count(*) AS missing FROM (
    SELECT v.* FROM v JOIN cut USING (protocol, name)
    EXCEPT ALL
    SELECT r.protocol, c.name, c.sensitivity_level, c.input_schema->>'type'
      FROM capabilities c JOIN resources r ON r.id = c.resource_id JOIN cut ON cut.protocol = r.protocol AND cut.name = c.name
     WHERE c.sensitivity_level <> $2) m)
SELECT keys.o IS NOT DISTINCT FROM keys.v AND whole.differing = 0 AND tied.missing = 0 AS same,
       (SELECT count(*)::int FROM o) AS "originalRows", (SELECT count(*)::int FROM v) AS "viaRows"
  FROM keys, whole, tied`,
    p.values(params),
  );
};
