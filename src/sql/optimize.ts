/**
 * SQL of /optimize: the index inventory of the v2 tables, and the fixed catalogue of indexes
 * it may propose and build. Table names are bound values where they are data, and come from
 * the catalogue where they are identifiers; index names and definitions only from the catalogue.
 */
import type { Query } from './benchmark.js';
import type { V2Table } from './catalog.js';
import { sql } from './sql.js';

/** A bigint column: a number from some drivers, text from others. */
type Numeric = string | number;

export type IndexRow = {
  table: string;
  name: string;
  method: string;
  unique: boolean;
  primary: boolean;
  valid: boolean;
  constraint: string | null;
  definition: string;
  keys: string[];
  predicate: string;
  sizeBytes: Numeric;
  scans: Numeric;
  duplicateOf: string | null;
};

/** Every index on the named tables, with what the flags need. */
export const indexInventorySql = (tables: readonly string[]) => sql<IndexRow>(INDEX_INVENTORY, [tables]);
const INDEX_INVENTORY = `
WITH t AS (SELECT n AS name, to_regclass(n) AS oid FROM unnest($1::text[]) n WHERE to_regclass(n) IS NOT NULL),
ix AS (
  SELECT t.name AS "table", c.relname AS name, am.amname AS method, i.indisunique AS "unique", i.indisprimary AS "primary",
         i.indisvalid AS valid, con.conname AS "constraint", pg_get_indexdef(i.indexrelid) AS definition,
         -- Key columns as written (expressions included), with DESC and NULLS FIRST where stored so: for the report.
         ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
                      || CASE WHEN (string_to_array(i.indoption::text, ' ')::int[])[k] & 1 = 1 THEN ' DESC' ELSE '' END
                 FROM generate_series(1, i.indnkeyatts) k) AS keys,
         -- The same keys with their operator class, collation and options: what makes two keys equal.
         ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) || '|' || (string_to_array(i.indclass::text, ' '))[k]
                      || '|' || (string_to_array(i.indcollation::text, ' '))[k] || '|' || (string_to_array(i.indoption::text, ' '))[k]
                 FROM generate_series(1, i.indnkeyatts) k) AS key_identity,
         -- Every column it holds, INCLUDE ones too: an index-only scan needs them all.
         ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnatts) k) AS holds,
         coalesce(pg_get_expr(i.indpred, i.indrelid, true), '') AS predicate,
         pg_relation_size(i.indexrelid)::bigint AS "sizeBytes",
         coalesce(s.idx_scan, 0)::bigint AS scans
    FROM t JOIN pg_index i ON i.indrelid = t.oid
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_am am ON am.oid = c.relam
    LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
    LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid)
SELECT a."table", a.name, a.method, a."unique", a."primary", a.valid, a."constraint", a.definition, a.keys, a.predicate, a."sizeBytes", a.scans,
       -- A duplicate: its keys (with operator class, collation and order) lead another valid
       -- index on the same table with the same method and predicate, which also holds every
       -- column it holds. Of two identical ones, the one whose name sorts later is flagged.
       (SELECT b.name FROM ix b
         WHERE b."table" = a."table" AND b.name <> a.name AND b.method = a.method AND b.predicate = a.predicate AND b.valid
           AND cardinality(a.key_identity) <= cardinality(b.key_identity) AND b.key_identity[1:cardinality(a.key_identity)] = a.key_identity
           AND a.holds <@ b.holds
           AND (cardinality(a.key_identity) < cardinality(b.key_identity) OR cardinality(a.holds) < cardinality(b.holds) OR b.name < a.name)
         ORDER BY cardinality(b.key_identity) DESC, b.name LIMIT 1) AS "duplicateOf"
  FROM ix a
 ORDER BY a."table", a.name`;

export type TableStatsRow = {
  table: string;
  totalBytes: Numeric;
  tableBytes: Numeric;
  indexBytes: Numeric;
  liveRows: Numeric;
  seqScans: Numeric;
  indexScans: Numeric;
  writes: Numeric;
  lastAnalyzed: Date | string | null;
  estimatedRows: Numeric;
};

/** Size, rows, scans, writes and last analyze of each named table. */
export const tableStatsSql = (tables: readonly string[]) => sql<TableStatsRow>(TABLE_STATS, [tables]);
const TABLE_STATS = `
SELECT t.n AS "table", pg_total_relation_size(t.oid)::bigint AS "totalBytes", pg_relation_size(t.oid)::bigint AS "tableBytes",
       pg_indexes_size(t.oid)::bigint AS "indexBytes", coalesce(s.n_live_tup, 0)::bigint AS "liveRows",
       coalesce(s.seq_scan, 0)::bigint AS "seqScans", coalesce(s.idx_scan, 0)::bigint AS "indexScans",
       coalesce(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0)::bigint AS writes,
       greatest(s.last_analyze, s.last_autoanalyze) AS "lastAnalyzed",
       greatest(c.reltuples, 0)::bigint AS "estimatedRows"
  FROM (SELECT n, to_regclass(n) AS oid FROM unnest($1::text[]) n) t
  LEFT JOIN pg_class c ON c.oid = t.oid
  LEFT JOIN pg_stat_user_tables s ON s.relid = t.oid
 WHERE t.oid IS NOT NULL
 ORDER BY t.n`;

