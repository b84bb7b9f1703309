import type { Database } from '../../adapters/db/types.js';
import type { AppliedStatement } from '../../reports/optimization.js';
import type { Query } from '../../sql/benchmark.js';
import { CANDIDATES, type CandidateName } from '../../sql/optimize.js';
import type { Measurement } from '../benchmark.js';
import { count } from '../text.js';
import { figures, verdict } from './verdict.js';
import { isPlanned, planNow, queryOf, readWorkload, statementLabel, type WorkloadStatement } from './workload.js';

/** Times one statement as apply times the patterns: by name, a pattern or probe; with a query, that statement. */
type Measure = (name: string, query?: Query) => Promise<Measurement>;

/** A workload statement on the index's table, with its generic plan's cost before the build and, without parameters, its timing. */
export interface Watched {
  statement: WorkloadStatement;
  costBefore: number;
  before?: Measurement;
}

/**
 * The workload statements (pg_stat_statements) on the index's table, before the build: each
 * one's generic plan, and those without parameters timed as the patterns are (read-only). Which
 * of them the index serves is known only after it exists, from their plans then.
 */
export async function watchWorkload(
  db: Database,
  name: CandidateName,
  measure: Measure,
  statementTimeoutMs: number,
): Promise<Watched[]> {
  const { statements } = await readWorkload(db);
  const onTable = statements.filter((s) => s.tables.includes(CANDIDATES[name].table));
  const plans = await planNow(db, onTable, statementTimeoutMs);
  const watched: Watched[] = [];
  for (const statement of onTable) {
    const plan = plans.get(statement.queryid);
    if (!isPlanned(plan)) continue;
    watched.push({
      statement,
      costBefore: plan.cost,
      ...(statement.parameters === 0 ? { before: await measure(statementLabel(statement), queryOf(statement)) } : {}),
    });
  }
  return watched;
}

/**
 * After the build, the watched statements whose generic plan uses the index: timed again where
 * they were timed before; with parameters, the real plan's cost before and after, since they
 * cannot run without their values (their measured effect shows in pg_stat_statements later).
 */
export async function servedAfterBuild(
  db: Database,
  name: CandidateName,
  watched: readonly Watched[],
  measure: Measure,
  statementTimeoutMs: number,
): Promise<AppliedStatement[]> {
  const plans = await planNow(
    db,
    watched.map((w) => w.statement),
    statementTimeoutMs,
  );
  const served: AppliedStatement[] = [];
  for (const { statement: s, costBefore, before } of watched) {
    const plan = plans.get(s.queryid);
    if (!isPlanned(plan) || !plan.indexes.includes(name)) continue;
    const after = before ? await measure(statementLabel(s), queryOf(s)) : undefined;
    served.push({
      queryid: s.queryid,
      query: s.query,
      parameters: s.parameters,
      calls: s.calls,
      meanExecMs: s.meanExecMs,
      costBefore,
      costAfter: plan.cost,
      ...(before && after ? { before: figures(before), after: figures(after), verdict: verdict(before, after) } : {}),
      note: before
        ? 'No parameters: timed before and after the build, as the patterns are (read-only).'
        : `${count(s.parameters, 'parameter')}: it cannot run without its values, so this is the generic plan's cost with the real index; its measured effect shows in pg_stat_statements (meanExecMs at the next plan).`,
    });
  }
  return served;
}
