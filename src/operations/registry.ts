import type { ReportId } from '../reports/ids.js';
import type { Outcome, Report, ReportKind } from '../reports/schemas.js';
import { benchmark, type BenchmarkInput } from './benchmark.js';
import type { AppDeps } from './deps.js';
import { migrate, type MigrateInput } from './migrate.js';
import { optimize, type OptimizeInput } from './optimize/index.js';
import { rehearse, type RehearseInput } from './rehearse.js';
import { preflight, type PreflightInput } from './preflight/index.js';
import { rollback, type RollbackInput } from './rollback/index.js';
import { restore, type RestoreInput } from './archive/restore.js';
import type { RollbackReport } from '../reports/rollback.js';
import { ServiceError } from '../errors.js';
import type { OperationContext } from './runner.js';
import { isChanging } from './runs.js';
import { validate, type ValidateInput } from './validate.js';

/**
 * Each operation by its report kind, from its validated request (the report's `request`): what
 * a door starts and what a Workflow, given only the kind and the request, runs again.
 */
export function operationFor(
  kind: ReportKind,
  request: Record<string, unknown>,
  deps: AppDeps,
): (ctx: OperationContext<Report>) => Promise<Outcome<Report>> {
  const db = isChanging(kind, request) ? (deps.changes ?? deps.db) : deps.db;
  const as = <I>() => request as unknown as I;
  switch (kind) {
    case 'migration':
      return (ctx) => migrate(db, as<MigrateInput>(), ctx as never);
    case 'rollback':
      return (ctx) => rollback(db, as<RollbackInput>(), ctx as never, deps.store);
    case 'validation':
      return (ctx) => validate(db, as<ValidateInput>(), ctx as never);
    case 'optimization':
      return (ctx) => optimize(db, as<OptimizeInput>(), ctx as never);
    case 'rehearsal':
      // Changes nothing on the database (its copy's): it reads the lease there, and its steps run on the copy.
      return (ctx) => rehearse(deps, as<RehearseInput>(), ctx as never);
    case 'preflight':
      return (ctx) => preflight(db, as<PreflightInput>(), ctx as never, deps.target);
    case 'restore':
      return async (ctx) => {
        const input = as<RestoreInput>();
        // The door checked the rollback report before the run started; a Workflow reads it again.
        const report = await deps.store.get(input.rollbackReportId as ReportId);
        if (report?.kind !== 'rollback')
          throw new ServiceError('schema-conflict', `No rollback report has the id ${input.rollbackReportId}.`);
        return restore(db, input, report as unknown as RollbackReport, deps.store, ctx as never);
      };
    case 'benchmark':
      return async (ctx) => {
        const input = as<BenchmarkInput>();
        // The door checked the baseline before the run started; a Workflow reads it again.
        const baseline = input.baselineReportId ? await deps.store.get(input.baselineReportId as ReportId) : null;
        return benchmark(db, input, baseline, ctx as never);
      };
  }
}
