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

/** A median with a distribution-free confidence interval: the order statistics the binomial law puts around it. */
export interface MedianInterval {
  median: number;
  low: number;
  high: number;
  /** Samples behind it. */
  n: number;
}

/**
 * The median of samples and its 95% interval, assuming nothing of their distribution: with n
 * samples the true median lies between the k-th smallest and the k-th largest, k the largest
 * rank with P(Binomial(n, ½) < k) ≤ 2.5%. Paired comparisons on a noisy machine quote this.
 */
export function medianInterval(samples: readonly number[], confidence = 0.95): MedianInterval {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) throw new RangeError('median of no samples');
  const tail = (1 - confidence) / 2;
  // P(Binomial(n, ½) ≤ i), in log space so that large n does not underflow 0.5^n.
  let logPmf = n * Math.log(0.5);
  let below = 0; // P(X < k) for the current k
  let k = 0;
  for (let i = 0; i < n; i++) {
    const next = below + Math.exp(logPmf);
    if (next > tail) break;
    below = next;
    k = i + 1;
    logPmf += Math.log((n - i) / (i + 1));
  }
  // With too few samples no interval reaches the confidence: it is then the whole range.
  const rank = Math.max(k, 1);
  return { median: quantile(sorted, 0.5), low: sorted[rank - 1]!, high: sorted[n - rank]!, n };
}
