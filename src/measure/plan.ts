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
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Total Cost'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
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
  buffers: { hit: number; read: number };
  worstMisestimate: Misestimate | null;
  planningMs: number | null;
  executionMs: number | null;
}

const INDEX_SCANS = new Set(['Index Scan', 'Index Only Scan', 'Bitmap Index Scan']);

/** EXPLAIN's JSON comes back as a one-element array, as parsed JSON or as text depending on the driver. */
export function explainOutput(value: unknown): ExplainOutput {
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  const first = Array.isArray(parsed) ? (parsed[0] as unknown) : parsed;
  if (!first || typeof first !== 'object' || !('Plan' in first)) throw new Error('not the output of EXPLAIN (FORMAT JSON)');
  return first as ExplainOutput;
}

export function summarizePlan(explain: ExplainOutput): PlanSummary {
  const scans: Scan[] = [];
  let worst: Misestimate | null = null;

  const visit = (node: PlanNode, underLimit: boolean) => {
    const type = node['Node Type'];
    if (type.endsWith('Scan') && (node['Relation Name'] || node['Index Name'])) {
      scans.push({ node: type, relation: node['Relation Name'] ?? null, index: node['Index Name'] ?? null });
    }
    const loops = node['Actual Loops'] ?? 0;
    if (loops > 0 && node['Plan Rows'] !== undefined && node['Actual Rows'] !== undefined) {
      const estimated = node['Plan Rows'];
      const actual = node['Actual Rows'];
      // Under a Limit a node stops once enough rows came up: producing fewer than estimated is then no misestimate.
      const stoppedEarly = underLimit && actual < estimated;
      const factor = Math.max(estimated, 1) / Math.max(actual, 1);
      const off = factor >= 1 ? factor : 1 / factor;
      if (!stoppedEarly && (!worst || off > worst.factor)) {
        worst = { node: type, relation: node['Relation Name'] ?? null, estimatedRows: estimated, actualRows: actual, factor: Math.round(off * 10) / 10 };
      }
    }
    for (const child of node.Plans ?? []) visit(child, underLimit || type === 'Limit');
  };
  visit(explain.Plan, false);

  const indexes = [...new Set(scans.filter((s) => s.index).map((s) => s.index!))];
  return {
    totalCost: explain.Plan['Total Cost'] ?? 0,
    scans,
    indexes,
    sequentialScans: [...new Set(scans.filter((s) => s.node === 'Seq Scan' && s.relation).map((s) => s.relation!))],
    usesIndex: scans.some((s) => INDEX_SCANS.has(s.node)),
    // The root's counts include every node below it.
    buffers: { hit: explain.Plan['Shared Hit Blocks'] ?? 0, read: explain.Plan['Shared Read Blocks'] ?? 0 },
    worstMisestimate: worst,
    planningMs: explain['Planning Time'] ?? null,
    executionMs: explain['Execution Time'] ?? null,
  };
}
