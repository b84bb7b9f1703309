import type { DatabaseCopy } from '../adapters/copies/types.js';
import type { Database } from '../adapters/db/types.js';
import { applyServiceMigrations } from '../db/service-migrations.js';
import { isServiceError, ServiceError } from '../errors.js';
import { benchmarkParamsSchema, PATTERN_CATALOGUE } from '../reports/benchmark.js';
import { newReportId } from '../reports/ids.js';
import type { RehearsalReport, RehearsalStep } from '../reports/rehearsal.js';
import type { Outcome, Report, ReportKind } from '../reports/schemas.js';
import { v1FingerprintSql } from '../sql/copies.js';
import { queryOne, queryRows } from '../sql/sql.js';
import { tableSizesSql } from '../sql/preflight.js';
import type { MigrationEstimate } from '../reports/preflight.js';
import { estimateMigration, SAMPLE_SERVERS_DEFAULT } from './preflight/estimate.js';
import { pricingFor } from './preflight/index.js';
import { benchmark } from './benchmark.js';
import type { AppDeps } from './deps.js';
import { currentLease } from './lease.js';
import { MIGRATE_DEFAULTS, migrate } from './migrate.js';
import { rollback, ROLLBACK_DEFAULTS } from './rollback/index.js';
import type { OperationContext } from './runner.js';
import { validate } from './validate.js';

export interface RehearseInput {
  /** Keep the copy afterwards (where it can outlive the run): the report says how to reach it. */
  keep: boolean;
  /** The benchmark step's timed and untimed runs per pattern. */
  iterations: number;
  warmup: number;
}

export const REHEARSE_DEFAULTS = { keep: false, iterations: 10, warmup: 2 } as const;

/** The copy's name: the service's, from the rehearsal's report id, never from the request. */
export const copyNameOf = (runId: string) => `sark_rehearsal_${runId.replaceAll('-', '')}`;

type Entry = RehearsalReport['steps'][number];

/** A step's own context: its own run id (the copy's lease holder), the rehearsal's steps, signal and cancel. */
function stepContext<R>(parent: OperationContext<RehearsalReport>, step: RehearsalStep, runId: string) {
  const ctx: OperationContext<R> = {
    runId,
    step: (name, work, options) => parent.step(`${step}: ${name}`, work, options),
    started: () => undefined,
    progress: () => undefined,
    checkpoint: () => undefined,
    signal: parent.signal,
    throwIfCancelled: () => parent.throwIfCancelled(),
    leaseTtlMs: parent.leaseTtlMs,
    tookOver: () => undefined,
  };
  return ctx;
}

/**
 * POST /rehearse: the whole cutover on a throwaway copy of the database, never on the database
 * itself: copy, migrate, validate, benchmark, plan the rollback, roll back with that plan,
 * validate again. Each step runs the operation its endpoint runs, on the copy; its full report
 * is stored under its own id and held in the rehearsal's. The copy is dropped at the end, however
 * the steps went, unless `keep`. A copy that cannot be made is the request's answer (409), and
 * leaves nothing behind.
 */
