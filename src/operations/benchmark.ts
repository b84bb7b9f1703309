import type { Database, Queryable } from '../adapters/db/types.js';
import { isServiceError, ServiceError } from '../errors.js';
import { explain, summarizePlan } from '../measure/plan.js';
import { distribution } from '../measure/stats.js';
import type { BenchmarkReport, Incomparable, PatternResult, Regression } from '../reports/benchmark.js';
import type { Outcome, Report } from '../reports/schemas.js';
import {
  analyzedPlanSql,
  backendSql,
  cancelBackendSql,
  BENCHMARK_DEFAULTS,
  PATTERNS,
  serverTimingSql,
  type BenchmarkParams,
  type PatternName,
  type Query,
} from '../sql/benchmark.js';
import { existingTables } from '../sql/introspection.js';
import { execute, queryOne, queryRows } from '../sql/sql.js';
import { sameRowsSql, viewFor, viewStateSql, VIEWS } from '../sql/views.js';
import { statementsTaking, type OperationContext } from './runner.js';
import { count } from './text.js';

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

/** One statement measured: a benchmark pattern, or a query an index of /optimize serves. */
export type Measurement<N extends string = string> = Omit<PatternResult, 'pattern'> & { pattern: N };

/**
 * The client went away: the benchmark stopped at once, and its report says so. A cancel may
 * still be on its way to the connection's backend: the adapters never lend a connection again
 * after a `cancelled` failure.
 */
const cancelled = () =>
  new ServiceError(
    'cancelled',
    'The client closed the request, so the benchmark stopped (cancelling its running query where the driver has a second connection to do it from).',
  );

const notRun = <N extends string>(
  pattern: N,
  p: Query,
  iterations: number,
  fields: { skipped: boolean; reason?: string; error?: string },
): Measurement<N> => {
  return {
    pattern,
    description: p.description,
    sql: p.sql,
    targetMs: p.targetMs,
    ...fields,
    iterations,
    rows: null,
    minMs: null,
    meanMs: null,
    p50Ms: null,
    p95Ms: null,
    p99Ms: null,
    maxMs: null,
    stddevMs: null,
    withinTarget: null,
    usesIndex: null,
    indexes: [],
    roundTripMs: null,
    serverMs: null,
    plan: null,
  };
};

/**
 * While the transaction runs, an abort cancels its statement from another connection, naming
 * the backend and the transaction's start (as exact epoch seconds, whatever the session's
 * DateStyle). The transaction then ends with a `cancelled` error, whose connection the pool
 * destroys, so a cancel still in flight never reaches a later borrower. PGlite has one
 * connection and no cancel: it stops between runs.
 */
async function cancelOnAbort(db: Database, tx: Queryable, signal: AbortSignal | undefined): Promise<() => void> {
  if (!signal || db.driver === 'pglite') return () => undefined;
  const backend = await queryOne(tx, backendSql());
  const cancel = () => void execute(db, cancelBackendSql(backend)).catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });
  return () => signal.removeEventListener('abort', cancel);
}

export type MeasureOptions = Pick<BenchmarkInput, 'iterations' | 'warmup' | 'params' | 'statementTimeoutMs'>;

/** Runs of one statement, to size progress: warm-up and timed runs, server timings, the analysed plan. */
export const runsOf = (input: Pick<MeasureOptions, 'warmup' | 'iterations'>) => input.warmup + 2 * input.iterations + 1;

/**
 * What one request may ask of production: statements in all (runsOf × patterns), and how long
 * each may run. A `run` token holder measures; it does not load the database for hours.
 */
export const BENCHMARK_LIMITS = { statements: 5_000, statementTimeoutMs: 60_000 } as const;

