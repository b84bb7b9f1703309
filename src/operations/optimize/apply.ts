import type { Database, Queryable, Session } from '../../adapters/db/types.js';
import { saidOf } from '../../errors.js';
import { explain, whyNoIndex } from '../../measure/plan.js';
import type { Applied, AppliedQuery, TargetCheck } from '../../reports/optimization.js';
import { BENCHMARK_DEFAULTS, explainCostSql, PATTERN_NAMES, PATTERNS, type Query } from '../../sql/benchmark.js';
import { analyzeSql, V2_TABLES } from '../../sql/catalog.js';
import { existingTables } from '../../sql/introspection.js';
import {
  CANDIDATES,
  createIndexSql,
  dropDefinition,
  dropIndexSql,
  indexDefinition,
  indexStateSql,
  invalidCandidatesSql,
  sessionTimeoutsSql,
  setSessionTimeoutsSql,
  type CandidateName,
} from '../../sql/optimize.js';
import { execute, queryOne, queryRows } from '../../sql/sql.js';
import { measurePattern, measureQuery, type Measurement } from '../benchmark.js';
import { withLease } from '../lease.js';
import { onceInRun } from '../runs.js';
import { statementsTaking, type OperationContext, type StepOptions } from '../runner.js';
import { chooseFromPlan, PLANNING } from './choose.js';
import type { OptimizeInput } from './input.js';
import { QUERIES } from './plan.js';
import { applyView } from './views.js';
import { viewDefinition, VIEWS, type ViewName } from '../../sql/views.js';
import type { PatternName } from '../../sql/benchmark.js';
import { WORKLOAD_LIMIT } from '../../sql/workload.js';
import { servedAfterBuild, watchWorkload } from './measure-workload.js';
import { workloadPlanning } from './workload.js';

/** How long dropping an INVALID index may wait for the transactions that block it. */
const CLEANUP_LOCK_TIMEOUT_MS = 60_000;
const MEASURE_TIMEOUT_MS = 120_000;

import { figures, verdict } from './verdict.js';

export { verdict };

/** Runs fn with session-level timeouts, restoring the previous values after (the connection goes back to a pool). */
async function withSessionTimeouts<T>(
  session: Session,
  lockTimeoutMs: number,
  statementTimeoutMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  const previous = await queryOne(session, sessionTimeoutsSql());
  await execute(session, setSessionTimeoutsSql({ lock: `${lockTimeoutMs}ms`, statement: `${statementTimeoutMs}ms` }));
  try {
    return await fn();
  } finally {
    await execute(session, setSessionTimeoutsSql(previous));
  }
}

const stateOf = async (db: Queryable, name: CandidateName) => (await queryRows(db, indexStateSql(name)))[0] ?? null;
const isInvalid = async (db: Queryable, name: CandidateName) => (await stateOf(db, name))?.valid === false;

/**
 * Drops an INVALID index concurrently, waiting up to a minute for what blocks it; failing that,
 * once more on another connection. Returns the statement still to run when both fail.
 */
async function dropInvalid(
  db: Database,
  session: Session,
  name: CandidateName,
  input: OptimizeInput,
): Promise<string | undefined> {
  try {
    await withSessionTimeouts(session, CLEANUP_LOCK_TIMEOUT_MS, input.buildTimeoutMs, () =>
      execute(session, dropIndexSql(name)),
    );
    return undefined;
  } catch {
    await execute(db, dropIndexSql(name)).catch(() => undefined);
    return (await isInvalid(db, name).catch(() => true)) ? dropDefinition(name) : undefined;
  }
}

/**
 * CREATE INDEX CONCURRENTLY outside any transaction, with lock and statement timeouts. A failed
 * concurrent build leaves an INVALID index behind: it is dropped, so the table is as before.
 */
async function build(
  db: Database,
  session: Session,
  name: CandidateName,
  input: OptimizeInput,
): Promise<Pick<Applied, 'status' | 'error' | 'buildMs' | 'invalidLeft' | 'notes'>> {
  if ((await stateOf(session, name))?.valid)
    return { status: 'exists', notes: [`${name} already exists and is valid: nothing built.`] };
  const started = performance.now();
  try {
    await withSessionTimeouts(session, input.lockTimeoutMs, input.buildTimeoutMs, () =>
      execute(session, createIndexSql(name)),
    );
  } catch (error) {
    const message = saidOf(error); // PostgreSQL's own words: a lock timeout, a duplicate key
    if (!(await isInvalid(db, name).catch(() => true))) return { status: 'failed', error: message, notes: [] };
    const left = await dropInvalid(db, session, name, input);
    return left
      ? {
          status: 'failed',
          error: message,
          invalidLeft: left,
          notes: [
            `The build failed and its INVALID index could not be dropped: run \`${left}\` when the blocking transactions have ended.`,
          ],
        }
      : { status: 'failed', error: message, notes: ['The build failed and left an INVALID index; it was dropped.'] };
  }
  const buildMs = Math.round(performance.now() - started);
  await execute(session, analyzeSql(CANDIDATES[name].table));
  return {
    status: 'built',
    buildMs,
    notes: [`Built concurrently in ${buildMs} ms, then ANALYZE ${CANDIDATES[name].table}.`],
  };
}

