import type { Priority, ProbeEvaluation } from '../../reports/optimization.js';

/**
 * high / medium / low by the planner's best saving on a query that uses the index (a pattern, a
 * probe, or a workload statement); none when it saves nothing. A low one becomes medium when a
 * query it serves is over its runbook target (`overTarget`, measured): the planner prices pages,
 * not whether they stay in shared buffers, so a saving it rates small can be what brings that
 * query within its target, and apply measures whether it did.
 */
export function priorityOf(
  probes: readonly (Pick<ProbeEvaluation, 'reduction' | 'usesIndex'> & { query?: string })[],
  overTarget: ReadonlySet<string> = new Set(),
): Priority {
  const used = probes.filter((p) => p.usesIndex);
  const best = Math.max(0, ...used.map((p) => p.reduction));
  const priority = best >= 0.9 ? 'high' : best >= 0.5 ? 'medium' : best >= 0.1 ? 'low' : 'none';
  const late = used.some((p) => p.reduction >= 0.1 && p.query !== undefined && overTarget.has(p.query));
  return priority === 'low' && late ? 'medium' : priority;
}

/** The order recommendations are listed in. */
export const PRIORITY_ORDER: Priority[] = ['high', 'medium', 'low', 'unknown', 'none'];
