import type { Database, Queryable } from '../adapters/db/types.js';
import { ProblemError } from '../lib/errors.js';
import { explainOutput, summarizePlan, type PlanSummary } from '../measure/plan.js';
import { distribution, type Distribution } from '../measure/stats.js';
import type { Report } from '../reports/schemas.js';
import { analyzedPlanSql, PATTERNS, serverTimingSql, type BenchmarkParams, type PatternName, type Query } from '../sql/benchmark.js';
import { existingTables } from '../sql/introspection.js';
import type { OperationContext, OperationOutcome } from './runner.js';

export interface BenchmarkInput {
  patterns: PatternName[];
  iterations: number;
  warmup: number;
  params: BenchmarkParams;
  statementTimeoutMs: number;
  baselineReportId?: string | undefined;
}

/** A p50 this much worse than the baseline's, by both measures, is a regression and not noise. */
export const REGRESSION = { ratio: 1.2, minMs: 1 } as const;

export interface PatternResult {
  pattern: string;
  description: string;
  sql: string;
  targetMs: number | null;
  /** The pattern did not run: a table it reads is missing. */
  skipped: boolean;
  reason?: string;
  /** It ran and failed (a statement timeout): the other patterns still ran. */
  error?: string;
  iterations: number;
  rows: number | null;
  // Round-trip figures, as a client sees them: what the runbook targets and pgbench measure.
  minMs: number | null;
  meanMs: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  stddevMs: number | null;
  withinTarget: boolean | null;
  usesIndex: boolean | null;
  indexes: string[];
  roundTripMs: Distribution | null;
  /** The server's Execution Time of each run (EXPLAIN ANALYZE, TIMING OFF). */
  serverMs: Distribution | null;
  plan: PlanSummary | null;
}

export interface Regression {
  pattern: string;
  baselineP50Ms: number;
  p50Ms: number;
  ratio: number;
  deltaMs: number;
}

/** The client went away: the benchmark stopped at once, and its report says so. */
export class CancelledError extends ProblemError {
  constructor() {
    super(499, 'cancelled', 'Cancelled', 'The client closed the request, so the benchmark stopped and its running query was cancelled.');
  }
}

const notRun = (pattern: string, p: Query, iterations: number, fields: { skipped: boolean; reason?: string; error?: string }): PatternResult => {
  return {
    pattern, description: p.description, sql: p.sql, targetMs: p.targetMs, ...fields, iterations, rows: null,
    minMs: null, meanMs: null, p50Ms: null, p95Ms: null, p99Ms: null, maxMs: null, stddevMs: null,
    withinTarget: null, usesIndex: null, indexes: [], roundTripMs: null, serverMs: null, plan: null,
  };
};

/**
 * While the transaction runs, an abort cancels its statement from another connection. The
 * cancel names the backend and the transaction's start, so it can never hit a later user of
 * the same pooled connection. PGlite has one connection and no cancel: it stops between runs.
 */
async function cancelOnAbort(db: Database, tx: Queryable, signal: AbortSignal | undefined): Promise<() => void> {
  if (!signal || db.driver === 'pglite') return () => undefined;
  const { pid, began } = (await tx.query<{ pid: number; began: string }>('SELECT pg_backend_pid() AS pid, now()::text AS began')).rows[0]!;
  const cancel = () =>
    void db.query('SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = $1 AND xact_start = $2::timestamptz', [pid, began]).catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });
  return () => signal.removeEventListener('abort', cancel);
}

export type MeasureOptions = Pick<BenchmarkInput, 'iterations' | 'warmup' | 'params' | 'statementTimeoutMs'>;

/** Times one statement: warm-up runs, timed runs with the server's time of each, then one analysed plan. */
export async function measureQuery(db: Database, name: string, pattern: Query, input: MeasureOptions, ctx: OperationContext, tick: () => void = () => undefined): Promise<PatternResult> {
  const values = pattern.values(input.params);
  const roundTrip: number[] = [];
  const server: number[] = [];
  let rows = 0;
  const measured = await db.transaction(
    async (tx) => {
      const release = await cancelOnAbort(db, tx, ctx.signal);
      try {
        // The timed runs back to back, as a client issues them; the server's own timing of each
        // (an EXPLAIN ANALYZE per run) comes after, so it never sits between two timed runs.
        for (let i = 0; i < input.warmup + input.iterations; i++) {
          if (ctx.signal?.aborted) throw new CancelledError();
          const started = performance.now();
          const result = await tx.query(pattern.sql, values);
          const elapsed = performance.now() - started;
          if (i >= input.warmup) {
            roundTrip.push(elapsed);
            rows = result.rows.length;
          }
          tick();
        }
        for (let i = 0; i < input.iterations; i++) {
          if (ctx.signal?.aborted) throw new CancelledError();
          const timing = explainOutput((await tx.query<{ 'QUERY PLAN': unknown }>(serverTimingSql(pattern.sql), values)).rows[0]!['QUERY PLAN']);
          server.push(timing['Execution Time'] ?? Number.NaN);
        }
        return explainOutput((await tx.query<{ 'QUERY PLAN': unknown }>(analyzedPlanSql(pattern.sql), values)).rows[0]!['QUERY PLAN']);
      } finally {
        release();
      }
    },
    { readOnly: true, statementTimeoutMs: input.statementTimeoutMs },
  ).catch((error: unknown) => {
    if (ctx.signal?.aborted) throw new CancelledError();
    if ((error as { code?: unknown }).code === '57014') return null; // its statement timeout
    throw error;
  });
  if (!measured) return notRun(name, pattern, input.iterations, { skipped: false, error: `a run exceeded the statement timeout of ${input.statementTimeoutMs} ms` });

  const plan = summarizePlan(measured);
  const rt = distribution(roundTrip);
  return {
    pattern: name,
    description: pattern.description,
    sql: pattern.sql,
    targetMs: pattern.targetMs,
    skipped: false,
    iterations: input.iterations,
    rows,
    minMs: rt.min,
    meanMs: rt.mean,
    p50Ms: rt.p50,
    p95Ms: rt.p95,
    p99Ms: rt.p99,
    maxMs: rt.max,
    stddevMs: rt.stddev,
    withinTarget: pattern.targetMs === null ? null : rt.p95 <= pattern.targetMs,
    usesIndex: plan.usesIndex,
    indexes: plan.indexes,
    roundTripMs: rt,
    serverMs: distribution(server),
    plan,
  };
}

