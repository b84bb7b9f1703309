import type { CandidateName } from '../../sql/optimize.js';

export const OPTIMIZE_ACTIONS = ['analyze', 'plan', 'apply'] as const;
export type OptimizeAction = (typeof OPTIMIZE_ACTIONS)[number];

export interface OptimizeInput {
  action: OptimizeAction;
  indexes?: CandidateName[] | undefined;
  iterations: number;
  warmup: number;
  lockTimeoutMs: number;
  buildTimeoutMs: number;
  verifyTargets: boolean;
}