export async function rehearse(
  deps: Pick<AppDeps, 'db' | 'store' | 'copies' | 'target'>,
  input: RehearseInput,
  ctx: OperationContext<RehearsalReport>,
): Promise<Outcome<RehearsalReport>> {
  const { copies } = deps;
  if (!copies)
    throw new ServiceError(
      'not-configured',
      'This service has no way to copy its database: rehearsals need a plain PostgreSQL DATABASE_URL, the embedded database, or NEON_API_KEY and NEON_PROJECT_ID.',
    );
  // A copy made while a changing run is half-way would rehearse a half-done state, and carry its lease.
  const lease = await currentLease(deps.db);
  if (lease)
    throw new ServiceError(
      'lock-busy',
      `The database is held by run ${lease.holder} (${lease.kind}); a rehearsal copies it only between changing runs. Retry when it has finished.`,
      { facts: { holder: lease.holder, holderKind: lease.kind, expiresAt: lease.expiresAt } },
    );
  const copy = await copies.create(copyNameOf(ctx.runId));
  ctx.started();

  const steps: Entry[] = [];
  const v1: Fingerprints = { before: null, after: null, estimate: null };
  const keep = input.keep && copies.canKeep;
  const copyFields = (dropped: boolean, dropError?: string): RehearsalReport['copy'] => ({
    method: copies.method,
    name: copy.name,
    kept: keep,
    dropped,
    reach: dropped ? null : copy.reach,
    ...(dropError ? { dropError } : {}),
    ...(input.keep && !copies.canKeep
      ? { note: 'Asked to keep it, but this copy lives in the service process only (a PGlite clone): it was dropped.' }
      : {}),
  });
  const outcome = (copyReport: RehearsalReport['copy']): Outcome<RehearsalReport> => {
    const failed = steps.find((s) => !s.passed);
    const passed = steps.filter((s) => s.passed).length;
    const v1Restored =
      v1.before && v1.after ? { passed: sameRows(v1.before, v1.after), before: v1.before, after: v1.after } : null;
    const ok = !failed && steps.length === STEP_COUNT && v1Restored?.passed === true;
    const where = copyReport.dropped ? 'dropped' : `kept: ${copyReport.reach}`;
    return {
      status: ok ? 'passed' : 'failed',
      summary: {
        message: ok
          ? `The cutover ran through on a copy (${copies.method} ${copy.name}, ${where}): ${passed} of ${STEP_COUNT} steps passed, and the rollback gave v1 back exactly.`
          : `The rehearsal failed at ${failed ? failed.step : 'the rollback check'} (${copies.method} ${copy.name}, ${where}): ${passed} of ${STEP_COUNT} steps passed.`,
        steps: STEP_COUNT,
        passed,
        failedStep: failed?.step ?? null,
      },
      copy: copyReport,
      v1Restored,
      steps,
      estimate: v1.estimate,
    };
  };

  /** Keeps the copy (closing this service's connections to it) or drops it: what the report then says of it. */
  const release = async (): Promise<RehearsalReport['copy']> => {
    if (keep) {
      await copy.db.close().catch(() => undefined); // the copy stays; this service's connections to it do not
      return copyFields(false);
    }
    const dropError = await copy.drop().then(
      () => undefined,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    );
    return copyFields(dropError === undefined, dropError);
  };

  try {
    await runSteps(deps, copy, input, ctx, steps, v1);
  } catch (error) {
    // Cancelled (or the store failed): the copy goes first, then the failed report keeps the steps
    // so far and says whether the drop worked.
    ctx.checkpoint(outcome(await release()));
    throw error;
  }
  return outcome(await release());
}

const STEP_COUNT = 6;

const sameRows = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

async function fingerprintOf(db: Database): Promise<Record<string, string> | null> {
  return queryOne(db, v1FingerprintSql()).then(
    (row) => ({ servers: row.servers, tools: row.tools }),
    () => null,
  );
}

/** What the rehearsal measures on its copy beside the steps: v1 before and after, /preflight's estimate against the migration. */
interface Fingerprints {
  before: Record<string, string> | null;
  after: Record<string, string> | null;
  estimate: Estimated;
}
type Estimated = NonNullable<RehearsalReport['estimate']> | null;

/**
 * /preflight's estimate beside what the copy's migration measured: how far /preflight can be
 * trusted on this database.
 */
export function compareWithEstimate(
  migration: MigrationEstimate,
  measured: { durationMs: number; v2SizeBytes: number | null } | null,
): NonNullable<Estimated> {
  const expected = migration.durationMs;
  const sizeAfter = migration.v2SizeBytes?.totalAfter;
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  return {
    migration,
    measured,
    differences: measured
      ? {
          durationRatio: expected && expected.expected > 0 ? ratio(measured.durationMs, expected.expected) : null,
          withinInterval: expected ? measured.durationMs >= expected.low && measured.durationMs <= expected.high : null,
          sizeRatio: sizeAfter && measured.v2SizeBytes !== null ? ratio(measured.v2SizeBytes, sizeAfter) : null,
        }
      : null,
  };
}

/** /preflight's estimate, taken on the copy (its sample is rolled back); its failure is reported, not the rehearsal's. */
async function estimateOn(db: Database, target: AppDeps['target']): Promise<MigrationEstimate | string> {
  return estimateMigration(db, {
    sampleServers: SAMPLE_SERVERS_DEFAULT,
    pricing: pricingFor(db, {}, target),
  }).catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
}

async function v2SizeOf(db: Database): Promise<number | null> {
  return queryRows(db, tableSizesSql(['resources', 'capabilities'])).then(
    (rows) => rows.reduce((sum, r) => sum + Number(r.bytes ?? 0), 0),
    () => null,
  );
}

