import type { Database, Queryable } from '../../adapters/db/types.js';
import { isServiceError, saidOf } from '../../errors.js';
import { explain, summarizePlan } from '../../measure/plan.js';
import type { Query } from '../../sql/benchmark.js';
import { execute, queryOne, queryRows } from '../../sql/sql.js';
import {
  deallocateWorkloadSql,
  explainWorkloadSql,
  genericPlanSql,
  heaviestStatementsSql,
  prepareWorkloadSql,
  releaseWorkloadSavepointSql,
  rollbackToWorkloadSavepointSql,
  statementStatsReadableSql,
  statementStatsSql,
  workloadPreparedSql,
  workloadSavepointSql,
  WORKLOAD_LIMIT,
} from '../../sql/workload.js';
import { statementsTaking } from '../runner.js';
import type { WorkloadState } from '../../reports/optimization.js';

/** One of the database's heaviest statements on the v2 tables, as pg_stat_statements counts it. */
export interface WorkloadStatement {
  queryid: string;
  query: string;
  calls: number;
  totalExecMs: number;
  meanExecMs: number;
  rows: number;
  parameters: number;
  tables: string[];
}

export interface Workload {
  state: WorkloadState;
  reason?: string;
  statements: WorkloadStatement[];
}

/** A statement's generic plan: its cost and the indexes it reads, or why it could not be planned. */
export type GenericPlan = { cost: number; indexes: string[] } | { skipped: string };

/**
 * Failures that end the plan rather than one statement's: the connection, its timeout, a cancel,
 * and a lock held on a table (as a pattern's plan would end it, rather than wait for the lock
 * again for every statement and candidate).
 */
const ENDS_THE_PLAN = ['database-unavailable', 'statement-timeout', 'lock-timeout', 'cancelled'] as const;

/**
 * The heaviest statements, where pg_stat_statements can be read; otherwise the state and what
 * to do. Read outside any transaction: reading the view fails when the library is not loaded
 * (shared_preload_libraries), and that failure must not abort the plan's transaction.
 */
export async function readWorkload(db: Queryable): Promise<Workload> {
  const ext = await queryOne(db, statementStatsSql());
  if (!ext.installed)
    return {
      state: 'not-installed',
      reason: ext.available
        ? 'pg_stat_statements is available on this server but not installed in this database: CREATE EXTENSION pg_stat_statements (with the library in shared_preload_libraries).'
        : 'pg_stat_statements is not available on this server.',
      statements: [],
    };
  if (!ext.visible)
    return {
      state: 'unreadable',
      reason: "pg_stat_statements is installed in a schema outside the service's search_path.",
      statements: [],
    };
  try {
    await queryOne(db, statementStatsReadableSql());
  } catch (error) {
    if (isServiceError(error, 'read-only')) return unreadable(error);
    if (isServiceError(error)) throw error;
    // Installed and visible, and its own function fails where no ServiceError says why: the library is not loaded.
    return {
      state: 'not-loaded',
      reason: `pg_stat_statements is installed but cannot be read (${saidOf(error)}): add it to shared_preload_libraries and restart the server.`,
      statements: [],
    };
  }
  try {
    const rows = await queryRows(db, heaviestStatementsSql());
    return { state: 'used', statements: rows.map((r) => ({ ...r, calls: Number(r.calls), rows: Number(r.rows) })) };
  } catch (error) {
    if (isServiceError(error, 'read-only')) return unreadable(error);
    throw error; // readable a statement ago: this failure is not the extension's state
  }
}

const unreadable = (error: unknown): Workload => ({
  state: 'unreadable',
  reason: `The service's role may not read pg_stat_statements: ${saidOf(error)}`,
  statements: [],
});

/** Drops the prepared statement a plan cut off mid-way left on this pooled connection. */
export async function clearLeftover(tx: Queryable): Promise<void> {
  if ((await queryOne(tx, workloadPreparedSql())).prepared) await execute(tx, deallocateWorkloadSql());
}

/**
 * The generic plan of a statement whose values are unknown: PREPARE, plan_cache_mode
 * force_generic_plan, EXPLAIN EXECUTE with NULLs, under a savepoint that is always rolled back
 * (undoing the setting, and a failure: one statement that cannot be prepared, e.g. "could not
 * determine data type of parameter $1", is skipped and the others go on), then DEALLOCATE.
 * Prepared anew each time: a cached generic plan would not see a hypothetical index made since.
 */
export async function planWithoutValues(
  tx: Queryable,
  statement: Pick<WorkloadStatement, 'query' | 'parameters'>,
): Promise<GenericPlan> {
  await execute(tx, workloadSavepointSql());
  let prepared = false;
  let outcome: GenericPlan;
  try {
    await execute(tx, prepareWorkloadSql(statement.query));
    prepared = true;
    await execute(tx, genericPlanSql());
    const plan = summarizePlan(await explain(tx, explainWorkloadSql(statement.parameters)));
    outcome = { cost: plan.totalCost, indexes: plan.indexes };
  } catch (error) {
    if (isServiceError(error, ...ENDS_THE_PLAN)) throw error;
    outcome = { skipped: saidOf(error) };
  }
  await execute(tx, rollbackToWorkloadSavepointSql());
  if (prepared) await execute(tx, deallocateWorkloadSql()); // not transactional: the rollback kept it
  await execute(tx, releaseWorkloadSavepointSql());
  return outcome;
}

/** Statements planned by planWithoutValues: a savepoint, PREPARE, the setting, EXPLAIN, rollback, DEALLOCATE, release. */
export const STATEMENTS_PER_PLAN = 7;

/** The generic plan of each statement, by queryid. */
export async function planEach(
  tx: Queryable,
  statements: readonly WorkloadStatement[],
): Promise<Map<string, GenericPlan>> {
  const plans = new Map<string, GenericPlan>();
  if (statements.length) await clearLeftover(tx);
  for (const s of statements) plans.set(s.queryid, await planWithoutValues(tx, s));
  return plans;
}

export const isPlanned = (plan: GenericPlan | undefined): plan is { cost: number; indexes: string[] } =>
  plan !== undefined && 'cost' in plan;

/** A statement without parameters, as measureQuery times it (read-only, as the patterns). */
export const queryOf = (s: WorkloadStatement): Query => ({
  description: `pg_stat_statements ${s.queryid}`,
  targetMs: null,
  tables: s.tables,
  sql: s.query,
  values: () => [],
});

/** How a statement is named in evidence and reasons. */
export const statementLabel = (s: Pick<WorkloadStatement, 'queryid'>) => `statement ${s.queryid}`;

/** How long one planning of the workload may take: its reads, and each statement planned, under the plan's timeout. */
export const workloadPlanning = (statementTimeoutMs: number) =>
  statementsTaking(4 + WORKLOAD_LIMIT * STATEMENTS_PER_PLAN, statementTimeoutMs);

/** Each statement's generic plan now, in a read-only transaction of its own. */
export const planNow = async (db: Database, statements: readonly WorkloadStatement[], statementTimeoutMs: number) =>
  statements.length
    ? db.transaction((tx) => planEach(tx, statements), { readOnly: true, statementTimeoutMs })
    : new Map<string, GenericPlan>();
