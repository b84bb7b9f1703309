import type { Priority, ProbeEvaluation } from '../../reports/optimization.js';

/**
 * high / medium / low by the planner's best saving on a query that uses the index (a pattern, a
 * probe, or a workload statement); none when it saves nothing.
 */
export function priorityOf(probes: readonly Pick<ProbeEvaluation, 'reduction' | 'usesIndex'>[]): Priority {
  const best = Math.max(0, ...probes.filter((p) => p.usesIndex).map((p) => p.reduction));
  return best >= 0.9 ? 'high' : best >= 0.5 ? 'medium' : best >= 0.1 ? 'low' : 'none';
}

/** The order recommendations are listed in. */
export const PRIORITY_ORDER: Priority[] = ['high', 'medium', 'low', 'unknown', 'none'];