/** A dedicated session for fn: one for the whole run in process, one per step where steps may run apart. */
type WithSession = <T>(fn: (session: Session) => Promise<T>) => Promise<T>;

/**
 * Holding the lease: first drops catalogue indexes an interrupted build left INVALID; when no
 * index is named, plans and takes the high- and medium-priority recommendations (none: nothing
 * is built or timed); then, per chosen index, times the queries it serves, builds it, and times them again; last,
 * times every pattern with a runbook target and says from its plan why one still misses. The
 * clean-up, each index and the targets are steps: where they may run apart (a Workflow), each
 * takes a session of its own, and an index's outcome is recorded in the database as soon as it
 * is known, so a step retried after its build gives back that outcome instead of building again.
 */
export async function apply(db: Database, input: OptimizeInput, requestCtx: OperationContext) {
  // A change runs to its end once begun: a client going away must not stop it between a build and its measurement.
  const ctx: OperationContext = { ...requestCtx, signal: undefined };
  /** How long timing `queries` queries may take: every run of each under its statement timeout. */
  const measuring = (queries: number): StepOptions =>
    statementsTaking(queries * (input.warmup + 2 * input.iterations + 2), MEASURE_TIMEOUT_MS);
  const measure = (name: string, query: Query = QUERIES[name]!) =>
    measureQuery(
      db,
      name,
      query,
      {
        iterations: input.iterations,
        warmup: input.warmup,
        params: BENCHMARK_DEFAULTS,
        statementTimeoutMs: MEASURE_TIMEOUT_MS,
      },
      ctx,
    );
  const measureThrough = (name: string) =>
    measurePattern(
      db,
      name as PatternName,
      {
        iterations: input.iterations,
        warmup: input.warmup,
        params: BENCHMARK_DEFAULTS,
        statementTimeoutMs: MEASURE_TIMEOUT_MS,
      },
      ctx,
    );
  // The lease excludes other changing runs; a dedicated session carries a build's session timeouts.
  return withLease(db, ctx, 'optimization', async (lease) => {
    const run = async (withSession: WithSession) => {
      const { present, cleaned } = await ctx.step(
        'clean-up',
        () =>
          withSession(async (session) => {
            const tables = [...(await existingTables(session, [...V2_TABLES]))];
            const leftovers = (await queryRows(session, invalidCandidatesSql())).map((r) => r.name);
            const dropped: CandidateName[] = [];
            for (const name of leftovers) if (!(await dropInvalid(db, session, name, input))) dropped.push(name);
            return { present: tables, cleaned: dropped };
          }),
        // Each leftover's drop waits for its lock, once more on another connection.
        { timeoutMs: 2 * Object.keys(CANDIDATES).length * (CLEANUP_LOCK_TIMEOUT_MS + input.buildTimeoutMs) },
      );
      ctx.started();
      const tables = new Set(present);

      // Not told which indexes: the current plan's high- and medium-priority ones, planned under the lease.
      const named = input.indexes !== undefined || input.views !== undefined;
      const planned = named ? undefined : await ctx.step('plan', () => chooseFromPlan(db), PLANNING);
      const plannedNames = planned?.selection.chosen.map((c) => c.name) ?? [];
      const isView = (name: string): name is ViewName => name in VIEWS;
      const chosen = named
        ? (input.indexes ?? [])
        : plannedNames.filter((name): name is CandidateName => !isView(name));
      const chosenViews = named ? (input.views ?? []) : plannedNames.filter(isView);
      // Nothing built, nothing to verify: the plan's report says why.
      const verifying = input.verifyTargets && chosen.length + chosenViews.length > 0;
      const fromPlan = planned ? { selection: planned.selection, recommendations: planned.recommendations } : {};
      ctx.checkpoint(fromPlan);

      const applied: Applied[] = [];
      const total = chosen.length + chosenViews.length + (verifying ? 1 : 0);
      for (const name of chosen) {
        ctx.throwIfCancelled();
        const c = CANDIDATES[name];
        const outcome = !tables.has(c.table)
          ? skipped(name, c.table)
          : await ctx.step(
              `index ${name}`,
              () =>
                onceInRun(db, ctx, `index ${name}`, () =>
                  withSession(async (session) => {
                    // CREATE INDEX CONCURRENTLY runs outside any transaction, so no fence can hold the
                    // lease through it: it is renewed (a run that lost it stops here) right before.
                    await lease.renew();
                    return buildAndMeasure(db, session, name, tables, input, measure);
                  }),
                ),
              {
                timeoutMs:
                  input.lockTimeoutMs +
                  input.buildTimeoutMs +
                  measuring(2 * (c.serves.length + WORKLOAD_LIMIT)).timeoutMs +
                  2 * workloadPlanning(MEASURE_TIMEOUT_MS).timeoutMs,
              },
            );
        applied.push(
          cleaned.includes(name)
            ? { ...outcome, notes: [`An INVALID ${name} from an earlier build was dropped first.`, ...outcome.notes] }
            : outcome,
        );
        ctx.checkpoint({ ...fromPlan, applied });
        ctx.progress({ done: applied.length, total });
      }

      for (const name of chosenViews) {
        ctx.throwIfCancelled();
        const v = VIEWS[name];
        const outcome = !PATTERNS[v.pattern].tables.every((t) => tables.has(t))
          ? skipped(name, PATTERNS[v.pattern].tables.filter((t) => !tables.has(t)).join(', '))
          : await ctx.step(
              `view ${name}`,
              () =>
                onceInRun(db, ctx, `view ${name}`, () => applyView(db, lease, name, input, measure, measureThrough)),
              // The pattern timed before, through the view after (with its own runs and the rows compared), the build and a refresh.
              { timeoutMs: 2 * (input.lockTimeoutMs + input.buildTimeoutMs) + measuring(4).timeoutMs },
            );
        applied.push(outcome);
        ctx.checkpoint({ ...fromPlan, applied });
        ctx.progress({ done: applied.length, total });
      }

      let targets: TargetCheck[] = [];
      if (verifying) {
        ctx.throwIfCancelled();
        targets = await ctx.step(
          'targets',
          () => verifyTargets(db, tables, measureThrough),
          measuring(PATTERN_NAMES.length + Object.keys(VIEWS).length + 1),
        );
        ctx.progress({ done: total, total });
      }
      return { applied, targets, cleaned, planned };
    };
    return ctx.recordsSteps ? run((fn) => db.withAdvisoryLock(fn)) : db.withAdvisoryLock((s) => run((fn) => fn(s)));
  });
}

