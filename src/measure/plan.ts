import type { Queryable } from '../adapters/db/types.js';
import { queryOne, type Sql } from '../sql/sql.js';

/**
 * Reading `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` as a tree, not as text: every scan and
 * every index anywhere in the plan (a bitmap heap scan's index sits in its child), buffers,
 * and the node whose row estimate is furthest from what it produced.
 */

/** One node of PostgreSQL's JSON plan; only the fields read here. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Plan Rows'?: number;
  'Plan Width'?: number;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Total Cost'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  'Sort Key'?: string[];
  'Parent Relationship'?: string;
  Filter?: string;
  Plans?: PlanNode[];
}

export interface ExplainOutput {
  Plan: PlanNode;
  'Planning Time'?: number;
  'Execution Time'?: number;
}

export interface Scan {
  node: string;
  relation: string | null;
  index: string | null;
  /** The planner's estimate of the rows it keeps, and whether a filter decides which. */
  estimatedRows: number;
  filtered: boolean;
}

export interface Misestimate {
  node: string;
  relation: string | null;
  estimatedRows: number;
  actualRows: number;
  /** How many times off, either way (≥ 1). */
  factor: number;
}

export interface PlanSummary {
  totalCost: number;
  scans: Scan[];
  indexes: string[];
  sequentialScans: string[];
  usesIndex: boolean;
  /** Sort nodes (Sort, Incremental Sort) and their keys: rows ordered after they were read. */
  sorts: { node: string; keys: string[] }[];
  buffers: { hit: number; read: number };
  worstMisestimate: Misestimate | null;
  planningMs: number | null;
  executionMs: number | null;
}

const INDEX_SCANS = new Set(['Index Scan', 'Index Only Scan', 'Bitmap Index Scan']);
const BLOCKING = new Set(['Sort', 'Hash', 'Aggregate', 'Materialize', 'SetOp', 'WindowAgg']);

/** Runs an EXPLAIN (FORMAT JSON) statement and returns its plan. */
export async function explain(db: Queryable, statement: Sql<{ 'QUERY PLAN': unknown }>): Promise<ExplainOutput> {
  return explainOutput((await queryOne(db, statement))['QUERY PLAN']);
}

/** EXPLAIN's JSON comes back as a one-element array, as parsed JSON or as text depending on the driver. */
export function explainOutput(value: unknown): ExplainOutput {
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  const first = Array.isArray(parsed) ? (parsed[0] as unknown) : parsed;
  if (!first || typeof first !== 'object' || !('Plan' in first))
    throw new Error('not the output of EXPLAIN (FORMAT JSON)');
  return first as ExplainOutput;
}

export function summarizePlan(explain: ExplainOutput): PlanSummary {
  const scans: Scan[] = [];
  const sorts: PlanSummary['sorts'] = [];
  let worst: Misestimate | null = null;

  const visit = (node: PlanNode, underLimit: boolean) => {
    const type = node['Node Type'];
    if (type.endsWith('Scan') && (node['Relation Name'] || node['Index Name'])) {
      scans.push({
        node: type,
        relation: node['Relation Name'] ?? null,
        index: node['Index Name'] ?? null,
        estimatedRows: node['Plan Rows'] ?? 0,
        filtered: node.Filter !== undefined,
      });
    }
    if (type.endsWith('Sort')) sorts.push({ node: type, keys: node['Sort Key'] ?? [] });
    const loops = node['Actual Loops'] ?? 0;
    if (loops > 0 && node['Plan Rows'] !== undefined && node['Actual Rows'] !== undefined) {
      const estimated = node['Plan Rows'];
      const actual = node['Actual Rows'];
      // Under a Limit a node stops once enough rows came up: producing fewer than estimated is then no misestimate.
      const stoppedEarly = underLimit && actual < estimated;
      const factor = Math.max(estimated, 1) / Math.max(actual, 1);
      const off = factor >= 1 ? factor : 1 / factor;
      if (!stoppedEarly && (!worst || off > worst.factor)) {
        worst = {
          node: type,
          relation: node['Relation Name'] ?? null,
          estimatedRows: estimated,
          actualRows: actual,
          factor: Math.round(off * 10) / 10,
        };
      }
    }
    // A node that reads all its input before its first row out (a sort, a hash) ends the Limit's reach.
    for (const child of node.Plans ?? []) visit(child, (underLimit || type === 'Limit') && !BLOCKING.has(type));
  };
  visit(explain.Plan, false);

  const indexes = [...new Set(scans.filter((s) => s.index).map((s) => s.index!))];
  return {
    totalCost: explain.Plan['Total Cost'] ?? 0,
    scans,
    indexes,
    sequentialScans: [...new Set(scans.filter((s) => s.node === 'Seq Scan' && s.relation).map((s) => s.relation!))],
    usesIndex: scans.some((s) => INDEX_SCANS.has(s.node)),
    sorts,
    // The root's counts include every node below it.
    buffers: { hit: explain.Plan['Shared Hit Blocks'] ?? 0, read: explain.Plan['Shared Read Blocks'] ?? 0 },
    worstMisestimate: worst,
    planningMs: explain['Planning Time'] ?? null,
    executionMs: explain['Execution Time'] ?? null,
  };
}

