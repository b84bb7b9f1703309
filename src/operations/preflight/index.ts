import type { Database, Queryable } from '../../adapters/db/types.js';
import { planMigrations, V2_MIGRATIONS } from '../../db/migrate.js';
import { isServiceError } from '../../errors.js';
import { detectV1Shape } from '../../mapping/shape.js';
import type { PreflightReport, V2State } from '../../reports/preflight.js';
import type { Outcome } from '../../reports/schemas.js';
import { V1_TABLES, V2_TABLES } from '../../sql/catalog.js';
import { checkSavepointSql, serverVersionNumSql, tableSizesSql, tableSizesUnlockedSql } from '../../sql/preflight.js';
import { execute, queryOne, queryRows } from '../../sql/sql.js';
import { statementsTaking, type OperationContext } from '../runner.js';
import { SNAPSHOT_MAX_MS } from '../snapshot.js';
import { count } from '../text.js';
import { verdict } from '../validate.js';
import { CHECKS, runCheck, type Facts } from './checks.js';
import { estimateMigration, rowsOf, type EstimateOptions } from './estimate.js';
import { NEON_PRICING_DEFAULTS, type DatabaseTarget, type NeonPricing } from './target.js';

export { estimateMigration, extrapolate, costOf } from './estimate.js';

export interface PreflightInput {
  /** Servers the estimate's rolled-back sample copies; 0: no estimate. */
  sampleServers: number;
  /** A transaction open longer than this, in another session, fails activity.long_transactions. */
  longTransactionSeconds: number;
  /** The database is Neon's, with these prices over the configured ones (a cost estimate). */
  neon?: Partial<NeonPricing> | undefined;
  /** How long the snapshot may be held (default SNAPSHOT_MAX_MS): for tests; requests cannot set it. */
  snapshotMaxMs?: number | undefined;
}

const CHECKS_TIMEOUT_MS = 60_000;
const LOCK_WAIT_MS = 2_000;

/** The v2 tables' state, as /migrate's schema phase would find it. */
async function v2StateOf(tx: Queryable): Promise<Facts['v2']> {
  try {
    const migrations = await planMigrations(tx, V2_MIGRATIONS);
    const outcomes = new Set(migrations.map((m) => m.outcome));
    const state: V2State = outcomes.has('would-adopt')
      ? 'adoptable'
      : outcomes.has('would-apply')
        ? outcomes.has('already-applied')
          ? 'present'
          : 'absent'
        : 'present';
    return { state, detail: '', migrations };
  } catch (error) {
    if (!isServiceError(error, 'schema-conflict')) throw error;
    return { state: 'conflict', detail: error.message, migrations: [] };
  }
}

/**
 * Every SARK table's rows (exact where cheap) and size. Where another session holds a lock these
 * reads would wait for (ACCESS EXCLUSIVE), after the snapshot's lock_timeout: the catalogue's
 * estimates, which need no lock (activity.table_locks names the lock).
 */
async function tablesOf(tx: Queryable): Promise<PreflightReport['tables']> {
  await execute(tx, checkSavepointSql('set'));
  try {
    const tables = await measuredTables(tx, true);
    await execute(tx, checkSavepointSql('release'));
    return tables;
  } catch (error) {
    if (!isServiceError(error, 'lock-timeout')) throw error;
    await execute(tx, checkSavepointSql('rollback to'));
    await execute(tx, checkSavepointSql('release'));
    return measuredTables(tx, false);
  }
}

async function measuredTables(tx: Queryable, locking: boolean): Promise<PreflightReport['tables']> {
  const names = [...V1_TABLES, ...V2_TABLES];
  const sizes = await queryRows(tx, locking ? tableSizesSql(names) : tableSizesUnlockedSql(names));
  const tables: PreflightReport['tables'] = [];
  for (const [n, table] of names.entries()) {
    const size = sizes[n]!;
    const estimated = { rows: Math.max(0, Math.round(size.estimate ?? 0)), counted: 'estimate' as const };
    const { rows, counted } = !size.exists
      ? { rows: null, counted: 'none' as const }
      : locking
        ? await rowsOf(tx, table, size)
        : estimated;
    tables.push({
      table,
      version: n < V1_TABLES.length ? 'v1' : 'v2',
      exists: size.exists,
      rows,
      counted,
      bytes: size.exists ? Math.round(size.bytes ?? 0) : null,
    });
  }
  return tables;
}