/** Times one statement: warm-up runs, timed runs, the server's timing of as many runs, then one analysed plan. */
export async function measureQuery<N extends string>(
  db: Database,
  name: N,
  pattern: Query,
  input: MeasureOptions,
  ctx: Pick<OperationContext, 'signal'>,
  tick: () => void = () => undefined,
): Promise<Measurement<N>> {
  const values = pattern.values(input.params);
  const roundTrip: number[] = [];
  const server: number[] = [];
  let rows = 0;
  const measured = await db
    .transaction(
      async (tx) => {
        const release = await cancelOnAbort(db, tx, ctx.signal);
        try {
          // The timed runs back to back, as a client issues them; the server's own timing of each
          // (an EXPLAIN ANALYZE per run) comes after, so it never sits between two timed runs.
          if (!tx.timed) throw new Error(`the ${db.driver} adapter cannot time statements`);
          const timed = tx.timed.bind(tx);
          for (let i = 0; i < input.warmup + input.iterations; i++) {
            if (ctx.signal?.aborted) throw cancelled();
            const run = await timed(pattern.sql, values);
            if (i >= input.warmup) {
              roundTrip.push(run.ms);
              rows = run.rows;
            }
            tick();
          }
          for (let i = 0; i < input.iterations; i++) {
            if (ctx.signal?.aborted) throw cancelled();
            const executionMs = (await explain(tx, serverTimingSql(pattern, input.params)))['Execution Time'];
            if (executionMs !== undefined) server.push(executionMs);
            tick();
          }
          const analysed = await explain(tx, analyzedPlanSql(pattern, input.params));
          tick();
          if (ctx.signal?.aborted) throw cancelled(); // aborted after the last statement: still discard the connection
          return analysed;
        } finally {
          release();
        }
      },
      { readOnly: true, statementTimeoutMs: input.statementTimeoutMs },
    )
    .catch((error: unknown) => {
      if (ctx.signal?.aborted) throw cancelled();
      if (isServiceError(error, 'statement-timeout')) return null; // its own statement timeout
      throw error;
    });
  if (!measured)
    return notRun(name, pattern, input.iterations, {
      skipped: false,
      error: `a run exceeded the statement timeout of ${input.statementTimeoutMs} ms`,
    });

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
    serverMs: server.length > 0 ? distribution(server) : null,
    plan,
  };
}

/** The pattern's own figures, kept beside a measurement through a view. */
const originalOf = (m: Measurement): NonNullable<PatternResult['original']> => ({
  sql: m.sql,
  rows: m.rows,
  p50Ms: m.p50Ms,
  p95Ms: m.p95Ms,
  p99Ms: m.p99Ms,
  withinTarget: m.withinTarget,
  indexes: m.indexes,
  ...(m.error ? { error: m.error } : {}),
});

/**
 * A pattern as the application would run it: through the materialized view /optimize built for
 * it, when one exists and returns the same rows as the pattern now (a stale view is not timed
 * through, and the report says why), with the pattern's own statement timed beside it.
 */
export async function measurePattern(
  db: Database,
  name: PatternName,
  input: MeasureOptions,
  ctx: Pick<OperationContext, 'signal'>,
  tick: () => void = () => undefined,
): Promise<Measurement<PatternName>> {
  const view = viewFor(name);
  const [state] = view ? await queryRows(db, viewStateSql(view)) : [];
  const original = await measureQuery(db, name, PATTERNS[name], input, ctx, view && state ? undefined : tick);
  if (!view || !state) return original;
  if (!state.populated)
    return { ...original, viaSkipped: { view, reason: `${view} exists but holds no data (never refreshed).` } };
  const check = await db.transaction((tx) => queryOne(tx, sameRowsSql(view, input.params)), {
    readOnly: true,
    statementTimeoutMs: input.statementTimeoutMs,
  });
  if (!check.same)
    return {
      ...original,
      viaSkipped: {
        view,
        reason: `${view} returned other rows than the pattern (stale since its last refresh): run REFRESH MATERIALIZED VIEW CONCURRENTLY ${view}, or POST /optimize apply with views: ["${view}"].`,
      },
    };
  const through = await measureQuery(db, name, VIEWS[view].via, input, ctx, tick);
  return { ...through, via: view, original: originalOf(original) };
}

/**
 * Patterns whose p50 got worse than the baseline's beyond the noise; a pattern measured there
 * with other SQL or other values is not compared at all.
 */
