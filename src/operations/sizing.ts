import type { BatchSizing } from '../reports/batches.js';

/** Where an adaptive batch size starts, what time a batch aims at, and the bounds it stays in. */
export interface SizingPolicy {
  first: number;
  targetMs: number;
  min: number;
  max: number;
}

/**
 * How many rows the next batch takes. A request that names a size gets it for every batch.
 * Otherwise the size starts at the policy's `first` and follows each batch's measured time
 * towards `targetMs`: long enough that a step's own cost (a Workflow records every step) is
 * small beside its work, short enough that a batch holds its locks briefly and a retried one
 * redoes little. It changes at most twofold per batch, so one slow batch (a checkpoint, a
 * neighbour's load) cannot swing it.
 */
export class BatchSizer {
  private size: number;
  private smallest: number;
  private largest: number;
  private readonly first: number;

  constructor(
    private readonly fixed: number | undefined,
    private readonly policy: SizingPolicy,
  ) {
    this.first = this.size = this.smallest = this.largest = fixed ?? policy.first;
  }

  /** The size of the next batch, counted as handed out. */
  take(): number {
    this.smallest = Math.min(this.smallest, this.size);
    this.largest = Math.max(this.largest, this.size);
    return this.size;
  }

  /** The size the next batch would get (for estimates), not counted. */
  get next(): number {
    return this.size;
  }

  /** A batch of `rows` rows took `ms`: the batches after it aim at the target. */
  observe(rows: number, ms: number): void {
    if (this.fixed !== undefined || rows <= 0 || ms <= 0) return;
    const aimed = (rows / ms) * this.policy.targetMs;
    const bounded = Math.min(2 * this.size, Math.max(this.size / 2, aimed));
    this.size = Math.round(Math.min(this.policy.max, Math.max(this.policy.min, bounded)));
  }

  get sizing(): BatchSizing {
    const adaptive = this.fixed === undefined;
    return {
      mode: adaptive ? 'adaptive' : 'fixed',
      targetMs: adaptive ? this.policy.targetMs : null,
      first: this.first,
      last: this.size,
      smallest: this.smallest,
      largest: this.largest,
    };
  }
}
