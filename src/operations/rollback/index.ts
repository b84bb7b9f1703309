import type { Database } from '../../adapters/db/types.js';
import type { RollbackReport } from '../../reports/rollback.js';
import type { ReportStore } from '../../reports/store.js';
import type { Outcome } from '../../reports/schemas.js';
import type { OperationContext } from '../runner.js';
import type { RollbackInput } from './context.js';
import { planRollback } from './plan.js';
import { runRollback } from './run.js';

/**
 * POST /rollback: removes the v1-origin MCP resources and their capabilities, writing rows
 * born in v2 back into v1 first and archiving every removed row in the same transaction as
 * its delete. A dry run reads only and returns the plan with its planId (plan.ts); a run works
 * in batches under the advisory lock (run.ts), each batch in one transaction (batch.ts); both
 * answer a report (report.ts).
 */
export function rollback(
  db: Database,
  input: RollbackInput,
  ctx: OperationContext<RollbackReport>,
  /** Where a run also exports its archive (the report store's objects); none: the archive stays in the database only. */
  exports?: Pick<ReportStore, 'putObject'>,
): Promise<Outcome<RollbackReport>> {
  return input.dryRun ? planRollback(db, input, ctx) : runRollback(db, input, ctx, exports);
}

export { ROLLBACK_DEFAULTS, type RollbackInput } from './context.js';
