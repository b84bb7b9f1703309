import type { Database, Queryable, Session } from '../../adapters/db/types.js';
import { saidOf } from '../../errors.js';
import { explain, whyNoIndex } from '../../measure/plan.js';
import type { Applied, AppliedQuery, Measured, Verdict } from '../../reports/optimization.js';
import { BENCHMARK_DEFAULTS, explainCostSql, PATTERN_NAMES, PATTERNS } from '../../sql/benchmark.js';
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
import { measureQuery, type Measurement } from '../benchmark.js';
import { withLease } from '../lease.js';
import type { OperationContext } from '../runner.js';
import type { OptimizeInput } from './input.js';
import { QUERIES } from './plan.js';

/** How long dropping an INVALID index may wait for the transactions that block it. */
const CLEANUP_LOCK_TIMEOUT_MS = 60_000;
const MEASURE_TIMEOUT_MS = 120_000;

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

const figures = (r: Measurement): Measured => ({
  p50Ms: r.p50Ms,
  p95Ms: r.p95Ms,
  indexes: r.indexes,
  ...(r.error ? { error: r.error } : {}),
});

/**
 * Holding the lease: first drops catalogue indexes an interrupted build left INVALID;
 * then, per chosen index, times the queries it serves, builds it, and times them again; last,
 * times every pattern with a runbook target and says from its plan why one still misses.
 */
export async function apply(db: Database, input: OptimizeInput, requestCtx: OperationContext) {
  const chosen = input.indexes!;
  // A change runs to its end once begun: a client going away must not stop it between a build and its measurement.
  const ctx: OperationContext = { ...requestCtx, signal: undefined };
  const measure = (name: string) =>
    measureQuery(
      db,
      name,
      QUERIES[name]!,
      {
        iterations: input.iterations,
        warmup: input.warmup,
        params: BENCHMARK_DEFAULTS,
        statementTimeoutMs: MEASURE_TIMEOUT_MS,
      },
      ctx,
    );
  // The lease excludes other changing runs; the dedicated session carries the build's session timeouts.
  return withLease(db, ctx, 'optimization', (lease) =>
    db.withAdvisoryLock(async (session) => {
      const present = await existingTables(session, [...V2_TABLES]);
      const leftovers = (await queryRows(session, invalidCandidatesSql())).map((r) => r.name);
      ctx.started();
      const cleaned: string[] = [];
      for (const name of leftovers) if (!(await dropInvalid(db, session, name, input))) cleaned.push(name);

      const applied: Applied[] = [];
      const total = chosen.length + (input.verifyTargets ? 1 : 0);
      for (const name of chosen) {
        const c = CANDIDATES[name];
        const sql = indexDefinition(name, { concurrently: true });
        if (!present.has(c.table)) {
          applied.push({ name, sql, status: 'skipped', reason: `table ${c.table} missing`, notes: [], patterns: [] });
          continue;
        }
        // CREATE INDEX CONCURRENTLY runs outside any transaction, so no fence can hold the lease
        // through it: it is renewed (a run that lost it stops here) right before, and at every step.
        ctx.throwIfCancelled();
        await lease.renew();
        const serves = c.serves.filter((q) => QUERIES[q]!.tables.every((t) => present.has(t)));
        const before: Measurement[] = [];
        for (const q of serves) before.push(await measure(q));
        const outcome = await build(db, session, name, input);
        const after: Measurement[] = [];
        if (outcome.status === 'built') for (const q of serves) after.push(await measure(q));
        const patterns = serves.map((q, i): AppliedQuery => {
          const a = after[i];
          return {
            query: q,
            before: figures(before[i]!),
            ...(a ? { after: figures(a), usesIndex: a.indexes.includes(name), verdict: verdict(before[i]!, a) } : {}),
          };
        });
        const helped = patterns.some((p) => p.verdict === 'faster' && p.usesIndex);
        applied.push({
          name,
          sql,
          ...outcome,
          notes: cleaned.includes(name)
            ? [`An INVALID ${name} from an earlier build was dropped first.`, ...outcome.notes]
            : outcome.notes,
          patterns,
          ...(outcome.status === 'built'
            ? {
                helped,
                conclusion: helped
                  ? 'faster where it is used'
                  : 'did not measurably help any query it was meant for: consider dropping it',
              }
            : {}),
        });
        ctx.checkpoint({ applied });
        ctx.progress({ done: applied.length, total });
      }

      const targets = [];
      if (input.verifyTargets) {
        for (const name of PATTERN_NAMES) {
          const p = PATTERNS[name];
          if (p.targetMs === null || !p.tables.every((t) => present.has(t))) continue;
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
            ...(why !== undefined ? { whyNoIndex: why } : {}),
          });
        }
        ctx.progress({ done: total, total });
      }
      return { applied, targets, cleaned };
    }),
  );
}