async function factsOf(
  tx: Queryable,
  db: Database,
  input: PreflightInput,
  target: DatabaseTarget | undefined,
): Promise<Facts> {
  const version = await queryOne(tx, serverVersionNumSql());
  let v1Shape: Facts['v1Shape'] = null;
  let v1Problem: string | null = null;
  try {
    v1Shape = (await detectV1Shape(tx)).name;
  } catch (error) {
    if (!isServiceError(error, 'unsupported-v1-schema')) throw error;
    v1Problem = error.message;
  }
  return {
    tx,
    driver: db.driver,
    version,
    v1Shape,
    v1Problem,
    v2: await v2StateOf(tx),
    tables: await tablesOf(tx),
    target,
    longTransactionSeconds: input.longTransactionSeconds,
  };
}

/** Neon's prices, the request's over the configuration's over the defaults; null when the database is not Neon. */
export function pricingFor(
  db: Database,
  input: Pick<PreflightInput, 'neon'>,
  target: DatabaseTarget | undefined,
): EstimateOptions['pricing'] {
  if (db.driver !== 'neon' && !target?.neon && input.neon === undefined) return null;
  const configured = target?.neonPricing ?? {};
  const asked = input.neon ?? {};
  const from =
    Object.keys(asked).length > 0 ? 'request' : Object.keys(configured).length > 0 ? 'configuration' : 'defaults';
  return { ...NEON_PRICING_DEFAULTS, ...configured, ...asked, from };
}

/**
 * POST /preflight: the runbook's pre-migration checklist as checks with severities, every one
 * read in one read-only snapshot; then, in a transaction of its own that is always rolled back,
 * a timed sample of the migration, extrapolated (estimate). Changes nothing.
 */
export async function preflight(
  db: Database,
  input: PreflightInput,
  ctx: OperationContext<PreflightReport>,
  target?: DatabaseTarget,
): Promise<Outcome<PreflightReport>> {
  ctx.started();
  const total = CHECKS.length + 1;
  const snapshot = {
    readOnly: true,
    isolation: 'repeatable read',
    statementTimeoutMs: CHECKS_TIMEOUT_MS,
    // A lock another session holds is a finding (activity.table_locks), not a wait.
    lockTimeoutMs: LOCK_WAIT_MS,
    snapshotMaxMs: input.snapshotMaxMs ?? SNAPSHOT_MAX_MS,
  } as const;
  const { checks, facts } = await ctx.step(
    'checks',
    () =>
      db.transaction(async (tx) => {
        const facts = await factsOf(tx, db, input, target);
        const checks = [];
        for (const check of CHECKS) {
          checks.push(await runCheck(check, facts));
          ctx.progress({ done: checks.length, total });
        }
        const { tx: _tx, target: _target, ...plain } = facts;
        return { checks, facts: plain };
      }, snapshot),
    statementsTaking(2 * CHECKS.length + 12, CHECKS_TIMEOUT_MS),
  );
  ctx.throwIfCancelled();
  ctx.checkpoint({ checks, tables: facts.tables });
  const estimate = await ctx.step(
    'estimate',
    () => estimateMigration(db, { sampleServers: input.sampleServers, pricing: pricingFor(db, input, target) }),
    statementsTaking(2 * 4 + 12, 120_000),
  );
  ctx.progress({ done: total, total });
  const { status, exitCode } = verdict(checks);
  const failed = checks.filter((c) => !c.passed && !c.skipped);
  const skipped = checks.filter((c) => c.skipped).length;
  const duration = estimate.durationMs
    ? ` Estimate: ${Math.round(estimate.durationMs.expected / 1000)} s (${Math.round(estimate.durationMs.low / 1000)}–${Math.round(estimate.durationMs.high / 1000)} s).`
    : '';
  return {
    status,
    summary: {
      message: `${
        failed.length === 0
          ? `${count(checks.filter((c) => c.passed).length, 'check')} passed${skipped ? `, ${skipped} skipped` : ''}.`
          : `${failed.length} of ${count(checks.length, 'check')} failed: ${failed.map((c) => `${c.name} (${c.severity})`).join(', ')}.`
      }${duration}`,
      passed: checks.filter((c) => c.passed).length,
      failed: failed.length,
      skipped,
      exitCode,
    },
    exitCode,
    serverVersion: facts.version?.version ?? null,
    v1Shape: facts.v1Shape,
    v2: facts.v2.state,
    tables: facts.tables,
    checks,
    estimate,
  };
}