/** A table whose rows a plan reads through an index and then fetches, one by one, from the table itself. */
export interface HeapLookup {
  relation: string;
  index: string;
  node: 'Index Scan' | 'Bitmap Heap Scan';
  /** Rows fetched: counted by EXPLAIN ANALYZE, else the planner's (times the outer rows of a nested loop). */
  rows: number;
  /** Index lookups: the loops of a nested loop's inner side, else 1. */
  lookups: number;
  /** Pages touched (EXPLAIN ANALYZE with BUFFERS): from shared buffers, and read from outside them. */
  buffers: { hit: number; read: number } | null;
}

/**
 * Every Index Scan and Bitmap Heap Scan: rows found through an index and then fetched from the
 * table, which a covering index (one holding every column the query takes from that table)
 * would answer from the index alone, in an Index Only Scan.
 */
export function heapLookups(explain: ExplainOutput): HeapLookup[] {
  const found: HeapLookup[] = [];
  const visit = (node: PlanNode, outerRows: number) => {
    const type = node['Node Type'];
    const index =
      type === 'Index Scan'
        ? node['Index Name']
        : type === 'Bitmap Heap Scan'
          ? find(node, (n) => n['Node Type'] === 'Bitmap Index Scan')?.['Index Name']
          : undefined;
    if ((type === 'Index Scan' || type === 'Bitmap Heap Scan') && node['Relation Name'] && index) {
      const analyzed = node['Actual Loops'] !== undefined;
      const loops = analyzed ? node['Actual Loops']! : outerRows;
      found.push({
        relation: node['Relation Name'],
        index,
        node: type,
        rows: Math.round((analyzed ? node['Actual Rows']! : (node['Plan Rows'] ?? 0)) * loops),
        lookups: type === 'Index Scan' ? Math.round(loops) : 1,
        buffers:
          node['Shared Hit Blocks'] === undefined
            ? null
            : { hit: node['Shared Hit Blocks'], read: node['Shared Read Blocks'] ?? 0 },
      });
    }
    // A nested loop's inner side runs once per row of its outer side.
    const outer = type === 'Nested Loop' ? node.Plans?.find((c) => c['Parent Relationship'] === 'Outer') : undefined;
    for (const child of node.Plans ?? [])
      visit(
        child,
        child['Parent Relationship'] === 'Inner' && outer ? outerRows * (outer['Plan Rows'] ?? 1) : outerRows,
      );
  };
  visit(explain.Plan, 1);
  return found;
}

const JOINS = new Set(['Hash Join', 'Merge Join', 'Nested Loop']);
const aliasOf = (key: string) => /^\(?([a-z_][a-z0-9_]*)\./i.exec(key)?.[1] ?? null;

function find(node: PlanNode, match: (n: PlanNode) => boolean): PlanNode | undefined {
  if (match(node)) return node;
  for (const child of node.Plans ?? []) {
    const hit = find(child, match);
    if (hit) return hit;
  }
  return undefined;
}

/**
 * Why no index can make this plan cheap, when its shape says so; null when an index might.
 * An ORDER BY over columns of two joined tables needs every joined row before the first one
 * out; an aggregate over whole tables reads every row whatever the indexes.
 */
export function whyNoIndex(explain: ExplainOutput): { reason: string; remedy: string } | null {
  const sort = find(
    explain.Plan,
    (n) => n['Node Type'].endsWith('Sort') && new Set((n['Sort Key'] ?? []).map(aliasOf).filter(Boolean)).size > 1,
  );
  if (sort && find(sort, (n) => JOINS.has(n['Node Type']))) {
    return {
      reason: `The ORDER BY (${sort['Sort Key']!.join(', ')}) takes its keys from two joined tables, so no single index returns rows in that order: every matching row is joined, then sorted, before the first is returned.`,
      remedy:
        'A rewrite that reads one value of the leading key at a time in the order of the second (a LATERAL subquery with its own ORDER BY ... LIMIT per value), or a materialized view that keeps both columns in one table with an index on them.',
    };
  }
  const aggregate = find(explain.Plan, (n) => n['Node Type'] === 'Aggregate');
  if (
    aggregate &&
    !find(explain.Plan, (n) => n['Node Type'] === 'Limit') &&
    find(aggregate, (n) => n['Node Type'] === 'Seq Scan')
  ) {
    return {
      reason:
        'It aggregates over whole tables: every row is read whatever the indexes, so an index can only trade a sequential read for a slower random one.',
      remedy:
        'A materialized view of the aggregate refreshed on a schedule, or a summary table kept current by the writes.',
    };
  }
  return null;
}