const skipped = (name: CandidateName | ViewName, table: string): Applied => ({
  name,
  ...(name in VIEWS
    ? { kind: 'materialized view' as const, sql: viewDefinition(name as ViewName) }
    : { kind: 'index' as const, sql: indexDefinition(name as CandidateName, { concurrently: true }) }),
  status: 'skipped',
  reason: `table ${table} missing`,
  notes: [],
  patterns: [],
});

/** One index: the queries it serves and the workload on its table timed, the index built, the queries timed again. */
async function buildAndMeasure(
  db: Database,
  session: Session,
  name: CandidateName,
  tables: Set<string>,
  input: OptimizeInput,
  measure: (name: string, query?: Query) => Promise<Measurement>,
): Promise<Applied> {
  const serves = CANDIDATES[name].serves.filter((q) => QUERIES[q]!.tables.every((t) => tables.has(t)));
  // The workload first: read before this apply's own timings add to pg_stat_statements.
  const watched = await watchWorkload(db, name, measure, MEASURE_TIMEOUT_MS);
  const before: Measurement[] = [];
  for (const q of serves) before.push(await measure(q));
  const outcome = await build(db, session, name, input);
  const after: Measurement[] = [];
  if (outcome.status === 'built') for (const q of serves) after.push(await measure(q));
  const statements =
    outcome.status === 'built' ? await servedAfterBuild(db, name, watched, measure, MEASURE_TIMEOUT_MS) : [];
  const patterns = serves.map((q, i): AppliedQuery => {
    const a = after[i];
    return {
      query: q,
      before: figures(before[i]!),
      ...(a ? { after: figures(a), usesIndex: a.indexes.includes(name), verdict: verdict(before[i]!, a) } : {}),
    };
  });
  const helped =
    patterns.some((p) => p.verdict === 'faster' && p.usesIndex) || statements.some((s) => s.verdict === 'faster');
  return {
    name,
    kind: 'index',
    sql: indexDefinition(name, { concurrently: true }),
    ...outcome,
    patterns,
    ...(statements.length ? { statements } : {}),
    ...(outcome.status === 'built'
      ? {
          helped,
          conclusion: helped
            ? 'faster where it is used'
            : 'did not measurably help any query it was meant for: consider dropping it',
        }
      : {}),
  };
}

/** Every pattern with a runbook target, timed, with the plan's reason where one misses it. */
async function verifyTargets(
  db: Database,
  tables: Set<string>,
  measure: (query: string) => Promise<Measurement>,
): Promise<TargetCheck[]> {
  const targets: TargetCheck[] = [];
  for (const name of PATTERN_NAMES) {
    const p = PATTERNS[name];
    if (p.targetMs === null || !p.tables.every((t) => tables.has(t))) continue;
    const r = await measure(name);
    const why =
      r.withinTarget === false ? whyNoIndex(await explain(db, explainCostSql(p, BENCHMARK_DEFAULTS))) : undefined;
    targets.push({
      pattern: name,
      targetMs: p.targetMs,
      p50Ms: r.p50Ms,
      p95Ms: r.p95Ms,
      withinTarget: r.withinTarget,
      indexes: r.indexes,
      ...(r.via ? { via: r.via } : {}),
      ...(why !== undefined ? { whyNoIndex: why } : {}),
    });
  }
  return targets;
}