/** The steps, in order; a step that throws, or that later steps need and that failed, ends them. */
async function runSteps(
  deps: Pick<AppDeps, 'store' | 'target'>,
  copy: DatabaseCopy,
  input: RehearseInput,
  ctx: OperationContext<RehearsalReport>,
  steps: Entry[],
  v1: Fingerprints,
): Promise<void> {
  const db = copy.db;
  const step = async <R extends Report>(
    name: RehearsalStep,
    kind: ReportKind,
    request: Record<string, unknown>,
    work: (stepCtx: OperationContext<R>) => Promise<Outcome<R>>,
    passes: (report: Outcome<R>) => boolean,
  ): Promise<Outcome<R> | null> => {
    ctx.throwIfCancelled();
    ctx.progress({ done: steps.length, total: STEP_COUNT });
    const startedAt = Date.now();
    const id = newReportId(startedAt);
    let result: Outcome<R>;
    try {
      result = await work(stepContext<R>(ctx, name, id));
    } catch (error) {
      if (isServiceError(error, 'cancelled')) throw error;
      steps.push({
        step: name,
        status: 'failed',
        passed: false,
        reportId: null,
        durationMs: Date.now() - startedAt,
        summary: null,
        error: {
          kind: isServiceError(error) ? error.kind : 'internal-error',
          detail: error instanceof Error ? error.message : String(error),
        },
      });
      ctx.checkpoint({ steps });
      return null;
    }
    const finishedAt = Date.now();
    const report = {
      id,
      kind,
      createdAt: new Date(startedAt).toISOString(),
      finishedAt: new Date(finishedAt).toISOString(),
      durationMs: finishedAt - startedAt,
      actor: `rehearsal ${ctx.runId}`,
      request,
      ...result,
      rehearsal: { id: ctx.runId, step: name, copy: copy.name },
    } as unknown as Report;
    // Stored under its own id, so /reports/{id} shows it; its kind is the step's (`migration`, ...).
    await deps.store.put(report);
    steps.push({
      step: name,
      status: report.status,
      passed: passes(result),
      reportId: id,
      durationMs: finishedAt - startedAt,
      summary: report.summary,
      report,
    });
    ctx.checkpoint({ steps });
    return result;
  };

  v1.before = await fingerprintOf(db);
  const estimate = await estimateOn(db, deps.target);
  if (typeof estimate === 'string')
    v1.estimate = { migration: null, error: estimate, measured: null, differences: null };
  else v1.estimate = compareWithEstimate(estimate, null);
  ctx.throwIfCancelled();
  const migrateInput = { dryRun: false, parallelism: MIGRATE_DEFAULTS.parallelism };
  const migrated = await step(
    'migrate',
    'migration',
    migrateInput,
    async (c) => (await applyServiceMigrations(db), migrate(db, migrateInput, c as never)),
    (r) => r.status === 'succeeded',
  );
  if (!migrated || migrated.status !== 'succeeded') return;
  if (typeof estimate !== 'string')
    v1.estimate = compareWithEstimate(estimate, {
      durationMs: steps.at(-1)!.durationMs ?? 0,
      v2SizeBytes: await v2SizeOf(db),
    });

  const validateInput = { mode: 'full' as const, sampleSize: 10 };
  await step('validate', 'validation', validateInput, (c) => validate(db, validateInput, c as never), passedValidation);

  const benchmarkInput = {
    patterns: PATTERN_CATALOGUE.map((p) => p.name),
    iterations: input.iterations,
    warmup: input.warmup,
    params: benchmarkParamsSchema.parse({}),
    statementTimeoutMs: 30_000,
  };
  await step(
    'benchmark',
    'benchmark',
    benchmarkInput,
    (c) => benchmark(db, benchmarkInput, null, c as never),
    (r) => r.status === 'succeeded',
  );

  // As a real rollback: a dry run first, and the run on its planId.
  const planInput = { dryRun: true, backportChanges: false, parallelism: ROLLBACK_DEFAULTS.parallelism };
  const plan = await step(
    'rollback-plan',
    'rollback',
    planInput,
    (c) => rollback(db, planInput, c as never),
    (r) => r.status === 'succeeded' && typeof (r as { planId?: unknown }).planId === 'string',
  );
  const planId = (plan as { planId?: string | null } | null)?.planId;
  if (!plan || !planId) return;
  const rollbackInput = { ...planInput, dryRun: false, planId };
  const rolledBack = await step(
    'rollback',
    'rollback',
    rollbackInput,
    (c) => rollback(db, rollbackInput, c as never),
    (r) => r.status === 'succeeded',
  );
  if (!rolledBack) return;
  v1.after = await fingerprintOf(db);

  const afterInput = { mode: 'quick' as const, sampleSize: 10 };
  await step(
    'validate-after-rollback',
    'validation',
    afterInput,
    (c) => validate(db, afterInput, c as never),
    passedValidation,
  );
  ctx.progress({ done: steps.length, total: STEP_COUNT });
}

const passedValidation = (r: Outcome<Report>) => (r as { exitCode?: number }).exitCode === 0;
