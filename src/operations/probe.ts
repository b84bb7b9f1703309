import type { DriverName } from '../adapters/db/types.js';

/** What the deep health check finds (operations/health.ts). */
export interface HealthReport {
  status: 'ok' | 'unavailable';
  database: { reachable: boolean; driver: DriverName; serverVersion: string | null; latencyMs: number | null };
  schemas: {
    v1: boolean;
    v2: boolean;
    tables: Record<string, boolean>;
    /** The service's own schema: current, or the migrations it still lacks. */
    service: { name: string; current: boolean; pending: string[] };
  };
  storage: { ok: boolean };
  /** When the probe behind this answer ran (it is shared for a few seconds). */
  checkedAt: string;
}

/**
 * One probe at a time, its answer shared for `ttlMs`: requests that arrive while it runs wait
 * for it, and those within the next `ttlMs` get its answer, so a flood costs one probe.
 */
export class ProbeCache<T> {
  private last: { at: number; answer: Promise<T> } | undefined;

  constructor(readonly ttlMs: number) {}

  get(probe: () => Promise<T>, now = Date.now()): Promise<T> {
    if (this.last && now - this.last.at < this.ttlMs) return this.last.answer;
    const answer = probe();
    this.last = { at: now, answer };
    // A probe that threw (a bug, not an outage) is not kept: the next request tries again.
    answer.catch(() => {
      if (this.last?.answer === answer) this.last = undefined;
    });
    return answer;
  }
}

/** How long a deep health answer is shared. */
export const HEALTH_PROBE_TTL_MS = 5_000;
