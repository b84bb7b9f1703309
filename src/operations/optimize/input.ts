import type { OptimizeAction } from '../../reports/optimization.js';
import type { CandidateName } from '../../sql/optimize.js';

export interface OptimizeInput {
  action: OptimizeAction;
  indexes?: CandidateName[] | undefined;
  iterations: number;
  warmup: number;
  lockTimeoutMs: number;
  buildTimeoutMs: number;
  verifyTargets: boolean;
}