/** Patterns whose p50 got worse than the baseline's beyond the noise. */
export function regressionsAgainst(results: readonly PatternResult[], baseline: Report): Regression[] {
  const before = new Map(((baseline.results ?? []) as PatternResult[]).filter((r) => typeof r.p50Ms === 'number').map((r) => [r.pattern, r.p50Ms!]));
  return results.flatMap((r) => {
    const base = before.get(r.pattern);
    if (base === undefined || r.p50Ms === null) return [];
    const deltaMs = r.p50Ms - base;
    const ratio = base > 0 ? r.p50Ms / base : Number.POSITIVE_INFINITY;
    if (ratio <= REGRESSION.ratio || deltaMs <= REGRESSION.minMs) return [];
    return [{ pattern: r.pattern, baselineP50Ms: base, p50Ms: r.p50Ms, ratio: Math.round(ratio * 100) / 100, deltaMs: Math.round(deltaMs * 1000) / 1000 }];
  });
}

/**
 * POST /benchmark: each pattern in its own read-only transaction with a statement timeout:
 * warm-up runs, timed runs (round trip, and the server's execution time of each), then one
 * analysed plan walked as a tree. A missing table skips its pattern; a timeout fails only its own.
 */
export async function benchmark(db: Database, input: BenchmarkInput, baseline: Report | null, ctx: OperationContext): Promise<OperationOutcome> {
  const present = await existingTables(db, [...new Set(input.patterns.flatMap((p) => PATTERNS[p].tables))]);
  ctx.started();
  const total = input.patterns.length * (input.warmup + input.iterations);
  let done = 0;
  const tick = () => ctx.progress({ done: ++done, total });

  const results: PatternResult[] = [];
  for (const name of input.patterns) {
    const missing = PATTERNS[name].tables.filter((t) => !present.has(t));
    if (missing.length > 0) {
      results.push(notRun(name, PATTERNS[name], input.iterations, { skipped: true, reason: `${missing.length > 1 ? 'tables' : 'table'} ${missing.join(', ')} missing` }));
      done += input.warmup + input.iterations;
    } else {
      results.push(await measureQuery(db, name, PATTERNS[name], input, ctx, tick));
    }
    ctx.checkpoint({ results });
  }

  const regressions = baseline ? regressionsAgainst(results, baseline) : [];
  const ran = results.filter((r) => r.p50Ms !== null);
  const targeted = ran.filter((r) => r.withinTarget !== null);
  const missed = targeted.filter((r) => !r.withinTarget).map((r) => r.pattern);
  const skipped = results.filter((r) => r.skipped).length;
  const failed = results.filter((r) => r.error).length;
  const parts = [
    `${ran.length} of ${results.length} patterns measured over ${input.iterations} runs each`,
    `${targeted.length - missed.length} of ${targeted.length} with a target met it at p95${missed.length ? ` (missed: ${missed.join(', ')})` : ''}`,
    ...(skipped ? [`${skipped} skipped`] : []),
    ...(failed ? [`${failed} failed`] : []),
    ...(baseline ? [regressions.length ? `${regressions.length} regressed against ${baseline.id}: ${regressions.map((r) => r.pattern).join(', ')}` : `no regression against ${baseline.id}`] : []),
  ];
  return {
    status: regressions.length > 0 ? 'regressed' : failed > 0 ? 'failed' : 'succeeded',
    summary: { message: `${parts.join('; ')}.`, measured: ran.length, skipped, failed, withinTarget: targeted.length - missed.length, missedTarget: missed, regressions: regressions.length },
    details: {
      iterations: input.iterations,
      warmup: input.warmup,
      params: input.params,
      results,
      baseline: baseline ? { reportId: baseline.id, createdAt: baseline.createdAt, threshold: REGRESSION } : null,
      regressions,
    },
  };
}