export function compareWithBaseline(
  results: readonly PatternResult[],
  params: BenchmarkParams,
  baseline: Report,
): { regressions: Regression[]; incomparable: Incomparable[] } {
  const before = new Map(((baseline.results ?? []) as PatternResult[]).map((r) => [r.pattern, r]));
  const baseParams = { ...BENCHMARK_DEFAULTS, ...(baseline.params as Partial<BenchmarkParams> | undefined) };
  const regressions: Regression[] = [];
  const incomparable: Incomparable[] = [];
  for (const r of results) {
    const base = before.get(r.pattern);
    if (!base || base.p50Ms === null || r.p50Ms === null) continue;
    const query = PATTERNS[r.pattern as PatternName];
    if (base.sql !== r.sql) {
      incomparable.push({ pattern: r.pattern, reason: 'the baseline ran other SQL for it' });
      continue;
    }
    if (query && JSON.stringify(query.values(baseParams)) !== JSON.stringify(query.values(params))) {
      incomparable.push({ pattern: r.pattern, reason: 'the baseline bound other parameter values' });
      continue;
    }
    const deltaMs = r.p50Ms - base.p50Ms;
    const ratio = base.p50Ms > 0 ? r.p50Ms / base.p50Ms : Number.POSITIVE_INFINITY;
    if (ratio <= REGRESSION.ratio || deltaMs <= REGRESSION.minMs) continue;
    regressions.push({
      pattern: r.pattern,
      baselineP50Ms: base.p50Ms,
      p50Ms: r.p50Ms,
      ratio: Math.round(ratio * 100) / 100,
      deltaMs: Math.round(deltaMs * 1000) / 1000,
    });
  }
  return { regressions, incomparable };
}

/**
 * POST /benchmark: each pattern a step, in its own read-only transaction with a statement timeout:
 * warm-up runs, timed runs (round trip, and the server's execution time of each), then one
 * analysed plan walked as a tree. A missing table skips its pattern; a timeout fails only its own.
 */
export async function benchmark(
  db: Database,
  input: BenchmarkInput,
  baseline: Report | null,
  ctx: OperationContext<BenchmarkReport>,
): Promise<Outcome<BenchmarkReport>> {
  const present = await existingTables(db, [...new Set(input.patterns.flatMap((p) => PATTERNS[p].tables))]);
  ctx.started();
  const total = input.patterns.length * runsOf(input);
  let done = 0;
  const tick = () => ctx.progress({ done: ++done, total });

  const results: PatternResult[] = [];
  for (const [i, name] of input.patterns.entries()) {
    ctx.throwIfCancelled(); // a step boundary: the patterns measured so far are in the cancelled report
    const missing = PATTERNS[name].tables.filter((t) => !present.has(t));
    const result =
      missing.length > 0
        ? notRun(name, PATTERNS[name], input.iterations, {
            skipped: true,
            reason: `${missing.length > 1 ? 'tables' : 'table'} ${missing.join(', ')} missing`,
          })
        : await ctx.step(
            `pattern ${name}`,
            () => measurePattern(db, name, input, ctx, tick),
            // A pattern a view may serve: its own runs, the rows compared, and the runs through the view.
            statementsTaking((viewFor(name) ? 2 : 1) * runsOf(input) + 2, input.statementTimeoutMs),
          );
    results.push(result);
    done = (i + 1) * runsOf(input); // a skipped or failed pattern still counts as done
    ctx.progress({ done, total });
    ctx.checkpoint({ results });
  }

  const { regressions, incomparable } = baseline
    ? compareWithBaseline(results, input.params, baseline)
    : { regressions: [], incomparable: [] };
  const ran = results.filter((r) => r.p50Ms !== null);
  const targeted = ran.filter((r) => r.withinTarget !== null);
  const missed = targeted.filter((r) => !r.withinTarget).map((r) => r.pattern);
  const skipped = results.filter((r) => r.skipped).length;
  const failed = results.filter((r) => r.error).length;
  const parts = [
    `${ran.length} of ${count(results.length, 'pattern')} measured over ${count(input.iterations, 'run')} each`,
    `${targeted.length - missed.length} of ${targeted.length} with a target met it at p95${missed.length ? ` (missed: ${missed.join(', ')})` : ''}`,
    ...(skipped ? [`${skipped} skipped`] : []),
    ...(failed ? [`${failed} failed`] : []),
    ...(baseline
      ? [
          regressions.length
            ? `${regressions.length} regressed against ${baseline.id}: ${regressions.map((r) => r.pattern).join(', ')}`
            : `no regression against ${baseline.id}`,
        ]
      : []),
  ];
  return {
    status: regressions.length > 0 ? 'regressed' : failed > 0 ? 'failed' : 'succeeded',
    summary: {
      message: `${parts.join('; ')}.`,
      measured: ran.length,
      skipped,
      failed,
      withinTarget: targeted.length - missed.length,
      missedTarget: missed,
      regressions: regressions.length,
    },
    iterations: input.iterations,
    warmup: input.warmup,
    params: input.params,
    results,
    baseline: baseline ? { reportId: baseline.id, createdAt: baseline.createdAt, threshold: REGRESSION } : null,
    regressions,
    incomparable,
  };
}
