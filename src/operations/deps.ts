import type { Database } from '../adapters/db/types.js';
import type { ReportStore } from '../reports/store.js';

/** What every operation needs from the outside world, built by the runtime's entry point. */
export interface AppDeps {
  db: Database;
  store: ReportStore;
  /**
   * Keeps an operation going after the response (respond-async) or a client that went away;
   * the runtime decides how long it may run.
   */
  defer(task: Promise<unknown>): void;
  /** How often a running report is rewritten with its progress (default 1000 ms). */
  progressIntervalMs?: number;
  /** How often a running run tells the run ledger it is alive, and learns of a cancel (default 2000 ms). */
  heartbeatMs?: number;
  /** How long a changing run's lease outlives its last renewal (default LEASE_TTL_MS, 60 s). */
  leaseTtlMs?: number;
}
