import type { Database } from '../../adapters/db/types.js';
import type { Choice, Priority, Recommendation, Selection, WorkloadReport } from '../../reports/optimization.js';
import { PATTERN_NAMES } from '../../sql/benchmark.js';
import { CANDIDATE_NAMES, CANDIDATES } from '../../sql/optimize.js';
import { VIEW_NAMES } from '../../sql/views.js';
import { WORKLOAD_LIMIT } from '../../sql/workload.js';
import { statementsTaking, type StepOptions } from '../runner.js';
import { inventory } from './inventory.js';
import { plan } from './plan.js';
import { STATEMENTS_PER_PLAN, statementLabel } from './workload.js';

/** What apply builds when it is not told which indexes: the plan's sure wins. */
const WORTH_BUILDING: readonly Priority[] = ['high', 'medium'];

export interface PlanChoice {
  selection: Selection;
  recommendations: Recommendation[];
  hypopg: { installed: boolean; available: boolean };
  workload: WorkloadReport;
}

const percent = (reduction: number) => `${(reduction * 100).toFixed(1)}%`;

/** Why a recommendation was or was not chosen, in its evaluation's own terms. */
function reasonOf(r: Recommendation): string {
  const { evaluation } = r;
  if (evaluation.method !== 'hypopg' && evaluation.method !== 'estimated')
    return evaluation.reason ?? `${r.name}: not evaluated.`;
  const used = [
    ...(evaluation.probes ?? []).filter((p) => p.usesIndex),
    ...(r.statements ?? []).map((s) => ({ ...s, query: statementLabel(s) })),
  ];
  const best = used.reduce<(typeof used)[number] | undefined>(
    (a, p) => (a && a.reduction >= p.reduction ? a : p),
    undefined,
  );
  if (!best) return 'The planner uses it for none of the queries it serves.';
  const bound = evaluation.method === 'estimated' ? 'at most ' : '';
  const saving = `${best.query}: planner cost ${best.costBefore.toFixed(1)} → ${bound}${best.costAfter.toFixed(1)} (${best.reduction >= 0 ? '−' : '+'}${percent(Math.abs(best.reduction))})`;
  if (!WORTH_BUILDING.includes(r.priority)) return `${saving}, under the 50% a medium priority needs.`;
  return best.reduction >= 0.5
    ? `${saving}.`
    : `${saving}: under 50%, but it serves a pattern over its runbook target.`;
}

const choiceOf = (r: Recommendation): Choice => ({ name: r.name, priority: r.priority, reason: reasonOf(r) });

/** The current plan (every candidate), and of it the high- and medium-priority recommendations apply builds. */
export async function chooseFromPlan(db: Database): Promise<PlanChoice> {
  const planned = await plan(db, await inventory(db));
  const worth = (r: Recommendation) => WORTH_BUILDING.includes(r.priority);
  return {
    selection: {
      from: 'plan',
      chosen: planned.recommendations.filter(worth).map(choiceOf),
      passedOver: planned.recommendations.filter((r) => !worth(r)).map(choiceOf),
    },
    recommendations: planned.recommendations,
    hypopg: planned.hypopg,
    workload: planned.workload,
  };
}

/**
 * The bound of planning: the inventory's statements, one plan per pattern, and per candidate
 * its hypothetical index and two plans of each query it serves; the workload's reads, and each
 * of its statements planned once as it is and once per candidate; each under the plan's timeout.
 */
export const PLANNING: StepOptions = statementsTaking(
  8 +
    PATTERN_NAMES.length +
    // per candidate: the reset, its hypothetical index and size, those it goes together with, the reset after; two plans per query
    CANDIDATE_NAMES.reduce(
      (n, name) =>
        n +
        4 +
        ('together' in CANDIDATES[name] ? (CANDIDATES[name] as { together: readonly string[] }).together.length : 0) +
        2 * CANDIDATES[name].serves.length,
      0,
    ) +
    5 * VIEW_NAMES.length + // its state, two plans, the planner's unit costs, the pattern's plan
    4 + // the workload's state, probe and read, and the leftover check
    WORKLOAD_LIMIT * STATEMENTS_PER_PLAN * (1 + CANDIDATE_NAMES.length),
  120_000,
);
