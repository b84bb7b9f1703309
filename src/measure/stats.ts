/** Summary statistics of timed runs, in milliseconds. */
export interface Distribution {
  min: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  stddev: number;
}

/**
 * The q-quantile by linear interpolation between closest ranks (numpy's default, and what
 * pgbench users compute from its log), so p50 ≤ p95 ≤ p99 always holds.
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no samples');
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export function distribution(samples: readonly number[]): Distribution {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((s, x) => s + x, 0) / sorted.length;
  // Sample standard deviation (n - 1): the runs are a sample of the query's behaviour.
  const variance = sorted.length > 1 ? sorted.reduce((s, x) => s + (x - mean) ** 2, 0) / (sorted.length - 1) : 0;
  return {
    min: round3(sorted[0]!),
    mean: round3(mean),
    p50: round3(quantile(sorted, 0.5)),
    p95: round3(quantile(sorted, 0.95)),
    p99: round3(quantile(sorted, 0.99)),
    max: round3(sorted.at(-1)!),
    stddev: round3(Math.sqrt(variance)),
  };
}