/** Foreign keys on the named tables whose columns (in any order) lead no valid, whole-table index. */
export const unindexedForeignKeysSql = (tables: readonly string[]) =>
  sql<{ table: string; constraint: string; references: string; columns: string[] }>(UNINDEXED_FOREIGN_KEYS, [tables]);
const UNINDEXED_FOREIGN_KEYS = `
SELECT con.conrelid::regclass::text AS "table", con.conname AS "constraint", con.confrelid::regclass::text AS "references",
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
  FROM pg_constraint con
 WHERE con.contype = 'f' AND con.conrelid IN (SELECT to_regclass(n) FROM unnest($1::text[]) n)
   AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = con.conrelid AND i.indisvalid AND i.indpred IS NULL
                     AND ARRAY(SELECT k FROM unnest((string_to_array(i.indkey::text, ' ')::int2[])[1:cardinality(con.conkey)]) k ORDER BY k)
                       = ARRAY(SELECT k FROM unnest(con.conkey) k ORDER BY k))
 ORDER BY 1, 2`;

export const statsSinceSql = () =>
  sql<{ statsSince: Date | string | null }>(
    `SELECT stats_reset AS "statsSince" FROM pg_stat_database WHERE datname = current_database()`,
  );

/** HypoPG: installed here (usable), only available (an administrator can install it), or absent. */
export const hypopgSql = () =>
  sql<{
    installed: boolean;
    available: boolean;
  }>(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg') AS installed,
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg') AS available`);

/**
 * HypoPG's hypothetical indexes live in the backend, outside transactions: cleared before a
 * plan uses them, and after.
 */
export const resetHypotheticalSql = () => sql(`SELECT hypopg_reset()`);

/** A candidate as a hypothetical index (HypoPG), answering its oid. */
export const hypotheticalIndexSql = (name: CandidateName) =>
  sql<{ indexrelid: number }>('SELECT indexrelid FROM hypopg_create_index($1)', [
    indexDefinition(name, { concurrently: false }),
  ]);

/** The size a hypothetical index would have. */
export const hypotheticalSizeSql = (indexrelid: number) =>
  sql<{ size: string }>('SELECT hypopg_relation_size($1::oid)::bigint AS size', [indexrelid]);

/** Queries that are not benchmark patterns but are what an index of the seed's is for. */
export const PROBES = {
  active_resources_by_protocol: {
    description: 'Active resources of one protocol, by name',
    targetMs: null,
    tables: ['resources'],
    sql: `SELECT id, name FROM resources WHERE protocol = $1 AND metadata->>'status' = 'active' ORDER BY name LIMIT 100`,
    values: () => ['mcp'],
  },
  capabilities_by_input_type: {
    description: "Capabilities whose input schema has a given 'type'",
    targetMs: null,
    tables: ['capabilities'],
    sql: `SELECT id, name FROM capabilities WHERE input_schema->>'type' = $1 LIMIT 100`,
    values: () => ['array'],
  },
  principal_recent_costs: {
    description: "A principal's latest cost rows",
    targetMs: null,
    tables: ['cost_tracking'],
    sql: `SELECT id, "timestamp", capability_id, actual_cost FROM cost_tracking WHERE principal_id = $1 ORDER BY "timestamp" DESC LIMIT 100`,
    values: () => ['principal-1'],
  },
} as const satisfies Record<string, Query>;

export interface Candidate {
  table: V2Table;
  method: 'btree' | 'gin';
  /** The index definition after its name: `ON table (...) ...`. */
  on: string;
  /** `seed`: one of SARK's four; `plan`: proposed where a pattern's plan shows the need. */
  origin: 'seed' | 'plan';
  purpose: string;
  /** Benchmark patterns and probes it is for. */
  serves: readonly string[];
  /**
   * A covering index: its evidence is a nested loop that looks its table's rows up one at a
   * time and fetches each from the heap, which it would answer from the index alone.
   */
  covering?: true;
  /** Candidates that serve the same statement with it, so it is evaluated with them present too. */
  together?: readonly string[];
}

export const CANDIDATES = {
  ix_resources_protocol_active: {
    table: 'resources',
    method: 'btree',
    origin: 'seed',
    on: `ON resources (protocol, name) WHERE metadata->>'status' = 'active'`,
    purpose: 'Partial index for active resources by protocol',
    serves: ['active_resources_by_protocol'],
  },
  ix_capabilities_resource_name_sensitivity: {
    table: 'capabilities',
    method: 'btree',
    origin: 'seed',
    on: 'ON capabilities (resource_id, name, sensitivity_level) INCLUDE (description)',
    purpose: 'Covering index for capability lookups by resource',
    serves: ['list_capabilities_with_resources'],
  },
  ix_capabilities_input_schema_type: {
    table: 'capabilities',
    method: 'btree',
    origin: 'seed',
    on: `ON capabilities ((input_schema->>'type'))`,
    purpose: "Expression index for filtering on input_schema->>'type'",
    serves: ['capabilities_by_input_type'],
  },
  ix_cost_tracking_principal_timestamp: {
    table: 'cost_tracking',
    method: 'btree',
    origin: 'seed',
    on: 'ON cost_tracking (principal_id, "timestamp" DESC, capability_id)',
    purpose: 'Composite index for cost queries by principal and time',
    serves: ['principal_recent_costs'],
  },
  ix_capabilities_sensitivity_name: {
    table: 'capabilities',
    method: 'btree',
    origin: 'plan',
    on: 'ON capabilities (sensitivity_level DESC, name)',
    purpose:
      'Returns capabilities in (sensitivity_level DESC, name) order, so LIMIT stops early instead of sorting every match',
    serves: ['high_sensitivity_capabilities'],
  },
  ix_capabilities_input_schema_gin: {
    table: 'capabilities',
    method: 'gin',
    origin: 'plan',
    on: 'ON capabilities USING gin (input_schema)',
    purpose: 'Finds capabilities by a key of input_schema (`?`) without reading the table',
    serves: ['search_capabilities_by_input_schema'],
  },
  ix_capabilities_id_resource: {
    table: 'capabilities',
    method: 'btree',
    origin: 'plan',
    on: 'ON capabilities (id) INCLUDE (resource_id)',
    purpose:
      "Answers a join's lookups of capabilities by id, for their resource_id, from the index alone (an index-only scan) instead of one heap page of the table per row",
    serves: ['resource_cost_analysis'],
    covering: true,
    together: ['ix_resources_id_name_protocol', 'ix_cost_tracking_timestamp_covering'],
  },
  ix_resources_id_name_protocol: {
    table: 'resources',
    method: 'btree',
    origin: 'plan',
    on: 'ON resources (id) INCLUDE (name, protocol)',
    purpose:
      "Answers a join's lookups of resources by id, for their name and protocol, from the index alone (an index-only scan) instead of one heap page of the table per row",
    serves: ['resource_cost_analysis'],
    covering: true,
    together: ['ix_capabilities_id_resource', 'ix_cost_tracking_timestamp_covering'],
  },
  ix_cost_tracking_timestamp_covering: {
    table: 'cost_tracking',
    method: 'btree',
    origin: 'plan',
    on: 'ON cost_tracking ("timestamp") INCLUDE (capability_id, actual_cost, id)',
    purpose:
      'Reads the cost rows of a time window, with the capability and cost the join and the sums need, from the index alone (an index-only scan) instead of from the table',
    serves: ['resource_cost_analysis'],
    covering: true,
    together: ['ix_capabilities_id_resource', 'ix_resources_id_name_protocol'],
  },
} as const satisfies Record<string, Candidate>;
export type CandidateName = keyof typeof CANDIDATES;
export const CANDIDATE_NAMES = Object.keys(CANDIDATES) as [CandidateName, ...CandidateName[]];

/** A candidate's CREATE INDEX, as reports show it and HypoPG takes it. */
export const indexDefinition = (name: CandidateName, { concurrently }: { concurrently: boolean }) =>
  `CREATE INDEX ${concurrently ? 'CONCURRENTLY ' : ''}IF NOT EXISTS ${name} ${CANDIDATES[name].on}`;
/** A candidate's DROP INDEX, as a report tells an operator to run it. */
export const dropDefinition = (name: CandidateName) => `DROP INDEX CONCURRENTLY IF EXISTS ${name}`;

export const createIndexSql = (name: CandidateName) => sql(indexDefinition(name, { concurrently: true }));
export const dropIndexSql = (name: CandidateName) => sql(dropDefinition(name));

/** Catalogue indexes left INVALID (by an interrupted build). */
export const invalidCandidatesSql = () =>
  sql<{ name: CandidateName }>(
    `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
  WHERE NOT i.indisvalid AND c.relname = ANY($1::text[]) ORDER BY 1`,
    [CANDIDATE_NAMES],
  );

/** The index's state, if it exists. */
export const indexStateSql = (name: CandidateName) =>
  sql<{ valid: boolean }>(`SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass($1)`, [name]);

/** The session's lock and statement timeouts now. */
export const sessionTimeoutsSql = () =>
  sql<{ lock: string; statement: string }>(
    `SELECT current_setting('lock_timeout') AS lock, current_setting('statement_timeout') AS statement`,
  );

/** Sets the session's lock and statement timeouts (values as PostgreSQL writes them: '5000ms', '0'). */
export const setSessionTimeoutsSql = ({ lock, statement }: { lock: string; statement: string }) =>
  sql(`SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', $2, false)`, [lock, statement]);
