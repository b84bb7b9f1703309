/**
 * What the configuration says of the database /preflight looks at, beyond what SQL can see: the
 * host it reaches (a pooler's is refused) and Neon's prices for the cost estimate.
 */

/** Neon's prices a cost estimate uses; each may be set by NEON_* configuration or the request. */
export interface NeonPricing {
  /** Compute size the migration runs on, in compute units (1 CU: 1 vCPU, 4 GB RAM). */
  computeCu: number;
  /** USD per CU-hour. */
  cuHourUsd: number;
  /** USD per GB-month of storage. */
  storageGbMonthUsd: number;
}

/**
 * Defaults: Neon's published pricing (https://neon.com/pricing) as of 2025-08-14, the Launch plan:
 * $0.14 per CU-hour, $0.35 per GB-month; 1 CU, as a migration keeps its compute busy. Defaults
 * only: set NEON_COMPUTE_CU, NEON_CU_HOUR_USD, NEON_STORAGE_GB_MONTH_USD or the request's `neon`.
 */
export const NEON_PRICING_DEFAULTS: NeonPricing = { computeCu: 1, cuHourUsd: 0.14, storageGbMonthUsd: 0.35 };
export const NEON_PRICES_AS_OF = '2025-08-14';

export interface DatabaseTarget {
  /** The host DATABASE_URL names; null: the embedded database. */
  host: string | null;
  /** The database is Neon's (its host, or the Neon driver). */
  neon: boolean;
  /** Prices from configuration (NEON_*), over the defaults. */
  neonPricing: Partial<NeonPricing>;
}

/** Neon's pooler host (`…-pooler.…`): PgBouncer in transaction mode, where a session-level lock does not hold. */
export const isPoolerHost = (hostname: string) => hostname.toLowerCase().includes('-pooler.');
