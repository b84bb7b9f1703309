import type { Measured, Verdict } from '../../reports/optimization.js';
import type { Measurement } from '../benchmark.js';

/**
 * Faster or slower only when the two sets of runs barely overlap: one p50 beyond the other's
 * p95 (the other's p5 when faster), by more than 20%. No fixed millisecond floor, so a
 * sub-millisecond query made ten times faster counts.
 */
export function verdict(before: Measurement, after: Measurement): Verdict {
  if (!before.roundTripMs || !after.roundTripMs) return 'not measured';
  const [b, a] = [before.roundTripMs, after.roundTripMs];
  if (a.p95 < b.p50 && b.p50 / Math.max(a.p50, 1e-6) > 1.2) return 'faster';
  if (a.p50 > b.p95 && a.p50 / Math.max(b.p50, 1e-6) > 1.2) return 'slower';
  return 'no measurable change';
}

/** A measurement as a report gives it: p50, p95, the indexes its plan used. */
export const figures = (r: Measurement): Measured => ({
  p50Ms: r.p50Ms,
  p95Ms: r.p95Ms,
  indexes: r.indexes,
  ...(r.error ? { error: r.error } : {}),
});
