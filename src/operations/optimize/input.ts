import type { OptimizeAction } from '../../reports/optimization.js';
import type { CandidateName } from '../../sql/optimize.js';
import type { ViewName } from '../../sql/views.js';

export interface OptimizeInput {
  action: OptimizeAction;
  indexes?: CandidateName[] | undefined;
  views?: ViewName[] | undefined;
  iterations: number;
  warmup: number;
  lockTimeoutMs: number;
  buildTimeoutMs: number;
  verifyTargets: boolean;
}
